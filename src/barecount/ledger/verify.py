"""Verifying the chain: every lane walked in order, in bounded memory, against its head and
the checkpoints that sealed it.

A lane is read a window of positions at a time (one indexed query per table), so memory
stays flat however long the ledger grows. Each row must sit at the next position of its
lane, name the hash of the row before it, and hash to its own ``hash`` by its format; the
lane must end where its head says, with the head's hash; and every checkpoint in the
database must chain to the one before it and agree with the rows it sealed. A rewrite
that recomputed all of that is caught only by checkpoints kept outside the database
(``barecount ledger verify --against``, barecount.ledger.checkpoint_anchor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from barecount.ledger.base import ChainHead
from barecount.ledger.cells import LOAD_ERRORS, BadCell, first_bad_cell
from barecount.ledger.chain import GENESIS
from barecount.ledger.checkpoint_models import LedgerCheckpoint, checkpoint_hash
from barecount.ledger.hashformat import values_hash
from barecount.ledger.models import CHAINED_TABLES

WINDOW = 5000  # positions of one lane read at a time
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: the rows checked and the first problem, if any."""

    rows: int
    problem: str | None = None
    row_id: int | None = None
    table: str | None = None
    lane: int | None = None
    seq: int | None = None
    lanes: int = 0
    checkpoints: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Broken(Exception):
    def __init__(self, problem: str, *, row: Mapping[str, Any] | None = None, **where: Any):
        super().__init__(problem)
        self.problem = problem
        if row is not None:
            where = {
                "row_id": row["id"],
                "table": row["_table"],
                "lane": row["lane"],
                "seq": row["seq"],
                **where,
            }
        self.where = where


def place(lane: int, seq: int) -> str:
    """How a position is named in messages: 'row 7' in lane 1 (SQLite's only lane, where
    it is also the row's id), 'lane 3 position 7' elsewhere."""
    return f"row {seq}" if lane == 1 else f"lane {lane} position {seq}"


def named(row_id: int, table: str, lane: int, seq: int) -> str:
    """A row as messages name it: 'row 7 in publication', with its place when the id is
    not its position ('row 7 in publication (lane 3 position 2)')."""
    where = "" if lane == 1 and row_id == seq else f" ({place(lane, seq)})"
    return f"row {row_id} in {table}{where}"


def verify(
    session: Session,
    *,
    since: LedgerCheckpoint | None = None,
    progress: Progress | None = None,
) -> Verification:
    """Walk every lane and the checkpoints; report the first row that does not hold.

    ``since``: a checkpoint verified before (against a published copy); lanes are walked
    from the positions it sealed. A cell that does not fit its column (SQLite stores anything
    anywhere) is reported with its row, table and column.
    """
    heads = {h.id: h for h in session.execute(select(ChainHead)).scalars()}
    checkpoints = list(
        session.execute(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id)).scalars()
    )
    count = _Count(progress)
    sqlite = session.get_bind().dialect.name == "sqlite"
    try:
        sealed = _checkpoint_claims(checkpoints)
        bad = first_bad_cell(session, CHAINED_TABLES)
        start = since.heads if since is not None else {}
        for lane in sorted(heads):
            seq, prev = start.get(str(lane), (0, GENESIS))
            limit = bad.row_id if bad is not None and lane == 1 and bad.row_id else None
            claims = sealed.get(lane, {})
            _walk_lane(session, heads[lane], seq, prev, claims, limit, count, bad and bad.table)
            if limit is not None:
                raise _Broken(
                    f"{bad.describe()}; it was changed after it was written",
                    row_id=bad.row_id,
                    table=bad.table,
                    lane=1,
                    seq=bad.row_id,
                )
    except _Broken as broken:
        where = broken.where
        if sqlite and where.get("row_id") is None and where.get("lane") == 1:
            where = {**where, "row_id": where.get("seq")}  # lane 1's ids are its positions
        return Verification(
            rows=count.rows,
            problem=broken.problem,
            lanes=len(heads),
            checkpoints=len(checkpoints),
            **where,
        )
    except _Unreadable as unreadable:
        return Verification(rows=count.rows, problem=unreadable.problem, table=unreadable.table)
    finally:
        count.flush()
    return Verification(rows=count.rows, lanes=len(heads), checkpoints=len(checkpoints))


class _Count:
    """Rows checked so far, reported to ``progress`` every 10,000."""

    def __init__(self, progress: Progress | None):
        self.rows, self._reported, self._progress = 0, 0, progress

    def add(self) -> None:
        self.rows += 1
        if self._progress is not None and self.rows - self._reported >= 10_000:
            self.flush()

    def flush(self) -> None:
        if self._progress is not None and self.rows > self._reported:
            self._progress(self.rows - self._reported)
            self._reported = self.rows


class _Unreadable(Exception):
    def __init__(self, table: str, exc: Exception):
        super().__init__(table)
        self.table = table
        self.problem = f"cannot read table {table}: {exc}"


