"""Sending a governance decision to a paused run and waiting for its verdict (CLI, console)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from prefect.exceptions import FlowPauseTimeout, ObjectNotFound
from prefect.exceptions import NotPausedError as PrefectNotPaused
from prefect.flow_runs import resume_flow_run

from barecount.errors import (
    NoSuchHoldError,
    NotPausedError,
    PrefectUnavailableError,
    SigningKeyError,
    UsageError,
)
from barecount.governance.decision import DecisionInput
from barecount.governance.demokeys import is_demo_key
from barecount.governance.signing import (
    approval_message,
    key_path,
    load_key_file,
    load_private_key,
    sign,
)
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
    """The pending hold of a run, by hold id, Prefect flow run id or run token, or a unique
    prefix of one (an exact match wins over prefixes).

    Raises:
        NoSuchHoldError: nothing pending matches.
        UsageError: the prefix matches more than one hold (the candidates are listed).
    """
    holds = sorted((c for c, _ in ledger.pending_holds()), key=lambda c: c.id)
    refs = {c.id: [r for r in (str(c.id), c.token, c.flow_run_id) if r] for c in holds}
    found = [c for c in holds if run in refs[c.id]]
    if not found:
        found = [c for c in holds if any(r.startswith(run) for r in refs[c.id])]
    if not found:
        raise NoSuchHoldError(
            f"no run waiting for governance matches {run!r}; 'barecount pending' lists them"
        )
    if len(found) > 1:
        listed = "; ".join(
            f"hold {c.id} (token {c.token}, flow run {c.flow_run_id or '-'})" for c in found
        )
        raise UsageError(f"{run!r} matches {len(found)} held runs: {listed}; give more of it")
    return found[0]


def _signature(
    settings: Settings,
    manifests: Path,
    check: GateCheck,
    approver: str,
    decision: str,
    key_file: Path | None,
) -> str:
    """The approver's signature of the decision, or "" when they have no key and their team
    accepts unsigned decisions (the run judges what it gets either way).

    Raises:
        SigningKeyError: no key, and the owning team requires signed decisions.
    """
    key = load_key_file(key_file) if key_file else load_private_key(settings.home, approver)
    if key is None:
        _unsigned_allowed(settings, manifests, check, approver)
        return ""
    message = approval_message(
        flow_run_id=check.flow_run_id or "",
        contract=check.contract,
        fingerprint=check.schema_fingerprint,
        decision=decision,
    )
    return sign(key, message)


@dataclass(frozen=True)
class FormSignature:
    """A signature for the Prefect UI's resume form and exactly what it signs."""

    check: GateCheck
    key_file: Path
    message: str
    signature: str


def sign_for_form(
    settings: Settings,
    ledger: Ledger,
    run: str,
    *,
    approver: str,
    decision: str,
    key_file: Path | None = None,
) -> FormSignature:
    """Sign ``decision`` on the pending hold ``run`` as the run will check it, for a person
    to paste into the resume form; nothing is sent.

    Raises:
        NoSuchHoldError: no pending hold matches ``run``.
        SigningKeyError: there is no key to sign with.
    """
    check = find_hold(ledger, run)
    path = key_file or key_path(settings.home, approver)
    key = load_key_file(key_file) if key_file else load_private_key(settings.home, approver)
    if key is None:
        raise SigningKeyError(
            f"{approver!r} has no private key at {path}; pass --key FILE, or 'barecount keys "
            f"generate {approver}' (its public key must then replace the team's)"
        )
    message = approval_message(
        flow_run_id=check.flow_run_id or "",
        contract=check.contract,
        fingerprint=check.schema_fingerprint,
        decision=decision,
    )
    return FormSignature(check, path, message.decode(), sign(key, message))


def _unsigned_allowed(settings: Settings, manifests: Path, check: GateCheck, name: str) -> None:
    loaded = load_manifests(manifests, check_imports=False)
    team = loaded.owning_team_of_contract(check.contract, loaded.pipeline(check.pipeline))
    if team is None or not team.spec.require_signed_approvals:
        return
    listed = next((a for a in team.spec.approvers if a.name == name), None)
    if listed is None:
        return  # not an approver at all: the run refuses it and says so
    fix = (
        "'barecount keys demo' writes the example team's published demo keys"
        if is_demo_key(listed.public_key, name)
        else f"put {name}'s private key there, or pass --key FILE ('barecount keys generate "
        f"{name}' makes a new one; its public key must then replace the team's)"
    )
    raise SigningKeyError(
        f"team {team.name!r} requires signed decisions and {name!r} has no private key at "
        f"{key_path(settings.home, name)}; {fix}"
    )


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
    key_file: Path | None = None,
) -> Sent:
    """Decide on a hold, signed with the approver's key (``key_file``, else
    BARECOUNT_HOME/keys/NAME.key). A paused run is resumed with the decision and judges it
    itself; an orphaned hold (nothing waits on it any more) is decided here.

    Raises:
        NoSuchHoldError: no pending hold matches ``run``.
        NotPausedError: the run is not (yet, or any longer) paused.
        SigningKeyError: no key to sign with, and the owning team requires signatures.
    """
    check = find_hold(ledger, run)
    seen = {d.id for d in ledger.decisions_for(check_id=check.id)}
    signature = _signature(settings, manifests, check, approver, decision, key_file)
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
