"""Views derived from the ledger once, for the CLI, the console and alerts alike: runs with
their status and stage states, holds, evidence chains, backfills, pipelines at a glance."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from barecount.ledger.governance_store import (
    decisions_for,
    find_version,
    pending_holds,
)
from barecount.ledger.models import (
    Alert,
    Backfill,
    BackfillEnd,
    BackfillOutcome,
    ContractVersion,
    Decision,
    GateCheck,
    HoldEvent,
    KpiVersion,
    PipelineRun,
    RunSummary,
    StageAttempt,
)
from barecount.ledger.publish import InForce, history, in_force
from barecount.ledger.store import TokenEvidence, evidence, runs, summaries
from barecount.status import BackfillState, GateOutcome, HoldStatus, RunStatus, StageState


def run_status(ended: str | None, held: bool) -> RunStatus:
    """The one word for a run: how it ended, else held (a pending hold), else running."""
    if ended is not None:
        return RunStatus(ended)
    return RunStatus.HELD if held else RunStatus.RUNNING


@dataclass
class RunView:
    """One pipeline run with how far each stage got."""

    run: PipelineRun
    summary: RunSummary | None
    attempts: list[StageAttempt]
    states: dict[str, str]
    status: str

    @property
    def attempt_count(self) -> int:
        return len(self.attempts)

    @property
    def retries(self) -> int:
        return sum(1 for a in self.attempts if a.attempt > 1)


def stage_states(
    attempts: list[StageAttempt], holds: list[tuple[GateCheck, HoldEvent | None]]
) -> dict[str, str]:
    """Stage -> completed | cached | failed | retrying | held, from one run's ledger rows.

    The last attempt of a stage decides; a gate check decides over a completed extract,
    because the run stops at the gate: pending -> held, rejected or blocked -> failed.
    """
    states: dict[str, str] = {}
    for attempt in sorted(attempts, key=lambda a: a.id or 0):
        states[attempt.stage] = attempt.state
    for check, event in holds:
        status = event.status if event is not None else None
        if check.outcome == GateOutcome.BLOCKED or status in (
            HoldStatus.REJECTED,
            HoldStatus.TIMED_OUT,
        ):
            states[check.stage] = StageState.FAILED
        elif status == HoldStatus.PENDING:
            states[check.stage] = StageState.HELD
    return states


Holds = list[tuple[GateCheck, HoldEvent | None]]


def _checks_of(session: Session, run_ids: list[int]) -> dict[int, Holds]:
    if not run_ids:
        return {}
    checks = list(
        session.execute(
            select(GateCheck).where(GateCheck.run_id.in_(run_ids)).order_by(GateCheck.id)
        ).scalars()
    )
    latest = _latest_holds(session, [c.id for c in checks])  # of these checks only
    found: dict[int, Holds] = {}
    for check in checks:
        found.setdefault(check.run_id, []).append((check, latest.get(check.id)))
    return found


def run_views(*, session: Session, pipeline: str | None, limit: int = 50) -> list[RunView]:
    """A pipeline's most recent runs first, with their stage states."""
    found = runs(session=session, pipeline=pipeline, limit=limit)
    ids = [r.id for r in found]
    ends = summaries(session=session, run_ids=ids)
    attempts: dict[int, list[StageAttempt]] = {}
    if ids:
        query = select(StageAttempt).where(StageAttempt.run_id.in_(ids)).order_by(StageAttempt.id)
        for attempt in session.execute(query).scalars():
            attempts.setdefault(attempt.run_id, []).append(attempt)
    checks = _checks_of(session, ids)
    views = []
    for run in found:
        states = stage_states(attempts.get(run.id, []), checks.get(run.id, []))
        summary = ends.get(run.id)
        status = run_status(summary.status if summary else None, StageState.HELD in states.values())
        views.append(RunView(run, summary, attempts.get(run.id, []), states, status))
    return views


@dataclass
class CheckEvidence:
    check: GateCheck
    status: str | None
    decisions: list[Decision]


@dataclass
class EvidenceView:
    """The chain behind a token: KPIs <- token <- attempts <- contract versions <- approvals."""

    token: TokenEvidence
    contracts: list[ContractVersion]
    checks: list[CheckEvidence] = field(default_factory=list)
    versions: list[KpiVersion] = field(default_factory=list)  # the partition's KPI versions


def _latest_holds(session: Session, check_ids: list[int]) -> dict[int, HoldEvent]:
    """Each check's latest hold event (its status), for these checks only."""
    found: dict[int, HoldEvent] = {}
    if check_ids:
        query = select(HoldEvent).where(HoldEvent.check_id.in_(check_ids)).order_by(HoldEvent.id)
        found = {event.check_id: event for event in session.execute(query).scalars()}
    return found


