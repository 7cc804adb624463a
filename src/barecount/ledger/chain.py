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
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import insert, select, text
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


def _take_lane(session: Session) -> ChainHead:
    """The lane this transaction appends to, locked until it ends; taken once per transaction."""
    held = session.info.get("chain_lane")
    if held is not None and session.in_transaction() and held[0] is session.get_transaction():
        return held[1]
    lanes = lanes_of(session)
    if session.get_bind().dialect.name == "sqlite":
        query = select(ChainHead).where(ChainHead.id == 1)  # BEGIN IMMEDIATE holds the lock
        head = session.execute(query).scalar_one()
    elif lanes == 1:
        head = session.execute(
            select(ChainHead).where(ChainHead.id == 1).with_for_update()
        ).scalar_one()
    else:
        head = _free_lane(session, lanes)
    session.info["chain_lane"] = (session.get_transaction(), head)
    return head


def _free_lane(session: Session, lanes: int) -> ChainHead:
    """Any lane no other transaction holds, this process's own lane first; when every lane
    is busy, wait for this process's own."""
    own = os.getpid() % lanes + 1
    order = (ChainHead.id - own + lanes) % lanes  # own first, then the next ones round
    query = (
        select(ChainHead)
        .where(ChainHead.id <= lanes)
        .order_by(order)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    head = session.execute(query).scalar_one_or_none()
    if head is None:
        query = select(ChainHead).where(ChainHead.id == own).with_for_update()
        head = session.execute(query).scalar_one()
    return head


def _next_id(session: Session, head: ChainHead) -> int:
    if session.get_bind().dialect.name == "sqlite":
        return head.last_seq + 1
    return session.execute(text(f"SELECT nextval('{ROW_IDS}')")).scalar_one()


def append(session: Session, row: ROW) -> ROW:
    """Give ``row`` an id and the next place in a lane, hash it and add it. Call inside a
    transaction; every row a transaction appends goes to the same lane."""
    head = _take_lane(session)
    row.id = _next_id(session, head)
    row.lane = head.id
    row.seq = head.last_seq + 1
    row.hash_format = CURRENT
    row.recorded_at = row.recorded_at or now()
    row.prev_hash = head.last_hash or GENESIS
    row.hash = ""
    row.hash = row_hash(row)
    session.add(row)
    head.last_seq = row.seq
    head.last_hash = row.hash
    session.add(head)
    session.flush()
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
