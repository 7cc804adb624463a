"""Register with: prefect block register --file blocks/ledger_database.py"""

from barecount.blocks import LedgerDatabase

__all__ = ["LedgerDatabase"]