def _checkpoint_claims(
    checkpoints: list[LedgerCheckpoint],
) -> dict[int, dict[int, tuple[str, int]]]:
    """Lane -> position -> (hash, checkpoint) the checkpoints sealed; the checkpoints' own
    chain checked on the way."""
    claims: dict[int, dict[int, tuple[str, int]]] = {}
    prev = GENESIS
    for number, checkpoint in enumerate(checkpoints, start=1):
        if checkpoint.id != number:
            raise _Broken(
                f"checkpoint {number} is missing (deleted?); the checkpoints jump "
                f"to {checkpoint.id}"
            )
        if checkpoint.prev_hash != prev or checkpoint_hash(checkpoint) != checkpoint.hash:
            raise _Broken(
                f"checkpoint {number} was changed after it was written: it does not "
                "match its hash or the checkpoint before it"
            )
        for lane, (seq, digest) in (checkpoint.heads or {}).items():
            claims.setdefault(int(lane), {})[int(seq)] = (digest, number)
        prev = checkpoint.hash
    return claims


def _walk_lane(session, head, seq, prev, sealed, limit, count: _Count, limit_table="") -> None:
    """Check lane ``head.id`` from the position after ``seq`` (whose hash was ``prev``) to
    its end (or to ``limit``, a position not to read: a malformed cell)."""
    lane = head.id
    for row in _lane_rows(session, lane, seq + 1, limit, head.last_seq):
        seq += 1
        if row["seq"] != seq:
            raise _Broken(
                f"{place(lane, seq)} is missing (deleted?); the chain jumps to "
                f"{place(lane, row['seq'])} in {row['_table']}",
                row_id=None,
                table=row["_table"],
                lane=lane,
                seq=seq,
            )
        _check_row(row, prev, sealed)
        prev = row["hash"]
        count.add()
    if limit is not None and seq != limit - 1:
        raise _Broken(
            f"{place(lane, seq + 1)} is missing (deleted?); the chain jumps to "
            f"{place(lane, limit)} in {limit_table}",
            lane=lane,
            seq=seq + 1,
        )
    if limit is None:
        _check_end(lane, seq, prev, head, sealed)


def _check_row(row: Mapping[str, Any], prev: str, sealed: Mapping[int, tuple[str, int]]) -> None:
    table = row["_table"]
    at = named(row["id"], table, row["lane"], row["seq"])
    if row["prev_hash"] != prev:
        raise _Broken(
            f"{at} does not follow the row before it: its prev_hash differs from that row's hash",
            row=row,
        )
    try:
        recomputed = values_hash(table, row)
    except KeyError:
        raise _Broken(
            f"{at} has hash format {row['hash_format']}, which this "
            "release does not know (written by a newer barecount?)",
            row=row,
        ) from None
    if recomputed != row["hash"]:
        raise _Broken(
            f"{at} was changed after it was written: its content does not match its hash",
            row=row,
        )
    claim = sealed.get(row["seq"])
    if claim is not None and claim[0] != row["hash"]:
        raise _Broken(
            f"{at} was rewritten: checkpoint {claim[1]} sealed another hash at that position",
            row=row,
        )


def _check_end(lane: int, seq: int, last_hash: str, head: ChainHead, sealed) -> None:
    beyond = [s for s in sealed if s > seq]
    if beyond:
        number = sealed[max(beyond)][1]
        raise _Broken(
            f"lane {lane} ends at row {seq} but checkpoint {number} sealed row "
            f"{max(beyond)} (rows deleted from the end?)",
            lane=lane,
            seq=seq + 1,
        )
    if head.last_seq > seq:
        raise _Broken(
            f"the chain ends at {place(lane, seq)} but {place(lane, head.last_seq)} "
            "was written (rows deleted from the end?)",
            lane=lane,
            seq=seq + 1,
        )
    if head.last_seq < seq:
        raise _Broken(
            f"{place(lane, seq)} was added without the chain's head (inserted after the end?)",
            lane=lane,
            seq=seq,
        )
    if seq and head.last_hash != last_hash:
        raise _Broken(
            f"{place(lane, seq)} was rewritten: the chain's head holds another hash",
            lane=lane,
            seq=seq,
        )


def _lane_rows(
    session: Session, lane: int, first: int, limit: int | None, end: int
) -> Iterator[dict]:
    """The rows of one lane from position ``first`` on, in order, a window at a time: up to
    ``limit`` (excluded) if given, else past the head's position ``end`` until a window is
    empty (rows added after the head are read too)."""
    while limit is None or first < limit:
        last = first + WINDOW if limit is None else min(first + WINDOW, limit)
        window: list[dict] = []
        for table in CHAINED_TABLES:
            columns = table.__table__
            query = select(columns).where(
                columns.c.lane == lane, columns.c.seq >= first, columns.c.seq < last
            )
            try:
                found = session.execute(query).mappings().all()
            except LOAD_ERRORS as exc:
                raise _Unreadable(table.__tablename__, exc) from None
            window.extend({**r, "_table": table.__tablename__} for r in found)
        if not window and first > end:
            return
        window.sort(key=lambda r: r["seq"])
        yield from window
        first = last


__all__ = ["BadCell", "Verification", "place", "verify"]
