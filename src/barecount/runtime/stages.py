"""Stages as Prefect tasks: retried, cached by run token, on record, gated by contracts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.context import TaskRunContext
from prefect.runtime import task_run as current_task_run
from prefect.states import State

from barecount.errors import BareCountError, TerminalError, is_transient
from barecount.ledger.chain import now
from barecount.manifest.models import Pipeline, Retries, StageSpec
from barecount.runtime.evidence import RunRef, record_stage_attempt
from barecount.runtime.execute import execute_stage
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


def stage_task_options(
    pipeline: Pipeline, stage: StageSpec, settings: Settings, *, recompute: bool = False
) -> dict[str, Any]:
    """Prefect task options of a stage: retries and backoff from its manifest.

    Results persist under BARECOUNT_RESULTS, beside the warehouse they describe, unless
    PREFECT_DEFAULT_RESULT_STORAGE_BLOCK names shared storage for workers on many hosts.
    """
    retries: Retries = pipeline.retries_for(stage)
    options: dict[str, Any] = {}
    if not os.environ.get("PREFECT_DEFAULT_RESULT_STORAGE_BLOCK"):
        options["result_storage"] = settings.results
    if recompute:  # replay --verify: run the code again even though a result is cached
        options["refresh_cache"] = True
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


def stage_task(options: dict[str, Any]) -> Any:
    """run_stage with a stage's options, built once: Prefect's Task() reads source each time."""
    key = repr(sorted(options.items(), key=lambda item: item[0]))
    task_obj = _tasks.get(key)
    if task_obj is None:
        task_obj = _tasks[key] = run_stage.with_options(**options)
    return task_obj


def describe(exc: Any) -> str:
    if isinstance(exc, BareCountError):
        return str(exc)
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)
