"""What the runtime writes to the Evidence Ledger: runs, every stage attempt, lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from barecount.errors import is_transient
from barecount.ledger import get_ledger
from barecount.ledger.chain import now
from barecount.ledger.models import PipelineRun, StageAttempt
from barecount.lineage.emit import configured as lineage_configured
from barecount.manifest.models import StageSpec
from barecount.runtime.stage import StageResult
from barecount.status import StageState


@dataclass(frozen=True)
class RunRef:
    """What a stage task needs to know to record its attempts (picklable, small).

    The ledger is not in it: a task opens the ledger of its own process's settings.
    """

    run_id: int
    token: str
    flow_run_id: str | None
    contract_versions: dict[str, str] = field(default_factory=dict)
    upstream_pipelines: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, run: PipelineRun, upstream_pipelines: dict[str, str | None]) -> RunRef:
        return cls(
            run_id=run.id,
            token=run.token,
            flow_run_id=run.flow_run_id,
            contract_versions=dict(run.contract_versions),
            upstream_pipelines=dict(upstream_pipelines),
        )


def lineage(
    *, ref: RunRef, stage: StageSpec, upstream: dict[str, StageResult], result: StageResult | None
) -> dict[str, Any]:
    """Data lineage of a stage output: the same token gives the same lineage, run after run."""
    tags: dict[str, Any] = {
        "token": ref.token,
        "upstream": {
            name: {"token": ref.token, "fingerprint": r.fingerprint}
            for name, r in sorted(upstream.items())
        },
    }
    if ref.upstream_pipelines:  # tokens of the upstream pipelines' publications it builds on
        tags["upstream_pipelines"] = dict(sorted(ref.upstream_pipelines.items()))
    if stage.contract:
        tags["contract"] = {
            "name": stage.contract,
            "version": ref.contract_versions.get(stage.contract),
        }
    if result is not None:
        tags["output_fingerprint"] = result.fingerprint
        if result.schema_ is not None:
            tags["schema_fingerprint"] = result.schema_.fingerprint
        # what it read and wrote, for the evidence chain and OpenLineage (barecount.lineage)
        if result.sources:
            tags["sources"] = [s.model_dump() for s in result.sources]
        if result.tables:
            tags["tables"] = dict(sorted(result.tables.items()))
        if result.kpis:
            tags["kpis"] = sorted(result.kpis)
    return tags


def record_stage_attempt(
    *,
    ref: RunRef,
    stage: StageSpec,
    attempt: int,
    started_at: datetime,
    upstream: dict[str, StageResult],
    result: StageResult | None = None,
    error: BaseException | None = None,
    retries_left: int = 0,
    cached: bool = False,
    task_run_id: str | None = None,
    ran_on: str | None = None,
) -> StageAttempt:
    """Append one attempt of a stage: completed, cached, retrying or failed.

    ``ran_on`` (a Dask worker's address, or host:pid) goes into the lineage as ``ran_on``:
    where it ran, beside what it was computed from. Rows written before it lack the key.
    """
    if error is None:
        state = StageState.CACHED if cached else StageState.COMPLETED
    elif is_transient(error) and retries_left > 0:
        state = StageState.RETRYING
    else:
        state = StageState.FAILED
    row = StageAttempt(
        run_id=ref.run_id,
        token=ref.token,
        stage=stage.name,
        attempt=attempt,
        state=state,
        started_at=started_at,
        ended_at=now(),
        error_class=type(error).__name__ if error is not None else None,
        error_message=str(error)[:2000] if error is not None else None,
        transient=is_transient(error) if error is not None else None,
        task_run_id=task_run_id,
        output_fingerprint=result.fingerprint if result else None,
        rows=result.rows if result else None,
        lineage=lineage(ref=ref, stage=stage, upstream=upstream, result=result)
        | ({"ran_on": ran_on} if ran_on else {}),
    )
    ledger = get_ledger()
    recorded = ledger.record_attempt(attempt=row)
    if lineage_configured():  # OpenLineage: OPENLINEAGE_URL or an openlineage.yml
        from barecount.lineage.live import attempt_recorded  # loads openlineage

        attempt_recorded(ledger, recorded, manifests=manifests_folder())
    return recorded


def manifests_folder() -> str | None:
    """The manifests folder the current flow run was given, if any (lineage names owners
    and partition calendars from it; the settings' folder otherwise)."""
    try:
        from prefect.runtime import flow_run

        return (flow_run.parameters or {}).get("manifests")
    except Exception:  # outside a flow run, or its parameters cannot be read
        return None
