"""Checkpoints: the heads of every lane at one moment, chained and signed.

Checkpoint ``n`` names each lane's last position and hash (``heads``), the hash of
checkpoint ``n - 1`` (``prev_hash``), and its own hash over both; ``signature`` is an
Ed25519 signature of that hash by a key kept outside the ledger database. The same record
is published outside the database too (barecount.ledger.checkpoints), so a rewrite that
recomputes every hash in the database still disagrees with what was published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from barecount.ledger.hashformat import canonical, digest


class LedgerCheckpoint(SQLModel, table=True):
    __tablename__ = "ledger_checkpoint"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    recorded_at: datetime
    heads: dict[str, Any] = Field(sa_column=Column(JSON))  # "lane" -> [seq, hash]
    rows: int  # rows sealed: the sum of the lanes' positions
    reason: str = Field(default="", max_length=200)  # rows | minutes | backfill N | manual
    prev_hash: str = Field(max_length=80)
    hash: str = Field(max_length=80)
    key_id: str = Field(default="", max_length=80)  # fingerprint of the signing public key
    signature: str = Field(default="", max_length=200)


def checkpoint_hash(checkpoint: LedgerCheckpoint) -> str:
    """The hash a checkpoint's ``hash`` must hold: over everything but hash, key and
    signature, encoded as rows are (barecount.ledger.hashformat)."""
    content = {
        "id": checkpoint.id,
        "recorded_at": canonical(checkpoint.recorded_at),
        "heads": canonical(checkpoint.heads),
        "rows": checkpoint.rows,
        "reason": checkpoint.reason,
        "prev_hash": checkpoint.prev_hash,
    }
    return digest("ledger_checkpoint", content)
