"""A stage as a Prefect task: retried, cached by run token; user code behind a boundary."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.context import TaskRunContext
from prefect.runtime import task_run as current_task_run
from prefect.settings import get_current_settings as prefect_settings
from prefect.states import State

from barecount.errors import StageFailed, TerminalError, is_transient
from barecount.ledger.chain import now
from barecount.manifest.models import Pipeline, Retries, StageSpec
from barecount.manifest.tokens import cache_key
from barecount.runtime.evidence import RunRef, record_stage_attempt
from barecount.runtime.runners import ran_on
from barecount.runtime.stage import StageContext, StageResult
from barecount.settings import Settings


def _retry_transient_only(task_obj: Any, task_run: Any, state: State) -> bool:
    """Prefect retry_condition_fn: retry transient errors, never bad data or contracts."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient(exc)


def _stage_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return cache_key(parameters["pipeline"], parameters["stage"].name, parameters["ref"].token)


def resolve(run: str) -> Any:
    """The callable named by a manifest's ``run: module:function``."""
    module_name, _, attr = run.partition(":")
    return getattr(importlib.import_module(module_name), attr)


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
    whether to retry it, with where it ran (a Dask worker's address, or host:pid): this
    may be a Dask worker process, which opens its own ledger. Exceptions from stage code
    leave as StageFailed, naming the pipeline, stage, partition and attempt; the original
    is its cause.
    """
    attempt = current_task_run.run_count or 1
    started = now()
    context = StageContext(
        pipeline=pipeline,
        stage=stage.name,
        partition=partition,
        token=ref.token,
        params=stage.params,
        upstream=upstream,
        contract=stage.contract,
        warehouse_url=warehouse,  # BARECOUNT_WAREHOUSE_URL, or verify's scratch copy
        landing=Path(landing),
        logger=get_run_logger(),
    )
    record = {"ref": ref, "stage": stage, "attempt": attempt, "started_at": started}
    record["ran_on"] = ran_on()  # a Dask worker's address, or host:pid
    try:
        result = check_result(stage, resolve(stage.run)(context))
    except Exception as exc:
        record_stage_attempt(
            **record,
            upstream=upstream,
            error=exc,
            retries_left=retries - (attempt - 1),
            task_run_id=str(current_task_run.id),
        )
        raise StageFailed(
            exc, pipeline=pipeline, stage=stage.name, partition=partition, attempt=attempt
        ) from exc
    record_stage_attempt(
        **record, upstream=upstream, result=result, task_run_id=str(current_task_run.id)
    )
    return result


def check_result(stage: StageSpec, result: Any) -> StageResult:
    """The stage's result, or TerminalError saying what it should have returned."""
    if not isinstance(result, StageResult):
        raise TerminalError(
            f"stage {stage.name!r} ({stage.run}) returned {type(result).__name__}, "
            "not a StageResult; return barecount.StageResult(...)"
        )
    if stage.kind == "ingestion" and result.schema_ is None:
        raise TerminalError(
            f"ingestion stage {stage.name!r} returned no extracted schema; set "
            "StageResult(schema=ExtractedSchema(...)) so the contract gate can check it"
        )
    if stage.kind == "kpi":
        missing = [k for k in stage.publishes if k not in result.kpis]
        if missing:
            raise TerminalError(
                f"kpi stage {stage.name!r} declares publishes {list(stage.publishes)} but "
                f"returned no value for {', '.join(missing)}"
            )
    return result


def stage_task_options(
    pipeline: Pipeline, stage: StageSpec, settings: Settings, *, recompute: bool = False
) -> dict[str, Any]:
    """Prefect task options of a stage: retries and backoff from its manifest.

    Results persist under BARECOUNT_RESULTS, beside the warehouse they describe, unless
    Prefect's PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK names shared storage for workers on
    many hosts.
    """
    retries: Retries = pipeline.retries_for(stage)
    options: dict[str, Any] = {}
    if not prefect_settings().results.default_storage_block:
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
