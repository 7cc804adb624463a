"""Running one stage: resolve its code, build its context, call it, check what it returned."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from barecount.errors import TerminalError
from barecount.manifest.models import StageSpec
from barecount.runtime.stage import StageContext, StageResult


def resolve(run: str) -> Any:
    """The callable named by a manifest's ``run: module:function``."""
    module_name, _, attr = run.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def execute_stage(
    *,
    pipeline: str,
    stage: StageSpec,
    partition: str,
    token: str,
    upstream: dict[str, StageResult],
    warehouse: Path,
    landing: Path,
    logger: Any,
) -> StageResult:
    """Run one stage's code once and return its checked result."""
    context = StageContext(
        pipeline=pipeline,
        stage=stage.name,
        partition=partition,
        token=token,
        params=stage.params,
        upstream=upstream,
        contract=stage.contract,
        warehouse=warehouse,
        landing=landing,
        logger=logger,
    )
    result = resolve(stage.run)(context)
    if not isinstance(result, StageResult):
        raise TerminalError(
            f"stage {stage.name!r} ({stage.run}) returned {type(result).__name__}, "
            "not a StageResult; return barecount.runtime.stage.StageResult(...)"
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
