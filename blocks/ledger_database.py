"""Register with: prefect block register --file blocks/ledger_database.py"""

from barecount.ledger.block import LedgerDatabase

__all__ = ["LedgerDatabase"]
