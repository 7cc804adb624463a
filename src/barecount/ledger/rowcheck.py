"""Checking the rows a report shows, as it reads them: each against its hash and its place in
the chain, through ``chain.row_hash`` (this module hashes nothing itself)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from barecount.ledger.chain import GENESIS, Verification, row_hash
from barecount.ledger.models import CHAINED_TABLES, Chained, ChainHead


def verify_rows(session: Session, rows: list[Chained]) -> Verification:
    """Check rows read for a report: each against its hash and its place in the chain (the
    row before it, and the row after it or the chain's head). The first that does not hold,
    by row id, is the problem.

    Reads only the rows next to them, so a report over a large ledger checks what it shows
    without walking the whole chain (``chain.verify`` does that).
    """
    shown = {row.id: row for row in rows if row.id is not None}
    near = {i + d for i in shown for d in (-1, 1) if i + d > 0} - set(shown)
    around = dict(shown)
    for table in CHAINED_TABLES:
        if near:
            query = select(table).where(table.id.in_(sorted(near)))
            around.update((r.id, r) for r in session.execute(query).scalars())
    head = session.execute(select(ChainHead).where(ChainHead.id == 1)).scalar_one_or_none()
    for checked, row_id in enumerate(sorted(shown)):
        row = shown[row_id]
        problem = _place_problem(around, row, head)
        if problem is not None:
            table = type(row).__tablename__
            return Verification(rows=checked, problem=problem, row_id=row.id, table=table)
    return Verification(rows=len(shown))


def _place_problem(around: dict[int, Chained], row: Chained, head: ChainHead | None) -> str | None:
    """Why ``row`` does not hold: its hash, or its links to the rows before and after it."""
    name, at = type(row).__tablename__, row.id
    if row_hash(row) != row.hash:
        return (
            f"row {at} in {name} was changed after it was written: its content does not "
            "match its hash"
        )
    before = GENESIS if at == 1 else getattr(around.get(at - 1), "hash", None)
    if before is None:
        return f"row {at - 1} before row {at} in {name} is missing (deleted?)"
    if row.prev_hash != before:
        return (
            f"row {at} in {name} does not follow row {at - 1}: its prev_hash differs from "
            "that row's hash"
        )
    after = around.get(at + 1)
    if after is None:
        last_id, last_hash = (head.last_id, head.last_hash) if head else (0, "")
        if last_id > at:
            return f"row {at + 1} after row {at} in {name} is missing (deleted?)"
        if last_id == at and last_hash != row.hash:
            return f"row {at} in {name} was rewritten: the chain's head holds another hash"
        return None
    if after.prev_hash != row.hash:
        return (
            f"row {at} in {name} was rewritten: row {at + 1} ({type(after).__tablename__}) "
            "follows a row with another hash"
        )
    return None
