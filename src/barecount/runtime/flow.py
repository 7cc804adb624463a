"""The governed pipeline flow: plan, run the stages behind their gates, publish once, report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run as current_flow_run

from barecount.alerts import after_run
from barecount.ledger.db import session_scope
from barecount.ledger.models import PipelineRun
from barecount.ledger.store import finish_run, publish, start_run
from barecount.manifest import ManifestSet, load_manifests
from barecount.manifest.models import Pipeline
from barecount.runtime.conditions import outside_window, upstream_tokens
from barecount.runtime.engine import Job, failure_of, run_jobs
from barecount.runtime.evidence import RunRef
from barecount.runtime.gate import GateContext
from barecount.runtime.partitions import parse_partition, partition_for
from barecount.runtime.plan import ledger_versions, plan_run
from barecount.runtime.report import emit_published, write_artifacts
from barecount.runtime.stage import StageResult
from barecount.settings import get_settings


def _flow_run_name() -> str:
    params = current_flow_run.parameters
    return f"{params['pipeline']}-{params.get('partition') or 'scheduled'}"


def resolve_partition(pipeline: Pipeline, partition: str | None) -> str:
    """The partition key this run serves: given, or from the scheduled start time."""
    spec = pipeline.spec.partition
    if partition:
        return parse_partition(partition, spec).key
    scheduled = current_flow_run.scheduled_start_time
    instant = scheduled if scheduled is not None else datetime.now(UTC)
    return partition_for(instant, spec).key


def approval_of_this_pipeline(trigger: str, pipeline: str) -> bool:
    """A contract-approved event raised by this pipeline's own paused run, which goes on."""
    kind, _, rest = trigger.partition(":")
    return kind == "contract-approved" and rest.partition(":")[2] == pipeline


@flow(name="governed-pipeline", flow_run_name=_flow_run_name)
def governed_pipeline(
    pipeline: str,
    partition: str | None = None,
    run_token: str | None = None,
    manifests: str | None = None,
    trigger: str = "manual",
    contract_pins: dict[str, str] | None = None,
    verify: bool = False,
) -> dict[str, Any]:
    """Run a BareCount pipeline for one partition under a run token.

    Args:
        pipeline: Pipeline name from the manifests.
        partition: Partition key, e.g. 2026-11-26; default: the scheduled run's partition.
        run_token: Reuse this token (replay); default: derived deterministically.
        manifests: Manifests folder; default: BARECOUNT_MANIFESTS or ./manifests.
        trigger: What started the run (schedule, event, manual, backfill, replay).
        contract_pins: Contract versions to govern by (replay), instead of those in force.
        verify: Recompute every stage without the cache and compare its output fingerprint
            with the one recorded under the token.
    """
    settings = get_settings()
    loaded = load_manifests(manifests or settings.manifests)
    spec = loaded.pipeline(pipeline)
    in_force = ledger_versions(settings.ledger_url, loaded, pipeline, pins=contract_pins)
    plan = plan_run(
        loaded,
        pipeline,
        resolve_partition(spec, partition),
        versions={name: row.version for name, row in in_force.items()},
        token=run_token,
    )
    flow_run_id = str(current_flow_run.id) if current_flow_run.id else None
    with session_scope(settings.ledger_url) as session:
        run = start_run(
            session=session,
            token=plan.token,
            pipeline=pipeline,
            partition=plan.partition,
            manifest_digest=plan.manifest_digest,
            contract_versions=plan.contract_versions,
            trigger=trigger,
            flow_run_id=flow_run_id,
        )
    logger = get_run_logger()
    logger.info("%s %s under token %s (trigger: %s)", pipeline, plan.partition, plan.token, trigger)
    base = {
        "pipeline": pipeline,
        "partition": plan.partition,
        "token": plan.token,
        "trigger": trigger,
        "flow_run_id": flow_run_id,
        "run_id": run.id,
        "contracts": plan.contract_versions,
        "kpis": {},
        "stages": {},
    }
    notes: list[str] = []

    def end_early(status: str, detail: str) -> dict[str, Any]:
        _finish(settings.ledger_url, run, status, detail=detail)
        after_run(
            ledger_url=settings.ledger_url, manifests=loaded, run=run, status=status, detail=detail
        )
        logger.info("%s: %s", status, detail)
        return {**base, "status": status, "detail": detail}

    if approval_of_this_pipeline(trigger, pipeline):
        return end_early(
            "skipped",
            "the approval came from this pipeline's own paused run, which continues itself",
        )
    schedule = spec.spec.schedule
    if trigger == "schedule" and schedule is not None:
        late = outside_window(schedule, datetime.now(UTC))
        if late and schedule.window and schedule.window.late == "skip":
            return end_early("skipped", late)
        if late:
            notes.append(late)
    with session_scope(settings.ledger_url) as session:
        upstream = upstream_tokens(session=session, pipeline=spec, partition=plan.partition)
    waiting = sorted(name for name, token in upstream.items() if token is None)
    if waiting:
        return end_early(
            "waiting",
            f"waiting on upstream: {', '.join(waiting)} has not published {plan.partition}",
        )

    gate = GateContext(
        ledger_url=settings.ledger_url,
        manifests=loaded,
        pipeline=spec,
        run=run,
        flow_run_id=flow_run_id,
        in_force=in_force,
    )
    ref = RunRef.of(run, settings.ledger_url, upstream_pipelines=upstream)
    job = Job(partition=plan.partition, ref=ref, gate=gate, recompute=verify)
    recorded = recorded_fingerprints(settings.ledger_url, plan.token, run.id) if verify else {}
    run_jobs(spec, [job], settings=settings)
    error = failure_of(spec, job)
    detail = "; ".join(notes)
    status, kpis = finish_partition(
        settings.ledger_url, spec, run, job.results, error, detail, manifests=loaded
    )
    if error is not None:
        raise error
    summary = {
        **base,
        "contracts": gate.versions,
        "status": status,
        "detail": detail,
        "stages": {n: r.model_dump(mode="json", by_alias=True) for n, r in job.results.items()},
        "kpis": kpis,
    }
    if verify:
        summary["verify"] = {
            name: {
                "recorded": recorded.get(name),
                "recomputed": result.fingerprint,
                "deterministic": recorded.get(name) == result.fingerprint,
            }
            for name, result in job.results.items()
        }
    write_artifacts(summary, ledger_url=settings.ledger_url)
    if status == "published":
        emit_published(pipeline=pipeline, partition=plan.partition, token=plan.token, kpis=kpis)
    return summary


