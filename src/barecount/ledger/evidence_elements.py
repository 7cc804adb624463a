"""The elements of a chain of evidence: one ledger row each, as plain JSON-ready dicts that
carry the row's table, id and hash (``barecount evidence --json`` prints them as they are)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from barecount.governance.signing import approval_message, key_fingerprint, verify_signature
from barecount.ledger.base import Chained
from barecount.ledger.evidence_models import DecisionSignature
from barecount.ledger.models import (
    ContractVersion,
    Decision,
    GateCheck,
    KpiVersion,
    PipelineRun,
    Publication,
    RunSummary,
    StageAttempt,
)
from barecount.status import StageState


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def element(row: Chained, **fields: Any) -> dict[str, Any]:
    """A row as an element of the chain: where it is in the ledger, then what it says."""
    return {
        "table": type(row).__tablename__,
        "row_id": row.id,
        "hash": row.hash,
        "recorded_at": _time(row.recorded_at),
        **fields,
    }


def kpi_version(row: KpiVersion, in_force: bool) -> dict[str, Any]:
    return element(
        row,
        pipeline=row.pipeline,
        kpi=row.kpi,
        partition=row.partition,
        version=row.version,
        in_force=in_force,
        supersedes=row.supersedes,
    )


def publication(row: Publication, version: KpiVersion | None) -> dict[str, Any]:
    """A published value, with the restatement that put it in force, if it was one."""
    restated = None
    if version is not None and version.supersedes is not None:
        restated = {
            "reason": version.reason,
            "requested_by": version.requested_by,
            "supersedes": version.supersedes,
        }
    return element(
        row,
        kpi=row.kpi,
        value=row.value,
        published_at=_time(row.recorded_at),
        token=row.token,
        run_id=row.run_id,
        stage=row.stage,
        output_fingerprint=row.output_fingerprint,
        restatement=restated,
    )


def trigger_of(run: PipelineRun, upstream: dict[str, Any]) -> dict[str, Any]:
    """What started a run: its kind, and what that names (an event, an upstream publication
    with the upstream's token, a backfill, a replay)."""
    kind, _, detail = run.trigger.partition(":")
    found: dict[str, Any] = {"kind": kind, "detail": detail or None, "raw": run.trigger}
    if kind == "pipeline-published":
        name = detail.partition(":")[0]
        found["upstream"] = {"pipeline": name, "token": upstream.get(name)}
    found["backfill_id"] = run.backfill_id
    found["replay"] = kind == "replay"
    return found


def pipeline_run(
    row: PipelineRun, summary: RunSummary | None, upstream: dict[str, Any]
) -> dict[str, Any]:
    return element(
        row,
        pipeline=row.pipeline,
        partition=row.partition,
        token=row.token,
        trigger=trigger_of(row, upstream),
        flow_run_id=row.flow_run_id,
        manifest_digest=row.manifest_digest,
        contract_versions=dict(row.contract_versions or {}),
        upstream_tokens=upstream,
        ended=None
        if summary is None
        else element(summary, status=summary.status, detail=summary.detail, kpis=summary.kpis),
    )


def attempts(rows: list[StageAttempt]) -> list[dict[str, Any]]:
    """Every attempt of one run, oldest first, with the delay before the retry that followed
    a failed one (observed: the next attempt's start minus this one's end)."""
    found = []
    for index, row in enumerate(rows):
        following = next(
            (r for r in rows[index + 1 :] if r.stage == row.stage and r.attempt > row.attempt),
            None,
        )
        delay = None
        if row.state in (StageState.RETRYING, StageState.FAILED) and following is not None:
            delay = round((following.started_at - row.ended_at).total_seconds(), 3)
        error = None
        if row.error_class:
            error = {
                "class": row.error_class,
                "message": row.error_message,
                "transient": row.transient,
            }
        lineage = row.lineage or {}
        found.append(
            element(
                row,
                stage=row.stage,
                attempt=row.attempt,
                state=row.state,
                started_at=_time(row.started_at),
                ended_at=_time(row.ended_at),
                task_run_id=row.task_run_id,
                ran_on=lineage.get("ran_on"),
                retry_delay_s=delay,
                error=error,
                rows=row.rows,
                output_fingerprint=row.output_fingerprint,
            )
        )
    return found


def sources(rows: list[StageAttempt]) -> list[dict[str, Any]]:
    """The landed files ingestion attempts read, recorded with the attempt (its row)."""
    found = []
    for row in rows:
        for source in (row.lineage or {}).get("sources", []):
            found.append(
                element(
                    row,
                    stage=row.stage,
                    attempt=row.attempt,
                    path=source.get("path"),
                    size=source.get("size"),
                    sha256=source.get("sha256"),
                )
            )
    return found


def signature(
    check: GateCheck, decision: Decision, signed: DecisionSignature | None
) -> dict[str, Any]:
    """The decision's signature, verified now against the key it was accepted with."""
    if not decision.signed:
        return {"signed": False, "verified": None, "key_fingerprint": None}
    if signed is None:
        return {
            "signed": True,
            "verified": None,
            "key_fingerprint": None,
            "note": "the signature was not kept (a decision recorded before signatures were)",
        }
    message = approval_message(
        flow_run_id=check.flow_run_id or "",
        contract=check.contract,
        fingerprint=check.schema_fingerprint,
        decision=decision.decision,
    )
    return element(
        signed,
        signed=True,
        verified=verify_signature(signed.public_key, message, signed.signature),
        key_fingerprint=key_fingerprint(signed.public_key),
        recorded_fingerprint=signed.key_fingerprint,
        public_key=signed.public_key,
    )


def decision(check: GateCheck, row: Decision, signed: DecisionSignature | None) -> dict[str, Any]:
    return element(
        row,
        approver=row.approver,
        decision=row.decision,
        reason=row.reason,
        accepted=row.accepted,
        verdict=row.verdict,
        new_version=row.new_version,
        signature=signature(check, row, signed),
    )


def gate_check(row: GateCheck, status: str | None, decided: list[dict]) -> dict[str, Any]:
    return element(
        row,
        stage=row.stage,
        contract=row.contract,
        contract_version=row.contract_version,
        schema_fingerprint=row.schema_fingerprint,
        outcome=row.outcome,
        classification=row.classification,
        diff=row.diff,
        hold_status=status,
        decisions=decided,
    )


def contract_version(row: ContractVersion, used: set[str]) -> dict[str, Any]:
    return element(
        row,
        contract=row.contract,
        version=row.version,
        fingerprint=row.fingerprint,
        source=row.source,
        approved_by=row.approved_by,
        token=row.token,
        used_by_this_chain=row.version in used,
    )
