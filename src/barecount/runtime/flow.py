"""The governed pipeline flow: stages as Prefect tasks, in dependency order, on record."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.context import TaskRunContext
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run as current_flow_run
from prefect.runtime import task_run as current_task_run
from prefect.states import State

from barecount.errors import BareCountError, TerminalError, is_transient
from barecount.ledger.chain import now
from barecount.ledger.db import session_scope
from barecount.ledger.store import finish_run, publish, start_run
from barecount.manifest import load_manifests
from barecount.manifest.models import Pipeline, Retries, StageSpec
from barecount.runtime.evidence import RunRef, record_stage_attempt
from barecount.runtime.execute import execute_stage
from barecount.runtime.partitions import parse_partition, partition_for
from barecount.runtime.plan import plan_run
from barecount.runtime.report import emit_published, write_artifacts
from barecount.runtime.stage import StageResult
from barecount.runtime.tokens import cache_key
from barecount.settings import Settings, get_settings


class PipelineFailed(TerminalError):
    """A stage failed for good; the stages after it did not run."""


def _retry_transient_only(task_obj: Any, task_run: Any, state: State) -> bool:
    """Prefect retry_condition_fn: retry transient errors, never bad data or contracts."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient(exc)


def _stage_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return cache_key(parameters["pipeline"], parameters["stage"].name, parameters["ref"].token)


def _flow_run_name() -> str:
    params = current_flow_run.parameters
    return f"{params['pipeline']}-{params.get('partition') or 'scheduled'}"


@task(persist_result=True, cache_key_fn=_stage_cache_key)
def run_stage(
    *,
    pipeline: str,
    stage: StageSpec,
    partition: str,
    ref: RunRef,
    upstream: dict[str, StageResult],
    warehouse: str,
    landing: str,
    retries: int,
) -> StageResult:
    """One stage of a governed pipeline: a Prefect task, retried and cached by token.

    Every attempt, failed or not, is appended to the ledger before Prefect decides
    whether to retry it.
    """
    attempt = current_task_run.run_count or 1
    started = now()
    try:
        result = execute_stage(
            pipeline=pipeline,
            stage=stage,
            partition=partition,
            token=ref.token,
            upstream=upstream,
            warehouse=Path(warehouse),
            landing=Path(landing),
            logger=get_run_logger(),
        )
    except Exception as exc:
        record_stage_attempt(
            ref=ref,
            stage=stage,
            attempt=attempt,
            started_at=started,
            upstream=upstream,
            error=exc,
            retries_left=retries - (attempt - 1),
            task_run_id=str(current_task_run.id),
        )
        raise
    record_stage_attempt(
        ref=ref,
        stage=stage,
        attempt=attempt,
        started_at=started,
        upstream=upstream,
        result=result,
        task_run_id=str(current_task_run.id),
    )
    return result


def stage_task_options(pipeline: Pipeline, stage: StageSpec, settings: Settings) -> dict[str, Any]:
    """Prefect task options of a stage: retries and backoff from its manifest.

    Results persist under BARECOUNT_RESULTS, beside the warehouse they describe, unless
    PREFECT_DEFAULT_RESULT_STORAGE_BLOCK names shared storage for workers on many hosts.
    """
    retries: Retries = pipeline.retries_for(stage)
    options: dict[str, Any] = {}
    if not os.environ.get("PREFECT_DEFAULT_RESULT_STORAGE_BLOCK"):
        options["result_storage"] = settings.results
    return options | {
        "name": stage.name,
        "task_run_name": f"{stage.name}-{{partition}}",
        "retries": retries.max,
        "retry_delay_seconds": retries.delays() or 0,
        "retry_jitter_factor": retries.jitter or None,
        "retry_condition_fn": _retry_transient_only,
        "timeout_seconds": stage.timeout_seconds,
    }


def resolve_partition(pipeline: Pipeline, partition: str | None) -> str:
    """The partition key this run serves: given, or from the scheduled start time."""
    spec = pipeline.spec.partition
    if partition:
        return parse_partition(partition, spec).key
    scheduled = current_flow_run.scheduled_start_time
    instant = scheduled if scheduled is not None else datetime.now(UTC)
    return partition_for(instant, spec).key


