"""Sending a governance decision to a paused run and waiting for its verdict (CLI, console)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from prefect.exceptions import FlowPauseTimeout, ObjectNotFound
from prefect.exceptions import NotPausedError as PrefectNotPaused
from prefect.flow_runs import resume_flow_run

from barecount.errors import NoSuchHoldError, NotPausedError, PrefectUnavailableError
from barecount.governance.decision import DecisionInput
from barecount.governance.signing import approval_message, load_private_key, sign
from barecount.ledger import Ledger
from barecount.ledger.models import Decision, GateCheck
from barecount.manifest import load_manifests
from barecount.prefect_api import resolve_api_url, use_api
from barecount.runtime.orphans import decide_orphan, is_orphaned
from barecount.settings import Settings


@dataclass(frozen=True)
class Sent:
    check: GateCheck
    signed: bool
    verdict: Decision | None  # None: the run gave no verdict in time
    orphaned: bool = False  # nothing waited: the decision applied to the hold itself


def find_hold(ledger: Ledger, run: str) -> GateCheck:
    """The pending hold of a run, by hold id, Prefect flow run id or run token."""
    holds = [c for c, _ in ledger.pending_holds() if run in (c.flow_run_id, c.token, str(c.id))]
    if not holds:
        raise NoSuchHoldError(
            f"no run waiting for governance matches {run!r}; 'barecount pending' lists them"
        )
    return holds[0]


def _signature(settings: Settings, check: GateCheck, approver: str, decision: str) -> str:
    key = load_private_key(settings.home, approver)
    if key is None:
        return ""
    message = approval_message(
        flow_run_id=check.flow_run_id or "",
        contract=check.contract,
        fingerprint=check.schema_fingerprint,
        decision=decision,
    )
    return sign(key, message)


def _resume(check: GateCheck, form: dict[str, str]) -> None:
    try:
        resume_flow_run(check.flow_run_id, run_input=form)
    except ObjectNotFound:  # deleted since the orphan check
        raise NotPausedError(
            f"flow run {check.flow_run_id} does not exist on the Prefect server; decide again "
            "to apply the decision to the hold itself"
        ) from None
    except (PrefectNotPaused, FlowPauseTimeout):
        raise NotPausedError(
            f"flow run {check.flow_run_id} is not paused (it has not reached the gate yet, or "
            "it is no longer waiting); 'barecount pending' lists the runs that wait"
        ) from None
    except RuntimeError as exc:  # Prefect refused the resume for another reason
        raise NotPausedError(f"flow run {check.flow_run_id} cannot be resumed: {exc}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise PrefectUnavailableError(f"the Prefect API cannot be reached: {exc}") from None


def send_decision(
    settings: Settings,
    ledger: Ledger,
    manifests: Path,
    run: str,
    *,
    decision: str,
    approver: str,
    reason: str,
    wait: float,
) -> Sent:
    """Decide on a hold, signed with the approver's key when they have one under
    BARECOUNT_HOME/keys. A paused run is resumed with the decision and judges it itself;
    an orphaned hold (nothing waits on it any more) is decided here.

    Raises:
        NoSuchHoldError: no pending hold matches ``run``.
        NotPausedError: the run is not (yet, or any longer) paused.
    """
    check = find_hold(ledger, run)
    seen = {d.id for d in ledger.decisions_for(check_id=check.id)}
    signature = _signature(settings, check, approver, decision)
    form = {"decision": decision, "approver": approver, "reason": reason, "signature": signature}
    with use_api(resolve_api_url(settings)):
        if is_orphaned(ledger, check):
            loaded = load_manifests(manifests)  # only an orphaned hold needs the team here
            row = decide_orphan(ledger, loaded, check, DecisionInput(**form))
            return Sent(check=check, signed=bool(signature), verdict=row, orphaned=True)
        _resume(check, form)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        new = [d for d in ledger.decisions_for(check_id=check.id) if d.id not in seen]
        if new:
            return Sent(check=check, signed=bool(signature), verdict=new[-1])
        time.sleep(0.5)
    return Sent(check=check, signed=bool(signature), verdict=None)
