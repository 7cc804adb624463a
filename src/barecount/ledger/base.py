"""The chain columns every ledger row carries, and the heads of the chain's lanes."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from barecount.ledger.hashformat import CURRENT


class ChainHead(SQLModel, table=True):
    """One lane of the chain and its last row. An append locks one free lane, not the whole
    ledger, so concurrent writers do not queue behind one row (barecount.ledger.chain)."""

    __tablename__ = "ledger_head"

    id: int = Field(default=1, primary_key=True)  # the lane's number, from 1
    last_seq: int = Field(default=0)
    last_hash: str = Field(default="")


class Chained(SQLModel):
    """Columns every ledger row carries.

    ``id`` identifies the row across the ledger (other rows refer to it); ``lane`` and
    ``seq`` are its place in one chain, ``prev_hash`` the hash of the row before it there;
    ``hash_format`` says which fields ``hash`` covers (barecount.ledger.hashformat).
    """

    id: int | None = Field(
        default=None, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    recorded_at: datetime | None = Field(default=None, index=True)
    prev_hash: str = Field(default="", max_length=80)
    hash: str = Field(default="", max_length=80)
    lane: int = Field(default=1)
    seq: int = Field(default=0)
    hash_format: int = Field(default=CURRENT)
