"""The Evidence Ledger: append-only, hash-chained SQLModel tables of everything that happened."""

from barecount.ledger.ledger import Ledger, close_ledgers, get_ledger, ledger_at, ledger_url

__all__ = ["Ledger", "close_ledgers", "get_ledger", "ledger_at", "ledger_url"]
