"""The hash chain: appending rows in one global order, and verifying nobody edited them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlmodel import Session

from barecount.ledger.cells import LOAD_ERRORS, BadCell, first_bad_cell
from barecount.ledger.engine import GENESIS_HASH
from barecount.ledger.models import CHAINED_TABLES, Chained, ChainHead

GENESIS = GENESIS_HASH
ROW = TypeVar("ROW", bound=Chained)


def now() -> datetime:
    """Timestamps in the ledger: aware, UTC."""
    return datetime.now(UTC)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return value  # json writes 3.0 the same on both databases
    return value


def row_hash(row: Chained) -> str:
    """sha256 over the table name, the previous hash and every column but ``hash``."""
    content = {
        name: _canonical(getattr(row, name))
        for name in sorted(type(row).model_fields)
        if name != "hash"
    }
    payload = json.dumps(
        {"table": type(row).__tablename__, "row": content},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


def _head(session: Session) -> ChainHead:
    """The chain head, locked for this transaction; read once per transaction."""
    held = session.info.get("chain_head")
    if held is not None and session.in_transaction() and held[0] is session.get_transaction():
        return held[1]
    query = select(ChainHead).where(ChainHead.id == 1)
    if session.get_bind().dialect.name != "sqlite":  # SQLite locks at BEGIN IMMEDIATE
        query = query.with_for_update()
    head = session.execute(query).scalar_one()  # created with the schema (ledger.engine)
    session.info["chain_head"] = (session.get_transaction(), head)
    return head


def lock_chain(session: Session) -> None:
    """Serialize this transaction with every other ledger writer (check-then-append)."""
    _head(session)


def append(session: Session, row: ROW) -> ROW:
    """Give ``row`` the next place in the chain and add it. Call inside a transaction."""
    head = _head(session)
    row.id = head.last_id + 1
    row.recorded_at = row.recorded_at or now()
    row.prev_hash = head.last_hash or GENESIS
    row.hash = ""
    row.hash = row_hash(row)
    session.add(row)
    head.last_id = row.id
    head.last_hash = row.hash
    session.add(head)
    session.flush()
    return row


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: the rows checked and the first problem, if any."""

    rows: int
    problem: str | None = None
    row_id: int | None = None
    table: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(session: Session) -> Verification:
    """Walk the chain in order and report the first row that does not match.

    A cell that does not fit its column (SQLite stores anything anywhere) is reported with
    its row, table and column.
    """
    rows, bad = _load_rows(session)
    if bad is not None and bad.row_id is None:
        return Verification(rows=0, problem=bad.problem, table=bad.table)
    expected_prev = GENESIS
    for position, row in enumerate(rows, start=1):
        found = _row_problem(row, position, expected_prev)
        if found is not None:
            return found
        expected_prev = row.hash
    if bad is not None:
        if bad.row_id != len(rows) + 1:
            return _missing(len(rows) + 1, bad.row_id, bad.table, len(rows))
        problem = f"{bad.describe()}; it was changed after it was written"
        return Verification(rows=len(rows), problem=problem, row_id=bad.row_id, table=bad.table)
    head = session.execute(select(ChainHead).where(ChainHead.id == 1)).scalar_one_or_none()
    last_id = head.last_id if head else 0
    if last_id != len(rows):
        return Verification(
            rows=len(rows),
            problem=f"the chain ends at row {len(rows)} but row {last_id} was written "
            "(rows deleted from the end?)",
            row_id=len(rows) + 1,
        )
    return Verification(rows=len(rows))


def _load_rows(session: Session) -> tuple[list[Chained], BadCell | None]:
    """The chained rows in chain order, up to the first row with a malformed cell (returned
    too). A table that cannot be read for another reason comes back as a BadCell without a
    row id."""
    bad = first_bad_cell(session, CHAINED_TABLES)
    below = None if bad is None else bad.row_id
    rows: list[Chained] = []
    for table in CHAINED_TABLES:
        query = select(table) if below is None else select(table).where(table.id < below)
        try:
            rows.extend(session.execute(query).scalars())
        except LOAD_ERRORS as exc:  # a value the cell check let through: name the table
            name = table.__tablename__
            return [], BadCell(name, None, "", f"cannot read table {name}: {exc}")
    rows.sort(key=lambda r: r.id or 0)
    return rows, bad


def _row_problem(row: Chained, position: int, expected_prev: str) -> Verification | None:
    """Why ``row``, at ``position`` after a row hashed ``expected_prev``, breaks the chain."""
    table = type(row).__tablename__
    if row.id != position:
        return _missing(position, row.id, table, position - 1)
    if row.prev_hash != expected_prev:
        problem = (
            f"row {row.id} in {table} does not follow row {row.id - 1}: its prev_hash differs "
            "from that row's hash"
        )
    elif row_hash(row) != row.hash:
        problem = (
            f"row {row.id} in {table} was changed after it was written: its content does not "
            "match its hash"
        )
    else:
        return None
    return Verification(rows=position - 1, problem=problem, row_id=row.id, table=table)


def _missing(position: int, found: int, table: str, rows: int) -> Verification:
    return Verification(
        rows=rows,
        problem=f"row {position} is missing (deleted?); the chain jumps to row {found} in {table}",
        row_id=position,
        table=table,
    )
