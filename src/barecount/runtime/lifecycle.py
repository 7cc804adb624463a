"""A partition's run from start to end, shared by single runs and backfills.

prepare (plan, token, start_run, gate) -> preconditions (window, upstream) -> the task graph
-> finish (publish once per token, record how it ended, alert) -> report (artifacts, event).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.runtime import flow_run as current_flow_run

from barecount.alerts.delivery import after_run
from barecount.ledger import Ledger, get_ledger
from barecount.ledger.checkpoints import checkpoint_after
from barecount.ledger.models import ContractVersion, PipelineRun
from barecount.ledger.publish import Restatement
from barecount.manifest import ManifestSet, load_manifests
from barecount.manifest.models import Pipeline
from barecount.manifest.partitions import parse_partition, partition_for
from barecount.manifest.windows import outside_window
from barecount.runtime.evidence import RunRef
from barecount.runtime.gate import GateContext
from barecount.runtime.graph import Job, failure_of, run_jobs
from barecount.runtime.plan import contract_names, plan_run
from barecount.runtime.publication import publish_and_finish
from barecount.runtime.report import emit_published, write_artifacts
from barecount.runtime.suspend import hold_mode, resumed_run, sweep
from barecount.settings import Settings, get_settings
from barecount.status import RunStatus


@dataclass(frozen=True)
class RunScope:
    """What every partition run of one flow run shares: settings, ledger, manifests."""

    settings: Settings
    ledger: Ledger
    manifests: ManifestSet
    spec: Pipeline
    flow_run_id: str | None

    @classmethod
    def open(cls, pipeline: str, manifests: str | Path | None) -> RunScope:
        settings = get_settings()
        loaded = load_manifests(manifests or settings.manifests)
        flow_run_id = str(current_flow_run.id) if current_flow_run.id else None
        return cls(settings, get_ledger(settings), loaded, loaded.pipeline(pipeline), flow_run_id)

    def versions_in_force(self, pins: dict[str, str] | None = None) -> dict[str, ContractVersion]:
        return self.ledger.versions_in_force(
            manifests=self.manifests, contracts=contract_names(self.spec), pins=pins
        )


@dataclass(frozen=True)
class Outcome:
    """How a partition's run ended."""

    status: RunStatus
    kpis: dict[str, float | None]
    error: BaseException | None = None
    detail: str = ""


def restatement(reason: str | None, requested_by: str | None) -> Restatement | None:
    """A restatement when a reason is given (who asks defaults to the OS user)."""
    if reason is None or not reason.strip():
        return None
    return Restatement(reason=reason.strip(), requested_by=requested_by or getpass.getuser())


def resolve_partition(pipeline: Pipeline, partition: str | None) -> str:
    """The partition key this run serves: given, or from the scheduled start time."""
    spec = pipeline.spec.partition
    if partition:
        return parse_partition(partition, spec).key
    scheduled = current_flow_run.scheduled_start_time
    instant = scheduled if scheduled is not None else datetime.now(UTC)
    return partition_for(instant, spec).key


def prepare(
    scope: RunScope,
    *,
    partition: str,
    trigger: str,
    token: str | None = None,
    in_force: dict[str, ContractVersion] | None = None,
    backfill_id: int | None = None,
    on_drift: str = "pause",
    recompute: bool = False,
    restatement: Restatement | None = None,
    resumable: bool = True,
) -> Job:
    """Plan a partition's run, record its start, and set up its gate.

    ``resumable=False``: the caller knows this flow run was not suspended
    (``suspend.came_back``), so no run row of it is looked up to go on under.
    """
    in_force = dict(in_force if in_force is not None else scope.versions_in_force())
    key = parse_partition(partition, scope.spec.spec.partition).key
    upstream = scope.ledger.upstream_tokens(pipeline=scope.spec, partition=key)
    plan = plan_run(
        scope.manifests,
        scope.spec.name,
        key,
        versions={name: row.version for name, row in in_force.items()},
        upstream=upstream,
        token=token,
    )
    run = None
    if resumable:
        run = resumed_run(scope.ledger, flow_run_id=scope.flow_run_id, token=plan.token)
    resumed = run is not None  # a suspended run, run again: it goes on under its own row
    run = run or _start(scope, plan, trigger, backfill_id)
    gate = GateContext(
        ledger=scope.ledger,
        manifests=scope.manifests,
        pipeline=scope.spec,
        run=run,
        flow_run_id=scope.flow_run_id,
        in_force=in_force,
        on_drift=on_drift,
        hold_mode=hold_mode(scope.spec) if on_drift == "pause" else "pause",
        resumed=resumed,
    )
    ref = RunRef.of(run, upstream)
    return Job(
        partition=plan.partition,
        ref=ref,
        gate=gate,
        recompute=recompute,
        restatement=restatement,
    )


def _start(scope: RunScope, plan, trigger: str, backfill_id: int | None) -> PipelineRun:
    """The ledger's row for a run that starts now."""
    return scope.ledger.start_run(
        token=plan.token,
        pipeline=scope.spec.name,
        partition=plan.partition,
        manifest_digest=plan.manifest_digest,
        contract_versions=plan.contract_versions,
        trigger=trigger,
        flow_run_id=scope.flow_run_id,
        backfill_id=backfill_id,
    )


def approval_of_this_pipeline(trigger: str, pipeline: str) -> bool:
    """A contract-approved event raised by this pipeline's own paused run, which goes on."""
    kind, _, rest = trigger.partition(":")
    return kind == "contract-approved" and rest.partition(":")[2] == pipeline


