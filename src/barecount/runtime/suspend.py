"""Suspending a held run: it leaves its worker, and runs again from the top once decided.

A run from a deployment that holds for governance calls Prefect's ``suspend_flow_run`` with
the decision form: the flow run turns Suspended and its process exits, so the worker's slot
is free while people decide. Resuming it (``barecount approve``, the console, or the Prefect
UI's form) reschedules it; a worker runs the flow again from the top. That second run takes
its stages before the gate from the token's cache, finds its own run row and pending hold in
the ledger (``resumed_run``, ``own_pending_hold``) and asks ``suspend_flow_run`` again with
the same key, which now returns the decision instead of suspending.

The ledger keeps each leg (``HoldSuspension``: suspended, then resumed) between the hold and
the decision, under the run's one token. Nothing waits in a process, so expiry and the
team's reminder come from ``sweep``: a suspended hold whose flow run Prefect failed at the
approval timeout is recorded as timed out.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.flow_runs import suspend_flow_run
from sqlalchemy import select

from barecount.alerts.delivery import hold_alert
from barecount.errors import UnknownPipelineError
from barecount.governance.decision import DecisionInput
from barecount.ledger import Ledger
from barecount.ledger.models import GateCheck, HoldSuspension, PipelineRun
from barecount.manifest import ManifestSet
from barecount.manifest.models import Pipeline
from barecount.runtime.orphans import end_held_run, flow_run_state
from barecount.status import HoldStatus, RunStatus

SUSPENDED, RESUMED = "suspended", "resumed"


def hold_mode(pipeline: Pipeline) -> str:
    """How this flow run waits for a decision: ``suspend`` or ``pause``.

    ``auto`` suspends runs that come from a deployment (a worker can run them again) and
    pauses the others (``barecount run`` in a terminal); ``suspend`` outside a deployment
    pauses too, since nothing could pick the run up again.
    """
    wanted = pipeline.spec.governance.hold
    if wanted == "pause":
        return "pause"
    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None and context.flow_run.deployment_id:
        return "suspend"
    if wanted == "suspend":
        get_run_logger().warning(
            "governance.hold is suspend, but this run has no deployment to be run again "
            "from; it pauses in this process instead"
        )
    return "pause"


def _last_leg(ledger: Ledger, **where: object) -> HoldSuspension | None:
    query = select(HoldSuspension).order_by(HoldSuspension.id.desc()).limit(1)
    for column, value in where.items():
        query = query.where(getattr(HoldSuspension, column) == value)
    with ledger.session() as session:
        return session.execute(query).scalars().first()


def came_back(ledger: Ledger, *, flow_run_id: str | None) -> bool:
    """Whether this flow run is one that was suspended, run again: only such a run has a
    run row to go on under (a backfill asks once, not once per partition)."""
    return _suspended_leg(ledger, flow_run_id) is not None


def _suspended_leg(ledger: Ledger, flow_run_id: str | None) -> HoldSuspension | None:
    if not flow_run_id:
        return None
    leg = _last_leg(ledger, flow_run_id=flow_run_id)
    return leg if leg is not None and leg.action == SUSPENDED else None


def resumed_run(ledger: Ledger, *, flow_run_id: str | None, token: str) -> PipelineRun | None:
    """The run row this flow run recorded before it was suspended, when it comes back."""
    leg = _suspended_leg(ledger, flow_run_id)
    if leg is None:
        return None
    with ledger.session() as session:
        run = session.get(PipelineRun, leg.run_id)
    return run if run is not None and run.token == token else None


def own_pending_hold(ledger: Ledger, run: PipelineRun, contract: str) -> GateCheck | None:
    """This run's own pending hold on ``contract`` (a resumed run meets it at its gate)."""
    for check, _ in ledger.pending_holds():
        if check.run_id == run.id and check.contract == contract:
            return check
    return None


def wait_suspended(
    ledger: Ledger, check: GateCheck, form: type[DecisionInput], timeout: int
) -> DecisionInput:
    """The decision on ``check``; suspends the flow run (its process exits) until it comes.

    Each refused decision asks again under a new key, so a run resumed with a refused
    decision suspends once more instead of reading the same answer again.
    """
    key = _key(ledger, check)
    last = _last_leg(ledger, check_id=check.id)
    if last is None or (last.action, last.pause_key) != (SUSPENDED, key):
        _record_leg(ledger, check, SUSPENDED, key)
    return suspend_flow_run(wait_for_input=form, timeout=timeout, key=key)  # exits, or returns


def record_resumed(ledger: Ledger, check: GateCheck) -> None:
    """Record that the run goes on after the decision it was resumed with counted."""
    _record_leg(ledger, check, RESUMED, _last_leg(ledger, check_id=check.id).pause_key)
    get_run_logger().info("resumed after the decision on the drift of %s", check.contract)


def _key(ledger: Ledger, check: GateCheck) -> str:
    refused = sum(1 for d in ledger.decisions_for(check_id=check.id) if not d.accepted)
    return f"governance-{check.id}-{refused}"


def _record_leg(ledger: Ledger, check: GateCheck, action: str, key: str) -> None:
    ledger.append(
        row=HoldSuspension(
            check_id=check.id,
            run_id=check.run_id,
            token=check.token,
            flow_run_id=check.flow_run_id or "",
            action=action,
            pause_key=key,
        )
    )


def is_suspended(ledger: Ledger, check: GateCheck) -> bool:
    """Whether the hold's run left its worker and waits, suspended, for a decision."""
    leg = _last_leg(ledger, check_id=check.id)
    return leg is not None and leg.action == SUSPENDED


def sweep(ledger: Ledger, manifests: ManifestSet | None) -> list[GateCheck]:
    """Record suspended holds that expired, and remind teams (with ``manifests``) of old
    ones; the expired holds. Prefect fails a suspended run at its pause timeout."""
    expired = []
    for check, event in ledger.pending_holds():
        if not is_suspended(ledger, check):
            continue  # a process waits on it (pause), or it is being resumed
        if flow_run_state(check.flow_run_id) in ("Failed", "Crashed", "Cancelled"):
            _expire(ledger, check)
            expired.append(check)
        elif manifests is not None:
            _remind(ledger, manifests, check, event.recorded_at or datetime.now(UTC))
    return expired


def _expire(ledger: Ledger, check: GateCheck) -> None:
    detail = "no governance decision before the suspended run's approval timeout"
    ledger.record_hold(check=check, status=HoldStatus.TIMED_OUT, detail=detail)
    end_held_run(ledger, check, RunStatus.TIMED_OUT, f"drift on {check.contract} held: {detail}")


def _remind(ledger: Ledger, manifests: ManifestSet, check: GateCheck, since: datetime) -> None:
    try:
        pipeline = manifests.pipeline(check.pipeline)
    except UnknownPipelineError:  # removed since: nothing to remind about
        return
    team = manifests.owning_team_of_contract(check.contract, pipeline)
    if team is None:
        return
    started = since if since.tzinfo else since.replace(tzinfo=UTC)
    waited = (datetime.now(UTC) - started).total_seconds() / 3600
    if waited >= team.spec.hold_alert_hours:
        hold_alert(ledger=ledger, manifests=manifests, check=check, waited_hours=round(waited, 1))
