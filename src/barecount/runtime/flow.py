"""The governed pipeline flow: stages as Prefect tasks, in dependency order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.context import TaskRunContext
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run as current_flow_run
from prefect.states import State

from barecount.errors import BareCountError, TerminalError, is_transient
from barecount.manifest import ManifestSet, load_manifests
from barecount.manifest.models import Pipeline, Retries, StageSpec
from barecount.runtime.execute import execute_stage
from barecount.runtime.partitions import parse_partition, partition_for
from barecount.runtime.stage import StageResult
from barecount.runtime.tokens import cache_key, check_token, compute_token
from barecount.settings import get_settings


class PipelineFailed(TerminalError):
    """A stage failed for good; the stages after it did not run."""


def _retry_transient_only(task_obj: Any, task_run: Any, state: State) -> bool:
    """Prefect retry_condition_fn: retry transient errors, never bad data or contracts."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient(exc)


def _stage_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return cache_key(parameters["pipeline"], parameters["stage"].name, parameters["token"])


def _flow_run_name() -> str:
    params = current_flow_run.parameters
    return f"{params['pipeline']}-{params.get('partition') or 'scheduled'}"


@task(persist_result=True, cache_key_fn=_stage_cache_key, log_prints=True)
def run_stage(
    *,
    pipeline: str,
    stage: StageSpec,
    partition: str,
    token: str,
    upstream: dict[str, StageResult],
    warehouse: str,
    landing: str,
) -> StageResult:
    """One stage of a governed pipeline (a Prefect task; retried and cached by token)."""
    return execute_stage(
        pipeline=pipeline,
        stage=stage,
        partition=partition,
        token=token,
        upstream=upstream,
        warehouse=Path(warehouse),
        landing=Path(landing),
        logger=get_run_logger(),
    )


def stage_task_options(pipeline: Pipeline, stage: StageSpec) -> dict[str, Any]:
    """Prefect task options of a stage: retries and backoff from its manifest.

    Results go to Prefect's default result storage (PREFECT_HOME/storage, or the
    block named by PREFECT_DEFAULT_RESULT_STORAGE_BLOCK when workers share one).
    """
    retries: Retries = pipeline.retries_for(stage)
    return {
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


def contract_versions(manifests: ManifestSet, pipeline: Pipeline) -> dict[str, str]:
    """Contract versions in force for the pipeline's stages."""
    names = {s.contract for s in pipeline.spec.stages if s.contract}
    return {name: str(manifests.contract(name).version) for name in sorted(names)}


@flow(name="governed-pipeline", flow_run_name=_flow_run_name, log_prints=True)
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
    key = resolve_partition(spec, partition)
    versions = contract_versions(loaded, spec)
    token = (
        check_token(run_token)
        if run_token
        else compute_token(
            pipeline=pipeline,
            partition=key,
            manifest_digest=loaded.digest(pipeline),
            contract_versions=versions,
        )
    )
    logger = get_run_logger()
    logger.info("pipeline %s partition %s token %s (trigger: %s)", pipeline, key, token, trigger)
    results = run_stages(spec, partition=key, token=token, settings=settings)
    kpis = {
        name: value
        for stage in spec.spec.stages
        if stage.kind == "kpi"
        for name, value in results[stage.name].kpis.items()
        if name in stage.publishes
    }
    return {
        "pipeline": pipeline,
        "partition": key,
        "token": token,
        "trigger": trigger,
        "flow_run_id": str(current_flow_run.id) if current_flow_run.id else None,
        "contracts": versions,
        "stages": {name: r.model_dump(mode="json", by_alias=True) for name, r in results.items()},
        "kpis": kpis,
    }


def run_stages(
    spec: Pipeline, *, partition: str, token: str, settings: Any
) -> dict[str, StageResult]:
    """Submit each stage once everything it needs has finished; independent ones run together."""
    stages = {s.name: s for s in spec.spec.stages}
    results: dict[str, StageResult] = {}
    running: dict[PrefectFuture, str] = {}
    failed: dict[str, BaseException] = {}

    def submit_ready() -> None:
        submitted = set(running.values())
        for name, stage in stages.items():
            if name in results or name in submitted or name in failed:
                continue
            if all(need in results for need in stage.needs):
                options = stage_task_options(spec, stage)
                future = run_stage.with_options(**options).submit(
                    pipeline=spec.name,
                    stage=stage,
                    partition=partition,
                    token=token,
                    upstream={need: results[need] for need in stage.needs},
                    warehouse=str(settings.warehouse),
                    landing=str(settings.landing),
                )
                running[future] = name

    submit_ready()
    while running:
        future = next(as_completed(list(running)))
        name = running.pop(future)
        future.wait()
        if future.state.is_completed():
            results[name] = future.result()
            if not failed:
                submit_ready()
        else:
            failed[name] = future.state.result(raise_on_failure=False)
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
