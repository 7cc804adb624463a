"""Pending approvals, and an approver's decision sent to the paused run (``POST .../decide``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from barecount.console.auth import ConsoleSession
from barecount.console.deps import (
    ApproverDep,
    ConfigDep,
    ConsoleConfig,
    FormDep,
    LedgerDep,
    OptionalUserDep,
    SameOrigin,
)
from barecount.console.pages import Refusal, page
from barecount.errors import BareCountError, NoSuchHoldError, NotPausedError, SigningKeyError
from barecount.ledger import Ledger
from barecount.ledger.models import GateCheck
from barecount.runtime.resume import Sent, send_decision

router = APIRouter(tags=["pending"])

NOT_PENDING = "this drift no longer waits for a decision; see the pending list"


@router.get("/pending", response_class=HTMLResponse)
def pending(config: ConfigDep, ledger: LedgerDep, user: OptionalUserDep) -> HTMLResponse:
    holds = [
        {"check": c, "event": e, "decisions": ledger.decisions_for(check_id=c.id)}
        for c, e in ledger.pending_holds()
    ]
    return page("pending", title="Pending approvals", holds=holds, ui=config.prefect_ui, user=user)


@router.post("/pending/{check_id}/decide", response_class=HTMLResponse, dependencies=[SameOrigin])
async def decide(
    check_id: int, approver: ApproverDep, form: FormDep, config: ConfigDep, ledger: LedgerDep
) -> HTMLResponse:
    # Refusals here are answered and forgotten: the paused run never hears of them.
    fields = form or {}  # ApproverDep has checked the form's CSRF token
    decision = fields.get("decision", "")
    reason = fields.get("reason", "").strip()
    if decision not in ("approve", "reject"):
        raise Refusal(400, "decision must be approve or reject")
    if decision == "reject" and not reason:
        raise Refusal(400, "a rejection needs a reason; write one and retry")
    # send_decision blocks while it waits for the run's verdict
    return await run_in_threadpool(send, config, ledger, check_id, approver, decision, reason)


def send(
    config: ConsoleConfig,
    ledger: Ledger,
    check_id: int,
    user: ConsoleSession,
    decision: str,
    reason: str,
) -> HTMLResponse:
    """Resume the paused run with the logged-in approver's decision and show its verdict."""
    check = next((c for c, _ in ledger.pending_holds() if c.id == check_id), None)
    if check is None or not check.flow_run_id:
        return _not_sent(409, "Not pending", NOT_PENDING, user)
    try:
        sent = send_decision(
            config.settings,
            ledger,
            config.manifests,
            check.flow_run_id,
            decision=decision,
            approver=user.name,  # who is logged in; never a form field
            reason=reason,
            wait=config.decision_wait,
        )
    except NotPausedError as exc:  # not at the gate yet, no longer waiting, or gone
        return _not_sent(409, "Run not paused", f"{decision} not sent: {exc}", user)
    except NoSuchHoldError:  # decided or timed out since the lookup above
        return _not_sent(409, "Not pending", NOT_PENDING, user)
    except SigningKeyError as exc:  # the team requires signatures; no key here to sign with
        return _not_sent(409, "Not signed", f"{decision} not sent: {exc}", user)
    except BareCountError as exc:  # Prefect or the ledger cannot be reached
        return _not_sent(502, "Not sent", str(exc), user)
    ok, message = _outcome(sent, check, decision, user, config.decision_wait)
    return page(
        "verdict", title="Decision sent", ok=ok, message=message, token=check.token, user=user
    )


def _not_sent(status: int, title: str, message: str, user: ConsoleSession) -> HTMLResponse:
    return page("verdict", status, title=title, ok=False, message=message, token=None, user=user)


def _outcome(
    sent: Sent, check: GateCheck, decision: str, user: ConsoleSession, wait: float
) -> tuple[bool, str]:
    """Whether the run accepted the decision, and what to tell the approver."""
    signed = "signed" if sent.signed else "unsigned"
    verdict = sent.verdict
    if verdict is None:
        return False, (
            f"sent {decision} by {user.name} ({signed}); the run gave no verdict within "
            f"{wait:g} s — check this page again"
        )
    if not verdict.accepted:
        still = "the hold still waits" if sent.orphaned else "the run is paused again"
        return False, f"refused: {verdict.verdict}; {still}"
    version = (
        f"; contract {check.contract} is now version {verdict.new_version}"
        if verdict.new_version
        else ""
    )
    note = "" if verdict.verdict == "accepted" else f"; {verdict.verdict}"  # as unsigned: why
    return True, f"accepted: {decision} by {user.name} ({signed}){version}{note}"
