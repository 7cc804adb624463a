"""Publishing a finished partition's KPIs and saying what happened: published, restated,
already published under this token, or in force under another token (a restatement needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from barecount.ledger.publish import PublishOutcome
from barecount.runtime.graph import Job
from barecount.status import RunStatus

if TYPE_CHECKING:
    from barecount.runtime.lifecycle import RunScope


def publish_kpis(scope: RunScope, job: Job) -> tuple[RunStatus, dict[str, float | None], str]:
    """Publish every kpi stage's values; the status (and a detail) says what happened."""
    kpis: dict[str, float | None] = {}
    outcomes = []
    for stage in (s for s in scope.spec.spec.stages if s.kind == "kpi"):
        result = job.results[stage.name]
        values = {k: v for k, v in result.kpis.items() if k in stage.publishes}
        outcomes.append(
            scope.ledger.publish(
                run=job.gate.run,
                stage=stage.name,
                kpis=values,
                fingerprint=result.fingerprint,
                restatement=job.restatement,
            )
        )
        kpis.update(values)
    if not outcomes:
        return RunStatus.COMPLETED, kpis, ""
    if any(o.first_time for o in outcomes):
        version = max(o.version or 1 for o in outcomes)
        if version == 1:
            return RunStatus.PUBLISHED, kpis, ""
        return RunStatus.RESTATED, kpis, restated_detail(job, version)
    blocked = [o for o in outcomes if o.needs_restatement]
    if blocked:
        return RunStatus.NEEDS_RESTATEMENT, kpis, needs_restatement_detail(scope, job, blocked[0])
    return RunStatus.ALREADY_PUBLISHED, kpis, ""


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
