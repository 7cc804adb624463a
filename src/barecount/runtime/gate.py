"""The contract gate in a running flow: check an extract, record it, and hold on drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prefect import get_run_logger
from prefect.events import emit_event
from sqlalchemy import bindparam, select
from sqlmodel import Session

from barecount import names
from barecount.errors import GovernanceBlocked
from barecount.governance.contracts import document_with_schema, setting
from barecount.governance.gate import GateDecision, evaluate_contract
from barecount.governance.registry import NewVersion
from barecount.governance.review import Review, auto_review
from barecount.governance.schema import ExtractedSchema, SchemaColumn
from barecount.ledger import Ledger
from barecount.ledger.chain import append
from barecount.ledger.governance_store import hold_statuses
from barecount.ledger.models import (
    BlockedRun,
    ContractVersion,
    Decision,
    GateCheck,
    HoldEvent,
    PipelineRun,
)
from barecount.manifest import ManifestSet
from barecount.manifest.models import Pipeline, StageSpec
from barecount.runtime.requeue import requeue
from barecount.runtime.stage import StageResult
from barecount.status import GateOutcome, HoldStatus


@dataclass
class GateContext:
    """What the gate needs about the run; ``in_force`` changes when a drift is approved."""

    ledger: Ledger
    manifests: ManifestSet
    pipeline: Pipeline
    run: PipelineRun
    flow_run_id: str | None
    in_force: dict[str, ContractVersion] = field(default_factory=dict)
    on_drift: str = "pause"  # pause: wait for a decision; hold: record the hold and stop
    hold_mode: str = "pause"  # how a decision is waited for: pause, or suspend (runtime.suspend)
    resumed: bool = False  # a suspended run, run again: its own hold is met at the gate

    @property
    def versions(self) -> dict[str, str]:
        return {name: row.version for name, row in self.in_force.items()}


def _schema_of(row: ContractVersion) -> ExtractedSchema:
    return ExtractedSchema(
        object=row.object_name, columns=tuple(SchemaColumn(**c) for c in row.columns)
    )


def check_stage(ctx: GateContext, stage: StageSpec, result: StageResult) -> None:
    """Let the run continue past an ingestion stage only when governance allows it.

    Raises:
        GovernanceBlocked: another run's drift on this contract awaits governance.
        ContractRejected: this run's drift was rejected, or nobody decided in time.
        HeldForGovernance: the drift is held and this run (a backfill) does not wait.
    """
    from barecount.runtime.hold import hold  # the pause loop sits on top of this module
    from barecount.runtime.suspend import own_pending_hold

    name = stage.contract
    if name is None or result.schema_ is None:
        return
    in_force = ctx.in_force[name]
    extracted = result.schema_
    decision = evaluate_contract(
        _schema_of(in_force),
        extracted,
        name=name,
        version=in_force.version,
        auto_approve=str(setting(ctx.manifests.contract(name), "autoApprove", "none")),
    )
    own = own_pending_hold(ctx.ledger, ctx.run, name) if ctx.resumed else None
    if own is not None and own.schema_fingerprint == extracted.fingerprint:
        hold(ctx, own, decision.diff, extracted, resumed=True)  # back from a suspension
        return
    check = _record_unless_held(ctx, stage, in_force, extracted, decision)
    get_run_logger().info("contract gate %s: %s", stage.name, decision.message)
    if decision.outcome == GateOutcome.PASS:
        return
    if decision.outcome == GateOutcome.AUTO_APPROVED:
        verdict = auto_review(version_in_force=in_force.version, breaking=decision.diff.breaking)
        approve(ctx, check, extracted, verdict, source="auto-approval")
        return
    hold(ctx, check, decision.diff, extracted)


def _record_unless_held(
    ctx: GateContext,
    stage: StageSpec,
    in_force: ContractVersion,
    extracted: ExtractedSchema,
    decision: GateDecision,
) -> GateCheck:
    """Record the gate's check, or block this run while another run's drift on the contract
    awaits a decision.

    Only pending holds block: a decided, expired or withdrawn hold never does. The block is
    recorded with the hold, so an approval queues this partition again. The holds are read
    and the check appended in one transaction: this runs on the flow's thread between a
    stage and the next, once per governed stage of every partition of a backfill.
    """
    with ctx.ledger.session() as session:
        for check, event in _holds_on(session, in_force.contract):
            if check.flow_run_id == ctx.flow_run_id or event.status != HoldStatus.PENDING:
                continue
            message = (
                f"blocked: drift on {in_force.contract} awaiting governance (run "
                f"{check.flow_run_id}, {check.pipeline} {check.partition}); it runs again "
                f"when the hold is approved ('barecount pending' lists it)"
            )
            row = check_row(
                ctx, stage, in_force, extracted, None, outcome=GateOutcome.BLOCKED, detail=message
            )
            own = append(session, row)
            append(session, _blocked_row(ctx, own, check))
            break
        else:
            return append(session, check_row(ctx, stage, in_force, extracted, decision))
    raise GovernanceBlocked(message)


# built once: SQLAlchemy then reuses its compiled form
_ANY_HOLD = select(HoldEvent.id).where(HoldEvent.contract == bindparam("c")).limit(1)


def _holds_on(session: Session, contract: str) -> list[tuple[GateCheck, HoldEvent]]:
    """Each hold on ``contract`` with its latest status (governance_store.hold_statuses);
    a contract that never had a hold, nearly every one, costs one indexed lookup."""
    if session.execute(_ANY_HOLD, {"c": contract}).first() is None:
        return []
    return hold_statuses(session=session, contracts=[contract])


def _blocked_row(ctx: GateContext, own: GateCheck, hold: GateCheck) -> BlockedRun:
    return BlockedRun(
        check_id=own.id,
        hold_check_id=hold.id,
        run_id=ctx.run.id,
        token=ctx.run.token,
        pipeline=ctx.run.pipeline,
        partition=ctx.run.partition,
    )


def check_row(
    ctx: GateContext,
    stage: StageSpec,
    in_force: ContractVersion,
    extracted: ExtractedSchema,
    decision: GateDecision | None,
    *,
    outcome: str | None = None,
    detail: str = "",
) -> GateCheck:
    """The ledger row of the gate's check of one extract."""
    diff = decision.diff if decision else None
    return GateCheck(
        run_id=ctx.run.id,
        token=ctx.run.token,
        pipeline=ctx.run.pipeline,
        partition=ctx.run.partition,
        stage=stage.name,
        contract=in_force.contract,
        contract_version=in_force.version,
        flow_run_id=ctx.flow_run_id,
        schema_fingerprint=extracted.fingerprint,
        extracted=[c.model_dump() for c in extracted.columns],
        outcome=outcome or (decision.outcome if decision else GateOutcome.BLOCKED),
        classification=diff.classification if diff else "none",
        diff=[c.model_dump() for c in diff.changes] if diff else [],
        detail=detail or (decision.message if decision else ""),
    )


def record_review(ctx: GateContext, check: GateCheck, verdict: Review) -> Decision:
    """Append a decision on a hold, accepted or refused, with why."""
    return ctx.ledger.record_decision(
        decision=decision_row(check, verdict), signed=verdict.verified_signature
    )


def decision_row(check: GateCheck, verdict: Review) -> Decision:
    """The ledger row of a review of the hold ``check``."""
    return Decision(
        check_id=check.id,
        run_id=check.run_id,
        token=check.token,
        contract=check.contract,
        decision=verdict.decision,
        approver=verdict.approver,
        reason=verdict.reason,
        signed=verdict.signed,
        accepted=verdict.accepted,
        verdict=verdict.verdict,
        new_version=verdict.new_version,
    )


def approve(
    ctx: GateContext,
    check: GateCheck,
    extracted: ExtractedSchema,
    verdict: Review,
    *,
    source: str,
    counted: Callable[[], None] | None = None,
) -> None:
    """Record an approval, register the new contract version, and let the run go on;
    ``counted`` runs right after the decision is recorded (a suspended run: resumed)."""
    assert verdict.new_version is not None
    record_review(ctx, check, verdict)
    if counted is not None:
        counted()
    row = ctx.ledger.register_contract_version(
        version=NewVersion(
            contract=check.contract,
            version=verdict.new_version,
            fingerprint=extracted.fingerprint,
            object_name=extracted.object,
            columns=[c.model_dump() for c in extracted.columns],
            source=source,
            approved_by=verdict.approver,
            token=ctx.run.token,
            document=document_with_schema(
                ctx.manifests.contract(check.contract), extracted, verdict.new_version
            ),
        ),
        closing=check if verdict.hold_status is not None else None,
        hold_status=verdict.hold_status or "",
        detail=verdict.approver,
    )
    ctx.in_force[check.contract] = row
    if verdict.hold_status is not None:  # a held drift approved: what it blocked runs again
        requeue(ctx.ledger, check, include_held=False)
    get_run_logger().info(
        "contract %s version %s approved by %s; continuing",
        check.contract,
        row.version,
        verdict.approver,
    )
    announce_approval(check, row.version, verdict.approver)


def announce_approval(check: GateCheck, version: str, approver: str) -> None:
    """The barecount.contract.approved event: pipelines triggered by it start."""
    emit_event(
        event=names.CONTRACT_APPROVED,
        resource={"prefect.resource.id": names.contract_resource(check.contract)},
        payload={
            "contract": check.contract,
            "version": version,
            "approved_by": approver,
            "pipeline": check.pipeline,
            "partition": check.partition,
            "token": check.token,
        },
    )
