"""Checking the rows a report shows, as it reads them: each against its hash and its place in
its lane, through ``hashformat.row_hash`` (this module hashes nothing itself)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlmodel import Session

from barecount.ledger.chain import GENESIS
from barecount.ledger.hashformat import row_hash
from barecount.ledger.models import CHAINED_TABLES, Chained, ChainHead
from barecount.ledger.verify import Verification, named, place

Place = tuple[int, int]  # (lane, seq)


def verify_rows(session: Session, rows: list[Chained]) -> Verification:
    """Check rows read for a report: each against its hash and its place in its lane (the
    row before it, and the row after it or the lane's head). The first that does not hold,
    by row id, is the problem.

    Reads only the rows next to them, so a report over a large ledger checks what it shows
    without walking the whole chain (``verify.verify`` does that).
    """
    shown = {(row.lane, row.seq): row for row in rows if row.id is not None}
    near = {(lane, seq + d) for lane, seq in shown for d in (-1, 1) if seq + d > 0} - set(shown)
    around: dict[Place, Chained] = dict(shown)
    for table in CHAINED_TABLES:
        if near:
            by_lane = [
                (table.lane == lane) & table.seq.in_(sorted(s for ln, s in near if ln == lane))
                for lane in {ln for ln, _ in near}
            ]
            query = select(table).where(or_(*by_lane))
            around.update(((r.lane, r.seq), r) for r in session.execute(query).scalars())
    lanes = {ln for ln, _ in shown}
    heads = {
        h.id: h for h in session.execute(select(ChainHead).where(ChainHead.id.in_(lanes))).scalars()
    }
    for checked, row in enumerate(sorted(shown.values(), key=lambda r: r.id)):
        problem = _place_problem(around, row, heads.get(row.lane))
        if problem is not None:
            table = type(row).__tablename__
            return Verification(
                rows=checked,
                problem=problem,
                row_id=row.id,
                table=table,
                lane=row.lane,
                seq=row.seq,
            )
    return Verification(rows=len(shown))


def _place_problem(
    around: dict[Place, Chained], row: Chained, head: ChainHead | None
) -> str | None:
    """Why ``row`` does not hold: its hash, or its links to the rows before and after it."""
    name, lane, at = type(row).__tablename__, row.lane, row.seq
    here = named(row.id, name, lane, at)
    before_at, after_at = place(lane, at - 1), place(lane, at + 1)
    if row_hash(row) != row.hash:
        return f"{here} was changed after it was written: its content does not match its hash"
    before = GENESIS if at == 1 else getattr(around.get((lane, at - 1)), "hash", None)
    if before is None:
        return f"{before_at} before {here} is missing (deleted?)"
    if row.prev_hash != before:
        return f"{here} does not follow {before_at}: its prev_hash differs from that row's hash"
    after = around.get((lane, at + 1))
    if after is None:
        last_seq, last_hash = (head.last_seq, head.last_hash) if head else (0, "")
        if last_seq > at:
            return f"{after_at} after {here} is missing (deleted?)"
        if last_seq == at and last_hash != row.hash:
            return f"{here} was rewritten: the chain's head holds another hash"
        return None
    if after.prev_hash != row.hash:
        return (
            f"{here} was rewritten: {after_at} ({type(after).__tablename__}) "
            "follows a row with another hash"
        )
    return None