@flow(name="governed-pipeline", flow_run_name=_flow_run_name)
def governed_pipeline(
    pipeline: str,
    partition: str | None = None,
    run_token: str | None = None,
    manifests: str | None = None,
    trigger: str = "manual",
) -> dict[str, Any]:
    """Run a BareCount pipeline for one partition under a run token.

    Args:
        pipeline: Pipeline name from the manifests.
        partition: Partition key, e.g. 2026-11-26; default: the scheduled run's partition.
        run_token: Reuse this token (replay); default: derived deterministically.
        manifests: Manifests folder; default: BARECOUNT_MANIFESTS or ./manifests.
        trigger: What started the run (schedule, event, manual, backfill).
    """
    settings = get_settings()
    loaded = load_manifests(manifests or settings.manifests)
    spec = loaded.pipeline(pipeline)
    plan = plan_run(loaded, pipeline, resolve_partition(spec, partition), token=run_token)
    key, token, versions = plan.partition, plan.token, plan.contract_versions
    flow_run_id = str(current_flow_run.id) if current_flow_run.id else None
    with session_scope(settings.ledger_url) as session:
        run = start_run(
            session=session,
            token=token,
            pipeline=pipeline,
            partition=key,
            manifest_digest=plan.manifest_digest,
            contract_versions=versions,
            trigger=trigger,
            flow_run_id=flow_run_id,
        )
    ref = RunRef.of(run, settings.ledger_url)
    get_run_logger().info("%s %s under token %s (trigger: %s)", pipeline, key, token, trigger)
    try:
        results = run_stages(spec, partition=key, ref=ref, settings=settings)
    except PipelineFailed as exc:
        with session_scope(settings.ledger_url) as session:
            finish_run(session=session, run=run, status="failed", detail=str(exc))
        raise

    kpi_stages = [s for s in spec.spec.stages if s.kind == "kpi"]
    kpis: dict[str, float | None] = {}
    status = "completed"
    for stage in kpi_stages:
        values = {k: v for k, v in results[stage.name].kpis.items() if k in stage.publishes}
        outcome = publish(
            url=settings.ledger_url,
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
    stages = {name: r.model_dump(mode="json", by_alias=True) for name, r in results.items()}
    with session_scope(settings.ledger_url) as session:
        summary_row = finish_run(session=session, run=run, status=status, kpis=kpis, stages=stages)
    summary = {
        "pipeline": pipeline,
        "partition": key,
        "token": token,
        "trigger": trigger,
        "flow_run_id": flow_run_id,
        "run_id": run.id,
        "contracts": versions,
        "status": status,
        "stages": stages,
        "kpis": kpis,
        "ledger_row": summary_row.id,
    }
    write_artifacts(summary, ledger_url=settings.ledger_url)
    if status == "published":
        emit_published(pipeline=pipeline, partition=key, token=token, kpis=kpis)
    return summary


def run_stages(
    spec: Pipeline, *, partition: str, ref: RunRef, settings: Settings
) -> dict[str, StageResult]:
    """Submit each stage once everything it needs has finished; independent ones run together."""
    stages = {s.name: s for s in spec.spec.stages}
    results: dict[str, StageResult] = {}
    running: dict[PrefectFuture, tuple[str, datetime]] = {}
    failed: dict[str, BaseException] = {}

    def submit_ready() -> None:
        submitted = {name for name, _ in running.values()}
        for name, stage in stages.items():
            if name in results or name in submitted or name in failed:
                continue
            if all(need in results for need in stage.needs):
                options = stage_task_options(spec, stage, settings)
                future = run_stage.with_options(**options).submit(
                    pipeline=spec.name,
                    stage=stage,
                    partition=partition,
                    ref=ref,
                    upstream={need: results[need] for need in stage.needs},
                    warehouse=str(settings.warehouse),
                    landing=str(settings.landing),
                    retries=options["retries"],
                )
                running[future] = (name, now())

    submit_ready()
    while running:
        future = next(as_completed(list(running)))
        name, submitted_at = running.pop(future)
        future.wait()
        state = future.state
        if state.is_completed():
            results[name] = future.result()
            if state.name == "Cached":  # the task body did not run: record the hit here
                stage = stages[name]
                record_stage_attempt(
                    ref=ref,
                    stage=stage,
                    attempt=1,
                    started_at=submitted_at,
                    upstream={need: results[need] for need in stage.needs},
                    result=results[name],
                    cached=True,
                    task_run_id=str(future.task_run_id),
                )
            if not failed:
                submit_ready()
        else:
            failed[name] = state.result(raise_on_failure=False)
    if failed:
        blocked = [n for n in stages if n not in results and n not in failed]
        reasons = "; ".join(f"{n}: {_describe(e)}" for n, e in failed.items())
        extra = f" (not run: {', '.join(blocked)})" if blocked else ""
        raise PipelineFailed(
            f"pipeline {spec.name} partition {partition} failed at {reasons}{extra}"
        )
    return results


def _describe(exc: Any) -> str:
    if isinstance(exc, BareCountError):
        return str(exc)
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)
