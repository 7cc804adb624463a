"""The ledger rows OpenLineage events are built from, read in batches of pipeline runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from barecount.ledger.evidence_models import DecisionSignature
from barecount.ledger.models import (
    Decision,
    GateCheck,
    HoldEvent,
    PipelineRun,
    Publication,
    StageAttempt,
)

BATCH = 500


@dataclass
class CheckRows:
    """A gate check, its hold's latest status, and the decisions on it with signatures."""

    check: GateCheck
    status: str | None = None
    decisions: list[Decision] = field(default_factory=list)
    signatures: dict[int, DecisionSignature] = field(default_factory=dict)


@dataclass
class RunRows:
    """One pipeline run: its attempts, gate checks, and the upstream publications it read."""

    run: PipelineRun
    attempts: list[StageAttempt] = field(default_factory=list)
    checks: list[CheckRows] = field(default_factory=list)
    upstream: dict[str, list[Publication]] = field(default_factory=dict)  # token -> rows


def _in(session: Session, table, column, values: list) -> list:
    found = []
    for start in range(0, len(values), BATCH):
        chunk = values[start : start + BATCH]
        query = select(table).where(column.in_(chunk)).order_by(table.id)
        found.extend(session.execute(query).scalars())
    return found


def load_runs(session: Session, runs: list[PipelineRun]) -> list[RunRows]:
    """Everything the events of ``runs`` need, in a handful of queries."""
    ids = [r.id for r in runs]
    found = {r.id: RunRows(r) for r in runs}
    for attempt in _in(session, StageAttempt, StageAttempt.run_id, ids):
        found[attempt.run_id].attempts.append(attempt)
    checks = {c.id: CheckRows(c) for c in _in(session, GateCheck, GateCheck.run_id, ids)}
    for event in _in(session, HoldEvent, HoldEvent.check_id, list(checks)):
        checks[event.check_id].status = event.status
    decisions = _in(session, Decision, Decision.check_id, list(checks))
    for decision in decisions:
        checks[decision.check_id].decisions.append(decision)
    signed = _in(
        session, DecisionSignature, DecisionSignature.decision_id, [d.id for d in decisions]
    )
    owner = {d.id: d.check_id for d in decisions}
    for signature in signed:
        checks[owner[signature.decision_id]].signatures[signature.decision_id] = signature
    for item in checks.values():
        found[item.check.run_id].checks.append(item)
    tokens = sorted(
        {
            token
            for rows in found.values()
            for a in rows.attempts
            for token in ((a.lineage or {}).get("upstream_pipelines") or {}).values()
            if token
        }
    )
    published: dict[str, list[Publication]] = {}
    for row in _in(session, Publication, Publication.token, tokens):
        published.setdefault(row.token, []).append(row)
    for rows in found.values():
        for a in rows.attempts:
            for token in ((a.lineage or {}).get("upstream_pipelines") or {}).values():
                if token:
                    rows.upstream[token] = published.get(token, [])
    return [found[i] for i in ids]


def runs_since(session: Session, since: datetime, *, batch: int = BATCH) -> Iterator[list[RunRows]]:
    """Pipeline runs recorded at or after ``since``, oldest first, a batch at a time."""
    after = 0
    while True:
        query = (
            select(PipelineRun)
            .where(PipelineRun.recorded_at >= since, PipelineRun.id > after)
            .order_by(PipelineRun.id)
            .limit(batch)
        )
        runs = list(session.execute(query).scalars())
        if not runs:
            return
        yield load_runs(session, runs)
        after = runs[-1].id


def runs_by_id(session: Session, ids: list[int]) -> list[RunRows]:
    runs = _in(session, PipelineRun, PipelineRun.id, sorted(set(ids)))
    return load_runs(session, runs)
