"""The chain columns every ledger row carries, and the chain's head."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class ChainHead(SQLModel, table=True):
    """The last row of the chain; locked while a row is appended, so appends serialize."""

    __tablename__ = "ledger_head"

    id: int = Field(default=1, primary_key=True)
    last_id: int = Field(default=0)
    last_hash: str = Field(default="")


class Chained(SQLModel):
    """Columns every ledger row carries."""

    id: int | None = Field(
        default=None, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    recorded_at: datetime | None = Field(default=None, index=True)
    prev_hash: str = Field(default="", max_length=80)
    hash: str = Field(default="", max_length=80)
