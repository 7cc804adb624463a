"""Sending a governance decision to a paused run and waiting for its verdict (CLI, console)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from barecount.errors import BareCountError
from barecount.ledger.db import session_scope
from barecount.ledger.governance_store import decisions_for, pending_holds
from barecount.ledger.models import Decision, GateCheck
from barecount.settings import Settings


@dataclass(frozen=True)
class Sent:
    check: GateCheck
    signed: bool
    verdict: Decision | None  # None: the run gave no verdict in time


def find_hold(settings: Settings, run: str) -> GateCheck:
    """The pending hold of a run, by Prefect flow run id or run token."""
    with session_scope(settings.ledger_url) as session:
        holds = [c for c, _ in pending_holds(session=session) if run in (c.flow_run_id, c.token)]
    if not holds:
        raise BareCountError(
            f"no run waiting for governance matches {run!r}; 'barecount pending' lists them"
        )
    return holds[0]


def send_decision(
    settings: Settings, run: str, *, decision: str, approver: str, reason: str, wait: float
) -> Sent:
    """Resume the paused run with a decision, signed with the approver's key when they have
    one under BARECOUNT_HOME/keys; the run itself decides whether it counts."""
    from prefect.exceptions import ObjectNotFound
    from prefect.flow_runs import resume_flow_run

    from barecount.governance.signing import approval_message, load_private_key, sign
    from barecount.runtime.server import resolve_api_url, use_api

    check = find_hold(settings, run)
    with session_scope(settings.ledger_url) as session:
        seen = {d.id for d in decisions_for(session=session, check_id=check.id)}
    key = load_private_key(settings.home, approver)
    signature = ""
    if key is not None:
        message = approval_message(
            flow_run_id=check.flow_run_id or "",
            contract=check.contract,
            fingerprint=check.schema_fingerprint,
            decision=decision,
        )
        signature = sign(key, message)
    form = {"decision": decision, "approver": approver, "reason": reason, "signature": signature}
    with use_api(resolve_api_url(settings)):
        try:
            resume_flow_run(check.flow_run_id, run_input=form)
        except ObjectNotFound:
            raise BareCountError(
                f"flow run {check.flow_run_id} does not exist on the Prefect server"
            ) from None
        except RuntimeError as exc:  # NotPausedError and friends
            raise BareCountError(f"flow run {check.flow_run_id} cannot be resumed: {exc}") from None
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with session_scope(settings.ledger_url) as session:
            new = [d for d in decisions_for(session=session, check_id=check.id) if d.id not in seen]
        if new:
            return Sent(check=check, signed=bool(signature), verdict=new[-1])
        time.sleep(0.5)
    return Sent(check=check, signed=bool(signature), verdict=None)
