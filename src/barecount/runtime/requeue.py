"""Queueing again, once, the partitions a governance hold stopped, when it is approved.

Each goes through its pipeline's deployment, so the Prefect UI shows it triggered by the
approval (trigger ``hold-approved:<hold>``) and a worker runs it; the ledger links the new
run to the hold. Partitions published since, or already queued for this hold, are left.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from barecount import names
from barecount.ledger import Ledger
from barecount.ledger.models import BlockedRun, GateCheck, Publication, RequeuedRun

logger = logging.getLogger("barecount.requeue")


def hold_trigger(hold_check_id: int) -> str:
    """The trigger of a run queued again by the approval of a hold."""
    return f"hold-approved:{hold_check_id}"


def to_requeue(ledger: Ledger, hold: GateCheck, *, include_held: bool) -> list[tuple[str, str]]:
    """(pipeline, partition) pairs the hold stopped that are neither published nor queued."""
    with ledger.session() as session:
        stopped = session.execute(
            select(BlockedRun.pipeline, BlockedRun.partition)
            .where(BlockedRun.hold_check_id == hold.id)
            .order_by(BlockedRun.id)
        ).all()
        queued = set(
            session.execute(
                select(RequeuedRun.pipeline, RequeuedRun.partition).where(
                    RequeuedRun.hold_check_id == hold.id, RequeuedRun.flow_run_id.is_not(None)
                )
            ).all()
        )
        wanted = [(hold.pipeline, hold.partition)] if include_held else []
        wanted += [(p, k) for p, k in stopped if (p, k) != (hold.pipeline, hold.partition)]
        found = []
        for pipeline, partition in dict.fromkeys(wanted):  # once each, in order
            published = session.execute(
                select(Publication.id)
                .where(Publication.pipeline == pipeline, Publication.partition == partition)
                .limit(1)
            ).first()
            if published is None and (pipeline, partition) not in queued:
                found.append((pipeline, partition))
    return found


def requeue(ledger: Ledger, hold: GateCheck, *, include_held: bool) -> list[RequeuedRun]:
    """Create a deployment run for each partition the approved hold stopped. Never raises:
    a partition that cannot be queued is recorded with why."""
    from prefect.deployments import run_deployment

    recorded = []
    for pipeline, partition in to_requeue(ledger, hold, include_held=include_held):
        flow_run_id, error = None, None
        try:
            flow_run = run_deployment(
                names.deployment_name(pipeline),
                parameters={
                    "pipeline": pipeline,
                    "partition": partition,
                    "trigger": hold_trigger(hold.id),
                },
                idempotency_key=f"hold-{hold.id}-{pipeline}-{partition}",
                timeout=0,
                as_subflow=False,
            )
            flow_run_id = str(flow_run.id)
        except Exception as exc:  # no deployment, no API: say so, keep the approval
            error = f"{type(exc).__name__}: {exc}"[:500]
            logger.warning("could not queue %s %s again: %s", pipeline, partition, error)
        recorded.append(
            ledger.append(
                row=RequeuedRun(
                    hold_check_id=hold.id,
                    pipeline=pipeline,
                    partition=partition,
                    flow_run_id=flow_run_id,
                    error=error,
                )
            )
        )
    return recorded
