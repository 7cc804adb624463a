"""replay --verify: recompute a past run into a scratch warehouse and compare fingerprints.

Nothing live changes: the stages write to a copy of the warehouse and their results to a
scratch folder, the gate holds nothing, nothing is published and nobody is alerted. The
ledger records the verification run and its attempts, as evidence that it happened.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from barecount.runtime.graph import failure_of, run_jobs
from barecount.runtime.lifecycle import Outcome, RunScope, prepare, summary_of
from barecount.status import RunStatus


def scratch_copy(scope: RunScope, folder: Path) -> RunScope:
    """The scope with its warehouse copied into ``folder`` and results kept there too."""
    warehouse = folder / "warehouse.db"
    if scope.settings.warehouse.exists():  # a consistent copy, also while others write
        with (
            sqlite3.connect(scope.settings.warehouse) as live,
            sqlite3.connect(warehouse) as copy,
        ):
            live.backup(copy)
    settings = scope.settings.model_copy(
        update={"warehouse": warehouse, "results": folder / "results"}
    )
    return dataclasses.replace(scope, settings=settings)


def verify_partition(
    scope: RunScope, *, partition: str, token: str | None, pins: dict[str, str] | None
) -> dict[str, Any]:
    """Recompute every stage of a partition under ``token`` and compare with the ledger."""
    folder = Path(tempfile.mkdtemp(prefix="barecount-verify-"))
    try:
        scratch = scratch_copy(scope, folder)
        job = prepare(
            scratch,
            partition=partition,
            trigger="replay-verify",
            token=token,
            in_force=scope.versions_in_force(pins),
            recompute=True,
        )
        recorded = scope.ledger.recorded_fingerprints(
            token=job.ref.token, exclude_run=job.gate.run.id
        )
        run_jobs(scratch.spec, [job], settings=scratch.settings)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    error = failure_of(scope.spec, job)
    compared = {
        name: {
            "recorded": recorded.get(name),
            "recomputed": result.fingerprint,
            "deterministic": recorded.get(name) == result.fingerprint,
        }
        for name, result in job.results.items()
    }
    order = [s.name for s in scope.spec.spec.stages]  # report in the pipeline's stage order
    differ = [n for n in order if n in compared and not compared[n]["deterministic"]]
    if error is not None:
        status, detail = RunStatus(getattr(error, "status", RunStatus.FAILED)), str(error)
    else:
        status = RunStatus.COMPLETED
        detail = f"verify: different output at {', '.join(differ)}" if differ else "verify: same"
    scope.ledger.finish_run(run=job.gate.run, status=status, detail=detail)
    if error is not None:
        raise error
    summary = summary_of(scope, job, Outcome(status, {}, None, detail), "replay-verify")
    return summary | {"verify": compared}
