"""Holding a run for governance: the drift artifact and event, the resume form, the pause."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.events import emit_event
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput

from barecount import names
from barecount.alerts.delivery import hold_alert
from barecount.errors import ContractRejected, GovernanceTimedOut, HeldForGovernance
from barecount.governance.decision import DecisionInput
from barecount.governance.drift import SchemaDiff
from barecount.governance.review import review
from barecount.governance.schema import ExtractedSchema
from barecount.ledger.models import GateCheck, HoldWaiter
from barecount.manifest.team import Team
from barecount.runtime.gate import GateContext, approve, record_review
from barecount.runtime.report import artifact_key
from barecount.runtime.suspend import record_resumed, wait_suspended
from barecount.status import HoldStatus


class GovernanceDecision(RunInput, DecisionInput):
    """The input a paused run waits for. The Prefect UI renders it as the resume form."""


def hold(
    ctx: GateContext,
    check: GateCheck,
    diff: SchemaDiff,
    extracted: ExtractedSchema,
    *,
    resumed: bool = False,
) -> None:
    """Record the hold, tell people, and wait for a decision (or stop, for a backfill).

    ``resumed``: a suspended run came back to its own pending hold; it was recorded and
    announced the first time, so only the decision is read.
    """
    if not resumed:
        _announce(ctx, check, diff)
    if ctx.on_drift == "hold":
        raise HeldForGovernance(
            f"held: drift on {check.contract} awaits governance ({diff.summary()}); run "
            f"'barecount run {ctx.run.pipeline} -p {ctx.run.partition}' to review it"
        )
    if ctx.hold_mode == "suspend":  # the process exits here, and a worker runs it again

        def suspended(form: type[GovernanceDecision], timeout: int) -> DecisionInput:
            return wait_suspended(ctx.ledger, check, form, timeout)

        _decide(
            ctx,
            check,
            diff,
            extracted,
            suspended,
            counted=lambda: record_resumed(ctx.ledger, check),
        )
        return
    # who waits: a decision finds the hold orphaned once this process is gone
    ctx.ledger.append(row=HoldWaiter(check_id=check.id, host=socket.gethostname(), pid=os.getpid()))
    reminder = _hold_reminder(ctx, check)

    def paused(form: type[GovernanceDecision], timeout: int) -> DecisionInput:
        try:
            return pause_flow_run(wait_for_input=form, timeout=timeout, poll_interval=1)
        except FlowPauseTimeout:
            detail = f"no governance decision within {timeout} s"
            ctx.ledger.record_hold(check=check, status=HoldStatus.TIMED_OUT, detail=detail)
            raise GovernanceTimedOut(f"drift on {check.contract} held: {detail}") from None

    try:
        _decide(ctx, check, diff, extracted, paused)
    finally:
        if reminder is not None:
            reminder.cancel()


def _announce(ctx: GateContext, check: GateCheck, diff: SchemaDiff) -> None:
    """The pending hold in the ledger, the drift artifact, and the contract-drift event."""
    ctx.ledger.record_hold(check=check, status=HoldStatus.PENDING, detail=diff.summary())
    base = artifact_key(ctx.run.pipeline, ctx.run.partition, "drift", check.contract)
    create_markdown_artifact(key=base, markdown=diff.markdown(), description=diff.summary())
    emit_event(
        event=names.CONTRACT_DRIFT,
        resource={"prefect.resource.id": names.contract_resource(check.contract)},
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
            "ledger": ctx.ledger,
            "manifests": ctx.manifests,
            "check": check,
            "waited_hours": hours,
        },
    )
    timer.daemon = True
    timer.start()
    return timer


def _decide(
    ctx: GateContext,
    check: GateCheck,
    diff: SchemaDiff,
    extracted: ExtractedSchema,
    wait: Callable[[type[GovernanceDecision], int], DecisionInput],
    counted: Callable[[], None] = lambda: None,
) -> None:
    """Wait for decisions until one counts: approve (return) or reject (raise); ``counted``
    runs once it is recorded."""
    form = GovernanceDecision.with_initial_data(description=form_description(ctx, check, diff))
    timeout = ctx.pipeline.spec.governance.approval_timeout_seconds
    team = ctx.manifests.owning_team_of_contract(check.contract, ctx.pipeline)
    while True:
        answer = wait(form, timeout)
        verdict = review(
            answer,
            team=team,
            flow_run_id=ctx.flow_run_id or "",
            contract=check.contract,
            fingerprint=check.schema_fingerprint,
            version_in_force=ctx.in_force[check.contract].version,
            breaking=diff.breaking,
        )
        if not verdict.accepted:
            get_run_logger().warning(
                "governance decision refused: %s; waiting again", verdict.verdict
            )
            record_review(ctx, check, verdict)
            continue
        if verdict.hold_status is HoldStatus.REJECTED:
            record_review(ctx, check, verdict)
            counted()
            ctx.ledger.record_hold(
                check=check,
                status=HoldStatus.REJECTED,
                detail=f"{verdict.approver}: {verdict.reason}",
            )
            raise ContractRejected(
                f"drift on {check.contract} rejected by {verdict.approver}: {verdict.reason}"
            )
        approve(ctx, check, extracted, verdict, source="approval", counted=counted)
        return


def form_description(ctx: GateContext, check: GateCheck, diff: SchemaDiff) -> str:
    """The Markdown above the Prefect UI's resume form: what drifted and who decides."""
    team = ctx.manifests.owning_team_of_contract(check.contract, ctx.pipeline)
    approvers = ", ".join(a.name for a in team.spec.approvers) if team else "none"
    return (
        f"## Governance review: {ctx.run.pipeline} {ctx.run.partition}\n\n"
        f"The extract of stage `{check.stage}` drifted from contract `{check.contract}` "
        f"version {check.contract_version}. Nothing downstream runs until an approver of "
        f"team `{team.name if team else '-'}` ({approvers}) decides.\n\n"
        f"{diff.markdown()}\n"
        f"Schema fingerprint: `{check.schema_fingerprint}`  \n"
        f"Run token: `{ctx.run.token}`\n\n" + _signing_note(ctx, team)
    )


def _signing_note(ctx: GateContext, team: Team | None) -> str:
    """How a decision must be made to count: signed (the default), or why not."""
    if team is None:
        return ""
    if team.spec.require_signed_approvals:
        return (
            "This team requires **signed** decisions: a decision counts only with a signature "
            "that verifies with the approver's public key. To decide here, run `barecount sign "
            f"{ctx.flow_run_id} --as NAME --decision approve` (or `reject`) where your key "
            "is, check the text it signs, and paste the signature it prints into the "
            "`signature` field with the same decision and approver name. Or decide from a "
            f"terminal: `barecount approve {ctx.flow_run_id} --as NAME` (or `barecount reject "
            "...`), which sign and send.\n"
        )
    return (
        "This team accepts unsigned decisions (reason: "
        f"{team.spec.unsigned_approvals_reason}); a signature that does not verify is "
        "recorded as unsigned.\n"
    )