def publish_kpis(
    ledger_url: str, spec: Pipeline, run: PipelineRun, results: dict[str, StageResult]
) -> tuple[str, dict[str, float | None]]:
    """Publish every kpi stage's values once per token; the run's status says what happened."""
    kpis: dict[str, float | None] = {}
    status = "completed"
    for stage in (s for s in spec.spec.stages if s.kind == "kpi"):
        values = {k: v for k, v in results[stage.name].kpis.items() if k in stage.publishes}
        outcome = publish(
            url=ledger_url,
            run=run,
            stage=stage.name,
            kpis=values,
            fingerprint=results[stage.name].fingerprint,
        )
        if outcome.first_time:
            status = "published"
        elif status != "published":
            status = "already-published"
        kpis.update(values)
    return status, kpis


def finish_partition(
    ledger_url: str,
    spec: Pipeline,
    run: PipelineRun,
    results: dict[str, StageResult],
    error: BaseException | None,
    detail: str = "",
    *,
    manifests: ManifestSet,
) -> tuple[str, dict[str, float | None]]:
    """Publish a finished partition's KPIs (once per token), record how its run ended, and
    tell the owning team when that starts or ends a failure streak."""
    if error is not None:
        status = getattr(error, "status", "failed")
        _finish(ledger_url, run, status, detail=str(error))
        after_run(
            ledger_url=ledger_url, manifests=manifests, run=run, status=status, detail=str(error)
        )
        return status, {}
    status, kpis = publish_kpis(ledger_url, spec, run, results)
    stages = {name: r.model_dump(mode="json", by_alias=True) for name, r in results.items()}
    _finish(ledger_url, run, status, kpis=kpis, stages=stages, detail=detail)
    after_run(ledger_url=ledger_url, manifests=manifests, run=run, status=status, detail=detail)
    return status, kpis


def recorded_fingerprints(ledger_url: str, token: str, exclude_run: int) -> dict[str, str]:
    """Stage -> output fingerprint first recorded under the token (by an earlier run)."""
    from barecount.ledger.store import evidence

    with session_scope(ledger_url) as session:
        attempts = evidence(session=session, token=token).attempts
    found: dict[str, str] = {}
    for attempt in attempts:
        if attempt.run_id != exclude_run and attempt.output_fingerprint:
            found.setdefault(attempt.stage, attempt.output_fingerprint)
    return found


def _finish(ledger_url: str, run: PipelineRun, status: str, **fields: Any):
    with session_scope(ledger_url) as session:
        return finish_run(session=session, run=run, status=status, **fields)
