"""Prefect Block types of BareCount (registered with 'prefect block register --file blocks/...')."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class LedgerDatabase(Block):
    """Where the Evidence Ledger lives. The URL is a secret: it may carry a password."""

    _block_type_name = "BareCount Ledger Database"
    _block_type_slug = "barecount-ledger-database"
    _description = "SQLAlchemy URL of the BareCount Evidence Ledger (SQLite or PostgreSQL)."

    url: SecretStr = Field(
        description="e.g. postgresql+psycopg2://ledger:***@db.internal/ledger or "
        "sqlite:////var/lib/barecount/ledger.db"
    )


def ledger_url_from_block(name: str) -> str:
    """The URL kept in the LedgerDatabase block called ``name``."""
    from barecount.errors import BareCountError

    try:
        block = LedgerDatabase.load(name)
    except ValueError as exc:
        raise BareCountError(
            f"no LedgerDatabase block named {name!r} ({exc}); create it in the Prefect UI or "
            "with LedgerDatabase(url=...).save(name), or unset BARECOUNT_LEDGER_BLOCK"
        ) from None
    return block.url.get_secret_value()
