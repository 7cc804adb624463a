"""Publishing a finished partition's KPIs and saying what happened: published, restated,
already published under this token, or in force under another token (a restatement needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from barecount.ledger.publish import PublishOutcome, Restatement, publish
from barecount.ledger.store import finish_run
from barecount.runtime.graph import Job
from barecount.status import RunStatus

if TYPE_CHECKING:
    from barecount.runtime.lifecycle import RunScope


def publish_and_finish(
    scope: RunScope, job: Job, *, detail: str, stages: dict[str, Any]
) -> tuple[RunStatus, dict[str, float | None], str]:
    """Publish every kpi stage's values and record how the run ended, in one transaction;
    returns the status, the KPIs and the run's detail.

    One transaction instead of two (``Ledger.publish``, then ``Ledger.finish_run``): this
    runs once per partition of a backfill. As in ``Ledger.publish``, a writer that loses a
    race at the database's unique constraints does it again and reports what won.
    """
    try:
        with scope.ledger.session() as session:
            return _publish_and_finish(session, scope, job, detail, stages, job.restatement)
    except IntegrityError:
        with scope.ledger.session() as session:
            return _publish_and_finish(session, scope, job, detail, stages, None)


def _publish_and_finish(
    session: Session,
    scope: RunScope,
    job: Job,
    detail: str,
    stages: dict[str, Any],
    restatement: Restatement | None,
) -> tuple[RunStatus, dict[str, float | None], str]:
    run = job.gate.run
    kpis: dict[str, float | None] = {}
    outcomes = []
    for stage in (s for s in scope.spec.spec.stages if s.kind == "kpi"):
        result = job.results[stage.name]
        values = {k: v for k, v in result.kpis.items() if k in stage.publishes}
        outcomes.append(
            publish(
                session=session,
                run=run,
                stage=stage.name,
                kpis=values,
                fingerprint=result.fingerprint,
                restatement=restatement,
            )
        )
        kpis.update(values)
    status, published = status_of(scope, job, outcomes)
    detail = "; ".join(part for part in (published, detail) if part)
    finish_run(session=session, run=run, status=status, kpis=kpis, stages=stages, detail=detail)
    return status, kpis, detail


def status_of(scope: RunScope, job: Job, outcomes: list[PublishOutcome]) -> tuple[RunStatus, str]:
    """What publishing did, as the run's status and a detail."""
    if not outcomes:
        return RunStatus.COMPLETED, ""
    if any(o.first_time for o in outcomes):
        version = max(o.version or 1 for o in outcomes)
        if version == 1:
            return RunStatus.PUBLISHED, ""
        return RunStatus.RESTATED, restated_detail(job, version)
    blocked = [o for o in outcomes if o.needs_restatement]
    if blocked:
        return RunStatus.NEEDS_RESTATEMENT, needs_restatement_detail(scope, job, blocked[0])
    return RunStatus.ALREADY_PUBLISHED, ""


def restated_detail(job: Job, version: int) -> str:
    asked = job.restatement
    who = f" by {asked.requested_by}: {asked.reason}" if asked else ""
    return f"restated: version {version} of {job.partition} is in force{who}"


def needs_restatement_detail(scope: RunScope, job: Job, outcome: PublishOutcome) -> str:
    """Why nothing was published, and the command that would publish it."""
    current = max(outcome.in_force.values(), key=lambda v: v.version)
    return (
        f"{scope.spec.name} {job.partition} is published under {current.token} (version "
        f"{current.version}); this run's token {job.ref.token} differs (its stages, code, "
        "contracts or upstream changed), so nothing was published. To publish it as version "
        f"{current.version + 1}: barecount run {scope.spec.name} -p {job.partition} --restate "
        '--reason "..."'
    )
