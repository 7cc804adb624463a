"""Appending rows to the hash chain without one global lock.

The chain has lanes: each lane is a hash chain of its own (``lane``, ``seq`` 1, 2, ...,
each row naming the hash of the row before it in its lane). A transaction that appends takes
one lane for itself, any lane no other transaction holds (PostgreSQL ``FOR UPDATE SKIP
LOCKED``), so concurrent writers do not queue behind one row. Checkpoints
(barecount.ledger.checkpoints) seal every lane's head into one global, signed chain: that is
the ledger's total order, and what a rewrite of the database cannot fake.

SQLite has one writer at a time anyway (``BEGIN IMMEDIATE``) and uses lane 1 only; its row
ids are then lane 1's positions. PostgreSQL draws row ids from the sequence ``ledger_row_id``.

Check-then-append logic (publish once, register a contract version once) serializes on a
lock of its own key (``lock_key``), not on the chain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TypeVar

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from barecount.ledger.base import Chained, ChainHead
from barecount.ledger.hashformat import CURRENT, row_hash

GENESIS = "sha256:" + "0" * 64
ROW = TypeVar("ROW", bound=Chained)
ROW_IDS = "ledger_row_id"  # PostgreSQL sequence of row ids (migration 0002)
DEFAULT_LANES = 16


def now() -> datetime:
    """Timestamps in the ledger: aware, UTC."""
    return datetime.now(UTC)


def lanes_of(session: Session) -> int:
    """How many lanes this session's appends may use: 1 on SQLite (one writer at a time),
    else the ledger's setting (``Ledger(lanes=...)``, BARECOUNT_LEDGER_LANES)."""
    if session.get_bind().dialect.name == "sqlite":
        return 1
    return max(1, int(session.info.get("lanes", 1)))


def ensure_lanes(engine: Engine, lanes: int) -> None:
    """Create the heads of lanes 1..``lanes`` that do not exist yet (idempotent)."""
    if engine.dialect.name == "sqlite":
        lanes = 1
    with engine.begin() as conn:
        have = set(conn.execute(select(ChainHead.id)).scalars())
        missing = [n for n in range(1, lanes + 1) if n not in have]
        if not missing:
            return
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            rows = [{"id": n, "last_seq": 0, "last_hash": GENESIS} for n in missing]
            conn.execute(pg_insert(ChainHead).values(rows).on_conflict_do_nothing())
        else:
            for n in missing:
                conn.execute(insert(ChainHead).values(id=n, last_seq=0, last_hash=GENESIS))


@dataclass
class _Lane:
    """The lane a transaction holds: its number and where its chain ends now."""

    id: int
    last_seq: int
    last_hash: str


def _take_lane(session: Session) -> tuple[_Lane, int | None]:
    """The lane this transaction appends to, locked until it ends, taken once per
    transaction; with it, on PostgreSQL, the first row's id (fetched in the same round trip)."""
    held = session.info.get("chain_lane")
    if held is not None and session.in_transaction() and held[0] is session.get_transaction():
        return held[1], None
    conn = session.connection()
    if conn.dialect.name == "sqlite":  # BEGIN IMMEDIATE holds the lock already
        found = conn.execute(_SQLITE_HEAD).one()
        lane, row_id = _Lane(*found), None
    else:
        lanes = lanes_of(session)
        own = os.getpid() % lanes + 1
        found = None
        if lanes > 1:
            found = conn.execute(_FREE_LANE, {"lanes": lanes, "own": own}).one_or_none()
        if found is None:  # one lane, or every lane busy: wait for this process's own
            found = conn.execute(_OWN_LANE, {"own": own}).one()
        lane, row_id = _Lane(*found[:3]), found[3]
    session.info["chain_lane"] = (session.get_transaction(), lane)
    return lane, row_id


# PostgreSQL: lock a lane and draw the row id in one statement (one round trip). The lane is
# any one no other transaction holds, this process's own first, then the next ones round.
_FREE_LANE = text(
    "WITH lane AS (SELECT id, last_seq, last_hash FROM ledger_head WHERE id <= :lanes "
    "ORDER BY (id - :own + :lanes) % :lanes LIMIT 1 FOR UPDATE SKIP LOCKED) "
    f"SELECT id, last_seq, last_hash, nextval('{ROW_IDS}') FROM lane"
)
_OWN_LANE = text(
    "WITH lane AS (SELECT id, last_seq, last_hash FROM ledger_head WHERE id = :own FOR UPDATE) "
    f"SELECT id, last_seq, last_hash, nextval('{ROW_IDS}') FROM lane"
)
_SQLITE_HEAD = text("SELECT id, last_seq, last_hash FROM ledger_head WHERE id = 1")
_NEXTVAL = text(f"SELECT nextval('{ROW_IDS}')")
_HEAD = ChainHead.__table__
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == bindparam("head_lane"))
    .values(last_seq=bindparam("head_seq"), last_hash=bindparam("head_hash"))
)


@cache
def _insert(table: Table, postgresql: bool):
    """The row's INSERT (values bound as ``row_<column>``, apart from the head's names); on
    PostgreSQL with the head's UPDATE in the same statement."""
    statement = insert(table).values({c.name: bindparam(f"row_{c.name}") for c in table.columns})
    return statement.add_cte(_MOVE_HEAD.cte("moved_head")) if postgresql else statement


def append(session: Session, row: ROW) -> ROW:
    """Give ``row`` an id and the next place in a lane, hash it and write it. Call inside a
    transaction; every row a transaction appends goes to the same lane.

    Written with Core statements, not the ORM's flush: on PostgreSQL an append is two round
    trips (lane and id, then row and head), which is most of its cost. The returned row is
    not attached to the session; later queries in the transaction see it in the database."""
    head, row_id = _take_lane(session)
    conn = session.connection()
    postgresql = conn.dialect.name == "postgresql"
    if row_id is None:
        row_id = conn.execute(_NEXTVAL).scalar_one() if postgresql else head.last_seq + 1
    row.id = row_id
    row.lane = head.id
    row.seq = head.last_seq + 1
    row.hash_format = CURRENT
    row.recorded_at = row.recorded_at or now()
    row.prev_hash = head.last_hash or GENESIS
    row.hash = ""
    row.hash = row_hash(row)
    table = type(row).__table__
    values = {f"row_{column.name}": getattr(row, column.name) for column in table.columns}
    moved = {"head_lane": head.id, "head_seq": row.seq, "head_hash": row.hash}
    if postgresql:
        conn.execute(_insert(table, True), {**values, **moved})
    else:
        conn.execute(_insert(table, False), values)
        conn.execute(_MOVE_HEAD, moved)
    head.last_seq, head.last_hash = row.seq, row.hash
    return row


def lock_key(session: Session, *parts: str) -> None:
    """Serialize this transaction with every other one that locks the same key (e.g.
    publishing one pipeline's partition), until it ends. On SQLite every writing
    transaction is serialized already."""
    if session.get_bind().dialect.name == "postgresql":
        key = "\x1f".join(parts)
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )
