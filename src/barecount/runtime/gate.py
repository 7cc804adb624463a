"""The contract gate in a running flow: check, record, and pause until governance decides."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.events import emit_event
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run

from barecount import events
from barecount.alerts import hold_alert
from barecount.errors import ContractRejected, GovernanceBlocked, HeldForGovernance
from barecount.governance.contracts import document_with_schema, next_version, setting
from barecount.governance.decision import GovernanceDecision, authorize
from barecount.governance.drift import SchemaDiff
from barecount.governance.gate import GateDecision, evaluate_contract
from barecount.governance.schema import ExtractedSchema, SchemaColumn
from barecount.ledger.db import session_scope
from barecount.ledger.governance_store import (
    hold_statuses,
    record_check,
    record_decision,
    record_hold,
    register_contract_version,
)
from barecount.ledger.models import ContractVersion, Decision, GateCheck, PipelineRun
from barecount.manifest import ManifestSet
from barecount.manifest.models import Pipeline, StageSpec
from barecount.runtime.report import artifact_key
from barecount.runtime.stage import StageResult


@dataclass
class GateContext:
    """What the gate needs about the run; ``in_force`` changes when a drift is approved."""

    ledger_url: str
    manifests: ManifestSet
    pipeline: Pipeline
    run: PipelineRun
    flow_run_id: str | None
    in_force: dict[str, ContractVersion] = field(default_factory=dict)
    on_drift: str = "pause"  # pause: wait for a decision; hold: record the hold and stop

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
    """
    name = stage.contract
    if name is None or result.schema_ is None:
        return
    logger = get_run_logger()
    in_force = ctx.in_force[name]
    extracted = result.schema_
    _refuse_if_held(ctx, stage, in_force, extracted)
    odcs = ctx.manifests.contract(name)
    decision = evaluate_contract(
        _schema_of(in_force),
        extracted,
        name=name,
        version=in_force.version,
        auto_approve=str(setting(odcs, "autoApprove", "none")),
    )
    check = _record_check(ctx, stage, in_force, extracted, decision)
    logger.info("contract gate %s: %s", stage.name, decision.message)
    if decision.outcome == "pass":
        return
    if decision.outcome == "auto-approved":
        _approve(
            ctx,
            check,
            decision.diff,
            extracted,
            approver="auto",
            reason="auto-approve: non-breaking",
            source="auto-approval",
            signed=False,
        )
        return
    _hold(ctx, stage, check, decision.diff, extracted)


def _refuse_if_held(
    ctx: GateContext, stage: StageSpec, in_force: ContractVersion, extracted: ExtractedSchema
) -> None:
    with session_scope(ctx.ledger_url) as session:
        holds = hold_statuses(session=session, contracts=[in_force.contract])
    for check, event in holds:
        if check.flow_run_id == ctx.flow_run_id:
            continue
        pending = event.status == "pending"
        rejected = event.status == "rejected" and event.contract_version == in_force.version
        if not (pending or rejected):
            continue
        state = "awaiting governance" if pending else "rejected by governance"
        message = (
            f"blocked: drift on {in_force.contract} {state} (run {check.flow_run_id}, "
            f"{check.pipeline} {check.partition})"
        )
        _record_check(ctx, stage, in_force, extracted, None, outcome="blocked", detail=message)
        raise GovernanceBlocked(message)


def _record_check(
    ctx: GateContext,
    stage: StageSpec,
    in_force: ContractVersion,
    extracted: ExtractedSchema,
    decision: GateDecision | None,
    *,
    outcome: str | None = None,
    detail: str = "",
) -> GateCheck:
    diff = decision.diff if decision else None
    row = GateCheck(
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
        outcome=outcome or (decision.outcome if decision else "blocked"),
        classification=diff.classification if diff else "none",
        diff=[c.model_dump() for c in diff.changes] if diff else [],
        detail=detail or (decision.message if decision else ""),
    )
    with session_scope(ctx.ledger_url) as session:
        return record_check(session=session, check=row)


def _hold(
    ctx: GateContext,
    stage: StageSpec,
    check: GateCheck,
    diff: SchemaDiff,
    extracted: ExtractedSchema,
) -> None:
    with session_scope(ctx.ledger_url) as session:
        record_hold(session=session, check=check, status="pending", detail=diff.summary())
    base = artifact_key(ctx.run.pipeline, ctx.run.partition, "drift", check.contract)
    create_markdown_artifact(key=base, markdown=diff.markdown(), description=diff.summary())
    emit_event(
        event=events.CONTRACT_DRIFT,
        resource={"prefect.resource.id": events.contract_resource(check.contract)},
        payload={
            "contract": check.contract,
            "version": check.contract_version,
            "pipeline": ctx.run.pipeline,
            "partition": ctx.run.partition,
            "token": ctx.run.token,
            "flow_run_id": ctx.flow_run_id,
            "classification": diff.classification,
            "summary": diff.summary(),
        },
    )
    if ctx.on_drift == "hold":
        raise HeldForGovernance(
            f"held: drift on {check.contract} awaits governance ({diff.summary()}); run "
            f"'barecount run {ctx.run.pipeline} -p {ctx.run.partition}' to review it"
        )
    form = GovernanceDecision.with_initial_data(description=_form_description(ctx, check, diff))
    timeout = ctx.pipeline.spec.governance.approval_timeout_seconds
    reminder = _hold_reminder(ctx, check)
    try:
        _wait_for_decision(ctx, check, diff, extracted, form, timeout)
    finally:
        if reminder is not None:
            reminder.cancel()


