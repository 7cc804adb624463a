"""The Evidence Ledger: append-only, hash-chained SQLModel tables of everything that happened."""

from barecount.ledger.ledger import Ledger, close_ledgers, get_ledger, ledger_at

__all__ = ["Ledger", "close_ledgers", "get_ledger", "ledger_at"]