def evidence_view(*, session: Session, token: str) -> EvidenceView:
    """Raises UnknownTokenError for a token the ledger has never seen."""
    found = evidence(session=session, token=token)
    contracts: list[ContractVersion] = []
    seen: set[tuple[str, str]] = set()
    for run in found.runs:
        for contract, version in sorted((run.contract_versions or {}).items()):
            if (contract, str(version)) in seen:
                continue
            seen.add((contract, str(version)))
            row = find_version(session=session, contract=contract, version=str(version))
            if row is not None:
                contracts.append(row)
    query = select(GateCheck).where(GateCheck.token == token).order_by(GateCheck.id)
    found_checks = list(session.execute(query).scalars())
    latest = _latest_holds(session, [c.id for c in found_checks])  # of these checks only
    checks = [
        CheckEvidence(
            check=check,
            status=latest[check.id].status if check.id in latest else None,
            decisions=decisions_for(session=session, check_id=check.id),
        )
        for check in found_checks
    ]
    # a version approved during this token's run is part of its chain too
    for item in checks:
        for decision in item.decisions:
            if decision.new_version and (decision.contract, decision.new_version) not in seen:
                seen.add((decision.contract, decision.new_version))
                row = find_version(
                    session=session, contract=decision.contract, version=decision.new_version
                )
                if row is not None:
                    contracts.append(row)
    first = found.runs[0]
    versions = history(session=session, pipeline=first.pipeline, partition=first.partition)
    return EvidenceView(token=found, contracts=contracts, checks=checks, versions=versions)


@dataclass
class BackfillView:
    backfill: Backfill
    planned: int  # partitions in the plan
    to_run: int  # of which the plan runs (the rest were skipped as already published)
    outcomes: Counter
    end: BackfillEnd | None

    @property
    def done(self) -> int:
        return sum(self.outcomes.values())

    @property
    def state(self) -> BackfillState:
        return BackfillState.FINISHED if self.end is not None else BackfillState.UNFINISHED


def backfill_views(*, session: Session, limit: int = 100) -> list[BackfillView]:
    """Recent backfills first, with their outcome counts."""
    found = list(
        session.execute(select(Backfill).order_by(Backfill.id.desc()).limit(limit)).scalars()
    )
    ids = [b.id for b in found]
    outcomes: dict[int, Counter] = {i: Counter() for i in ids}
    ends: dict[int, BackfillEnd] = {}
    if ids:
        query = select(BackfillOutcome).where(BackfillOutcome.backfill_id.in_(ids))
        for row in session.execute(query).scalars():
            outcomes[row.backfill_id][row.outcome] += 1
        query = select(BackfillEnd).where(BackfillEnd.backfill_id.in_(ids))
        for row in session.execute(query).scalars():
            ends[row.backfill_id] = row
    return [
        BackfillView(
            backfill=b,
            planned=len(b.plan or []),
            to_run=sum(1 for p in b.plan or [] if p.get("action") == "run"),
            outcomes=outcomes[b.id],
            end=ends.get(b.id),
        )
        for b in found
    ]


def last_runs(
    *, session: Session, pipeline: str, partitions: list[str]
) -> dict[str, tuple[PipelineRun, RunStatus]]:
    """Each partition's most recent run and its status (a run never ended is interrupted)."""
    last: dict[str, PipelineRun] = {}
    query = (
        select(PipelineRun)
        .where(PipelineRun.pipeline == pipeline, PipelineRun.partition.in_(partitions))
        .order_by(PipelineRun.id)
    )
    for run in session.execute(query).scalars():
        last[run.partition] = run
    ended = summaries(session=session, run_ids=[r.id for r in last.values()])
    return {
        partition: (
            run,
            RunStatus(ended[run.id].status) if run.id in ended else RunStatus.INTERRUPTED,
        )
        for partition, run in last.items()
    }


@dataclass
class PipelineStatus:
    """A pipeline at a glance: its last run, how it stands, holds and the last alert."""

    pipeline: str
    last: RunView | None
    holds: list[GateCheck]
    alert: Alert | None
    in_force: InForce | None = None  # the last partition's publication in force

    @property
    def state(self) -> str:
        return self.last.status if self.last else "never run"


def pipeline_statuses(*, session: Session, pipelines: list[str]) -> list[PipelineStatus]:
    """Every named pipeline's last run (with the same status word as runs and the console)."""
    holds = pending_holds(session=session)
    found = []
    for name in pipelines:
        views = run_views(session=session, pipeline=name, limit=1)
        alert = session.execute(
            select(Alert).where(Alert.pipeline == name).order_by(Alert.id.desc()).limit(1)
        ).scalar_one_or_none()
        waiting = [c for c, _ in holds if c.pipeline == name]
        last = views[0] if views else None
        versions = (
            in_force(session=session, pipeline=name, partition=last.run.partition) if last else {}
        )
        current = max(versions.values(), key=lambda v: v.version) if versions else None
        found.append(PipelineStatus(name, last, waiting, alert, current))
    return found


def versions_ended_under(*, session: Session, token: str) -> tuple[PipelineRun, dict[str, str]]:
    """A token's first run and the contract versions it ended under: those it started with,
    updated by the versions approved for its drift (UnknownTokenError for a new token)."""
    found = evidence(session=session, token=token)
    versions = {k: str(v) for k, v in (found.runs[-1].contract_versions or {}).items()}
    approved = select(Decision).where(
        Decision.token == token, Decision.accepted, Decision.new_version.is_not(None)
    )
    for decision in session.execute(approved.order_by(Decision.id)).scalars():
        versions[decision.contract] = decision.new_version
    return found.runs[0], versions
