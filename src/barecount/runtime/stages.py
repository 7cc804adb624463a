"""Stages as Prefect tasks: retried, cached by run token, on record, gated by contracts."""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.context import TaskRunContext
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import task_run as current_task_run
from prefect.states import State

from barecount.errors import BareCountError, GovernanceError, TerminalError, is_transient
from barecount.ledger.chain import now
from barecount.manifest.models import Pipeline, Retries, StageSpec
from barecount.runtime.evidence import RunRef, record_stage_attempt
from barecount.runtime.execute import execute_stage
from barecount.runtime.gate import GateContext, check_stage
from barecount.runtime.stage import StageResult
from barecount.runtime.tokens import cache_key
from barecount.settings import Settings


class PipelineFailed(TerminalError):
    """A stage failed for good; the stages after it did not run."""


def _retry_transient_only(task_obj: Any, task_run: Any, state: State) -> bool:
    """Prefect retry_condition_fn: retry transient errors, never bad data or contracts."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient(exc)


def _stage_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return cache_key(parameters["pipeline"], parameters["stage"].name, parameters["ref"].token)


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


_tasks: dict[str, Any] = {}


def _stage_task(options: dict[str, Any]) -> Any:
    """run_stage with a stage's options, built once: Prefect's Task() reads source each time."""
    key = repr(sorted(options.items(), key=lambda item: item[0]))
    task_obj = _tasks.get(key)
    if task_obj is None:
        task_obj = _tasks[key] = run_stage.with_options(**options)
    return task_obj


def run_stages(
    spec: Pipeline, *, partition: str, ref: RunRef, settings: Settings, gate: GateContext
) -> dict[str, StageResult]:
    """Submit each stage once everything it needs has finished; independent ones run together.

    An ingestion stage's extract passes the contract gate before anything that needs it
    is submitted; the gate may pause the flow until governance decides.
    """
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
                future = _stage_task(options).submit(
                    pipeline=spec.name,
                    stage=stage,
                    partition=partition,
                    ref=dataclasses.replace(ref, contract_versions=gate.versions),
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
                    ref=dataclasses.replace(ref, contract_versions=gate.versions),
                    stage=stage,
                    attempt=1,
                    started_at=submitted_at,
                    upstream={need: results[need] for need in stage.needs},
                    result=results[name],
                    cached=True,
                    task_run_id=str(future.task_run_id),
                )
            if stages[name].contract and not failed:
                try:
                    check_stage(gate, stages[name], results[name])
                except BareCountError as exc:
                    failed[name] = exc
                    continue
            if not failed:
                submit_ready()
        else:
            failed[name] = state.result(raise_on_failure=False)
    governance = [e for e in failed.values() if isinstance(e, GovernanceError)]
    if governance:
        raise governance[0]
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