def _hold_reminder(ctx: GateContext, check: GateCheck) -> threading.Timer | None:
    """Alert the team if the hold outlives the team's limit while the flow waits."""
    team = ctx.manifests.owning_team_of_contract(check.contract, ctx.pipeline)
    if team is None:
        return None
    hours = team.spec.hold_alert_hours
    timer = threading.Timer(
        hours * 3600,
        hold_alert,
        kwargs={
            "ledger_url": ctx.ledger_url,
            "manifests": ctx.manifests,
            "check": check,
            "waited_hours": hours,
        },
    )
    timer.daemon = True
    timer.start()
    return timer


def _wait_for_decision(
    ctx: GateContext,
    check: GateCheck,
    diff: SchemaDiff,
    extracted: ExtractedSchema,
    form: type,
    timeout: int,
) -> None:
    logger = get_run_logger()
    while True:
        try:
            answer = pause_flow_run(wait_for_input=form, timeout=timeout, poll_interval=1)
        except FlowPauseTimeout:
            detail = f"no governance decision within {timeout} s"
            with session_scope(ctx.ledger_url) as session:
                record_hold(session=session, check=check, status="timed-out", detail=detail)
            raise ContractRejected(f"drift on {check.contract} held: {detail}") from None
        team = ctx.manifests.owning_team_of_contract(check.contract, ctx.pipeline)
        verdict = authorize(
            answer,
            team=team,
            flow_run_id=ctx.flow_run_id or "",
            contract=check.contract,
            fingerprint=check.schema_fingerprint,
        )
        if not verdict.accepted:
            logger.warning("governance decision refused: %s; pausing again", verdict.reason)
            _record_decision(ctx, check, answer, accepted=False, verdict=verdict.reason)
            continue
        if answer.decision == "reject":
            _record_decision(ctx, check, answer, accepted=True, verdict="accepted")
            with session_scope(ctx.ledger_url) as session:
                record_hold(
                    session=session,
                    check=check,
                    status="rejected",
                    detail=f"{answer.approver}: {answer.reason}",
                )
            raise ContractRejected(
                f"drift on {check.contract} rejected by {answer.approver}: {answer.reason}"
            )
        _approve(
            ctx,
            check,
            diff,
            extracted,
            approver=answer.approver,
            reason=answer.reason,
            source="approval",
            signed=bool(answer.signature),
        )
        return


def _form_description(ctx: GateContext, check: GateCheck, diff: SchemaDiff) -> str:
    team = ctx.manifests.owning_team_of_contract(check.contract, ctx.pipeline)
    approvers = ", ".join(a.name for a in team.spec.approvers) if team else "none"
    signed = team is not None and team.spec.require_signed_approvals
    return (
        f"## Governance review: {ctx.run.pipeline} {ctx.run.partition}\n\n"
        f"The extract of stage `{check.stage}` drifted from contract `{check.contract}` "
        f"version {check.contract_version}. Nothing downstream runs until an approver of "
        f"team `{team.name if team else '-'}` ({approvers}) decides.\n\n"
        f"{diff.markdown()}\n"
        f"Schema fingerprint: `{check.schema_fingerprint}`  \n"
        f"Run token: `{ctx.run.token}`\n\n"
        + (
            "This team requires **signed** decisions: use `barecount approve "
            f"{ctx.flow_run_id} --as NAME` (or `barecount reject ...`).\n"
            if signed
            else ""
        )
    )


def _record_decision(
    ctx: GateContext,
    check: GateCheck,
    answer: GovernanceDecision,
    *,
    accepted: bool,
    verdict: str,
    new_version: str | None = None,
    signed: bool | None = None,
) -> Decision:
    row = Decision(
        check_id=check.id,
        run_id=ctx.run.id,
        token=ctx.run.token,
        contract=check.contract,
        decision=answer.decision,
        approver=answer.approver[:200],
        reason=answer.reason,
        signed=bool(answer.signature) if signed is None else signed,
        accepted=accepted,
        verdict=verdict,
        new_version=new_version,
    )
    with session_scope(ctx.ledger_url) as session:
        return record_decision(session=session, decision=row)


def _approve(
    ctx: GateContext,
    check: GateCheck,
    diff: SchemaDiff,
    extracted: ExtractedSchema,
    *,
    approver: str,
    reason: str,
    source: str,
    signed: bool,
) -> None:
    in_force = ctx.in_force[check.contract]
    version = next_version(in_force.version, breaking=diff.breaking)
    odcs = ctx.manifests.contract(check.contract)
    answer = GovernanceDecision(decision="approve", approver=approver, reason=reason)
    _record_decision(
        ctx, check, answer, accepted=True, verdict="accepted", new_version=version, signed=signed
    )
    with session_scope(ctx.ledger_url) as session:
        row = register_contract_version(
            session=session,
            contract=check.contract,
            version=version,
            fingerprint=extracted.fingerprint,
            object_name=extracted.object,
            columns=[c.model_dump() for c in extracted.columns],
            source=source,
            approved_by=approver,
            token=ctx.run.token,
            document=document_with_schema(odcs, extracted, version),
        )
        if source == "approval":
            record_hold(session=session, check=check, status="approved", detail=approver)
    ctx.in_force[check.contract] = row
    get_run_logger().info(
        "contract %s version %s approved by %s; continuing", check.contract, version, approver
    )
    emit_event(
        event=events.CONTRACT_APPROVED,
        resource={"prefect.resource.id": events.contract_resource(check.contract)},
        payload={
            "contract": check.contract,
            "version": version,
            "approved_by": approver,
            "pipeline": ctx.run.pipeline,
            "partition": ctx.run.partition,
            "token": ctx.run.token,
        },
    )