def preconditions(scope: RunScope, job: Job, trigger: str) -> tuple[RunStatus, str] | None:
    """Why a single run should end before its stages (skipped, waiting), or None to go on."""
    if approval_of_this_pipeline(trigger, scope.spec.name):
        return RunStatus.SKIPPED, (
            "the approval came from this pipeline's own paused run, which continues itself"
        )
    schedule = scope.spec.spec.schedule
    if trigger == "schedule" and schedule is not None:
        late = outside_window(schedule, datetime.now(UTC))
        if late and schedule.window and schedule.window.late == "skip":
            return RunStatus.SKIPPED, late
    upstream = job.ref.upstream_pipelines
    waiting = sorted(name for name, token in upstream.items() if token is None)
    if waiting:
        return RunStatus.WAITING, (
            f"waiting on upstream: {', '.join(waiting)} has not published {job.partition}"
        )
    return None


def late_note(scope: RunScope, trigger: str) -> str:
    """A scheduled run that started late but runs anyway (late: run) says so."""
    schedule = scope.spec.spec.schedule
    if trigger != "schedule" or schedule is None:
        return ""
    return outside_window(schedule, datetime.now(UTC)) or ""


def end(scope: RunScope, run: PipelineRun, status: RunStatus, **fields: Any) -> None:
    """Record how a run ended and tell the owning team when that starts or ends a streak."""
    scope.ledger.finish_run(run=run, status=status, **fields)
    _after_end(scope, run, status, fields.get("detail", ""))


def _after_end(scope: RunScope, run: PipelineRun, status: RunStatus, detail: str) -> None:
    """After a run's end is recorded: a checkpoint when one is due, and the alerts."""
    checkpoint_after(scope.ledger)
    after_run(ledger=scope.ledger, manifests=scope.manifests, run=run, status=status, detail=detail)


def finish(scope: RunScope, job: Job, error: BaseException | None, detail: str = "") -> Outcome:
    """Publish a finished partition's KPIs (one version in force), record the end, alert."""
    run = job.gate.run
    if error is not None:
        status = RunStatus(getattr(error, "status", RunStatus.FAILED))
        end(scope, run, status, detail=str(error))
        return Outcome(status, {}, error, str(error))
    stages = {name: r.model_dump(mode="json", by_alias=True) for name, r in job.results.items()}
    status, kpis, detail = publish_and_finish(scope, job, detail=detail, stages=stages)
    _after_end(scope, run, status, detail)
    return Outcome(status, kpis, None, detail)


def summary_of(scope: RunScope, job: Job, outcome: Outcome, trigger: str) -> dict[str, Any]:
    """What a single run returns (and `barecount run --json` prints)."""
    return {
        "pipeline": scope.spec.name,
        "partition": job.partition,
        "token": job.ref.token,
        "trigger": trigger,
        "flow_run_id": scope.flow_run_id,
        "run_id": job.gate.run.id,
        "contracts": job.gate.versions,
        "status": outcome.status,
        "detail": outcome.detail,
        "stages": {n: r.model_dump(mode="json", by_alias=True) for n, r in job.results.items()},
        "kpis": outcome.kpis,
    }


def report(scope: RunScope, summary: dict[str, Any]) -> None:
    """Leave the run's artifacts in Prefect and tell downstream pipelines about a publication."""
    write_artifacts(summary, ledger=scope.ledger, console=scope.settings.console_url)
    if summary["status"] in (RunStatus.PUBLISHED, RunStatus.RESTATED):
        emit_published(
            pipeline=summary["pipeline"],
            partition=summary["partition"],
            token=summary["token"],
            kpis=summary["kpis"],
        )


def housekeeping(scope: RunScope) -> None:
    """Suspended holds have no process to time them out: each run looks (never failing)."""
    try:
        for check in sweep(scope.ledger, scope.manifests):
            get_run_logger().info("hold %s timed out while suspended", check.id)
    except Exception:
        get_run_logger().exception("sweeping suspended holds failed; the run goes on")


def run_partition(
    scope: RunScope,
    *,
    partition: str,
    token: str | None,
    trigger: str,
    pins: dict[str, str] | None,
    verify: bool,
    restatement: Restatement | None = None,
) -> dict[str, Any]:
    """One partition, start to end, in this flow run; raises when it failed."""
    if verify:
        from barecount.runtime.verify import verify_partition  # it builds on this module

        return verify_partition(scope, partition=partition, token=token, pins=pins)
    housekeeping(scope)
    job = prepare(
        scope,
        partition=partition,
        trigger=trigger,
        token=token,
        in_force=scope.versions_in_force(pins),
        restatement=restatement,
    )
    logger = get_run_logger()
    logger.info(
        "%s %s under token %s (trigger: %s)", scope.spec.name, partition, job.ref.token, trigger
    )
    early = preconditions(scope, job, trigger)
    if early is not None:
        status, detail = early
        end(scope, job.gate.run, status, detail=detail)
        logger.info("%s: %s", status, detail)
        return summary_of(scope, job, Outcome(status, {}, None, detail), trigger)
    run_jobs(scope.spec, [job], settings=scope.settings)
    outcome = finish(scope, job, failure_of(scope.spec, job), late_note(scope, trigger))
    if outcome.error is not None:
        raise outcome.error
    summary = summary_of(scope, job, outcome, trigger)
    report(scope, summary)
    return summary
