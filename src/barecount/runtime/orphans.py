"""Holds whose run no longer waits (killed, crashed, a backfill that went on): a decision
applies to the hold itself. Approving registers the contract version and queues the held
partition and those it blocked; rejecting closes the hold and records the run as rejected."""

from __future__ import annotations

import os
import socket

from prefect import get_client
from prefect.states import Cancelled
from sqlalchemy import select

from barecount.errors import NotAnApproverError
from barecount.governance.contracts import document_with_schema
from barecount.governance.decision import DecisionInput
from barecount.governance.registry import NewVersion
from barecount.governance.review import Review, review
from barecount.governance.schema import ExtractedSchema, SchemaColumn
from barecount.ledger import Ledger
from barecount.ledger.models import Decision, GateCheck, HoldWaiter, PipelineRun
from barecount.manifest import ManifestSet
from barecount.runtime.gate import announce_approval, decision_row
from barecount.runtime.requeue import requeue
from barecount.status import HoldStatus, RunStatus


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def flow_run_state(flow_run_id: str | None) -> str | None:
    """The Prefect state name of a hold's flow run; None when there is none."""
    from prefect.exceptions import ObjectNotFound

    if not flow_run_id:
        return None
    try:
        with get_client(sync_client=True) as client:
            flow_run = client.read_flow_run(flow_run_id)
    except ObjectNotFound:
        return None
    return flow_run.state.name if flow_run.state else None


ENDED = ("Completed", "Failed", "Crashed", "Cancelled", "TimedOut")


def is_orphaned(ledger: Ledger, check: GateCheck) -> bool:
    """Whether nothing waits on a pending hold any more: its flow run is gone or ended (a
    backfill goes on past its holds), or the process that paused it on this host died.

    A run still on its way to the gate (scheduled, running) is not orphaned: it will pause.
    """
    state = flow_run_state(check.flow_run_id)
    if state is None or state in ENDED:
        return True
    with ledger.session() as session:
        waiter = (
            session.execute(
                select(HoldWaiter).where(HoldWaiter.check_id == check.id).order_by(HoldWaiter.id)
            )
            .scalars()
            .all()
        )
    if not waiter or waiter[-1].host != socket.gethostname():
        return False  # suspended, or paused elsewhere: assume it still waits
    return not _alive(waiter[-1].pid)


def decide_orphan(
    ledger: Ledger, manifests: ManifestSet, check: GateCheck, answer: DecisionInput
) -> Decision:
    """Apply a decision to an orphaned hold; the returned row says whether it counted."""
    pipeline = manifests.pipeline(check.pipeline)
    verdict = review(
        answer,
        team=manifests.owning_team_of_contract(check.contract, pipeline),
        flow_run_id=check.flow_run_id or "",
        contract=check.contract,
        fingerprint=check.schema_fingerprint,
        version_in_force=check.contract_version,
        breaking=check.classification == "breaking",
    )
    decision = ledger.record_decision(
        decision=decision_row(check, verdict), signed=verdict.verified_signature
    )
    if not verdict.accepted:
        return decision
    _stop_flow_run(check, verdict)
    if verdict.hold_status is HoldStatus.REJECTED:
        detail = f"{verdict.approver}: {verdict.reason}"
        ledger.record_hold(check=check, status=HoldStatus.REJECTED, detail=detail)
        end_held_run(
            ledger, check, RunStatus.REJECTED, f"drift on {check.contract} rejected by {detail}"
        )
        return decision
    extracted = ExtractedSchema(
        object=manifests.contract(check.contract).schema_[0].name or check.contract,
        columns=tuple(SchemaColumn(**c) for c in check.extracted),
    )
    ledger.register_contract_version(
        version=NewVersion(
            contract=check.contract,
            version=verdict.new_version,
            fingerprint=check.schema_fingerprint,  # what the gate saw, as it saw it
            object_name=extracted.object,
            columns=[c.model_dump() for c in extracted.columns],
            source="approval",
            approved_by=verdict.approver,
            token=check.token,
            document=document_with_schema(
                manifests.contract(check.contract), extracted, verdict.new_version
            ),
        ),
        closing=check,
        hold_status=HoldStatus.APPROVED,
        detail=verdict.approver,
    )
    announce_approval(check, verdict.new_version, verdict.approver)
    requeue(ledger, check, include_held=True)
    return decision


def end_held_run(ledger: Ledger, check: GateCheck, status: RunStatus, detail: str) -> None:
    """The held run of ``check`` ends with ``status`` (its earlier end, if any, said held);
    nothing is left running that could record it (orphaned, or suspended and expired)."""
    from barecount.ledger import store

    with ledger.session() as session:
        run = session.get(PipelineRun, check.run_id)
        if run is not None:
            store.finish_run(session=session, run=run, status=status, detail=detail)


def _stop_flow_run(check: GateCheck, verdict: Review) -> None:
    """A paused flow run whose process is gone would stay Paused for ever: cancel it."""
    if flow_run_state(check.flow_run_id) not in ("Paused", "Suspended"):
        return
    message = f"hold decided ({verdict.decision} by {verdict.approver}) after its process was gone"
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(check.flow_run_id, Cancelled(message=message), force=True)


def withdraw_hold(
    ledger: Ledger, manifests: ManifestSet, check: GateCheck, *, approver: str, reason: str
) -> None:
    """Close a pending hold without deciding its drift, for an approver of the owning team.

    Raises:
        NotAnApproverError: ``approver`` does not approve for the contract's team.
    """
    team = manifests.owning_team_of_contract(check.contract, manifests.pipeline(check.pipeline))
    names_ = [a.name for a in team.spec.approvers] if team else []
    if approver not in names_:
        raise NotAnApproverError(
            f"{approver!r} is not an approver of the team that owns {check.contract!r} "
            f"(approvers: {', '.join(names_) or 'none'})"
        )
    if not reason.strip():
        raise NotAnApproverError("withdrawing a hold needs a reason")
    ledger.record_hold(
        check=check, status=HoldStatus.WITHDRAWN, detail=f"{approver}: {reason.strip()}"
    )
