"""Sending the alerts a run calls for and recording them (channels redacted) in the ledger."""

from __future__ import annotations

import logging

from sqlalchemy import select

from barecount.alerts.policy import Ended, Notice, notices_for
from barecount.alerts.send import Delivery, deliver
from barecount.ledger import Ledger
from barecount.ledger.models import Alert, GateCheck, PipelineRun, RunSummary
from barecount.manifest import ManifestSet
from barecount.manifest.channels import redact_channel

__all__ = ["after_run", "hold_alert", "redact_channel"]
logger = logging.getLogger("barecount.alerts")


def _history(ledger: Ledger, pipeline: str, partition: str) -> tuple[list[Ended], set]:
    """Ended runs of a pipeline partition (oldest first) and the alerts already sent for it."""
    with ledger.session() as session:
        query = (
            select(PipelineRun.id, RunSummary.status)
            .join(RunSummary, RunSummary.run_id == PipelineRun.id)
            .where(PipelineRun.pipeline == pipeline, PipelineRun.partition == partition)
            .order_by(RunSummary.id)
        )
        history = [Ended(run_id, status) for run_id, status in session.execute(query).all()]
        sent = set(
            session.execute(
                select(Alert.dedupe_key, Alert.kind).where(
                    Alert.pipeline == pipeline, Alert.partition == partition
                )
            ).all()
        )
    return history, sent


def _send(
    ledger: Ledger,
    notice: Notice,
    *,
    pipeline: str,
    partition: str,
    team: str | None,
    run_id: int | None,
) -> list[Alert]:
    recorded = []
    for channel in notice.channels or ("",):
        sent = (
            deliver(channel, notice.title, notice.body)
            if channel
            else Delivery(False, 0, "the team has no alert channel")
        )
        row = Alert(
            pipeline=pipeline,
            partition=partition,
            kind=notice.kind,
            dedupe_key=notice.dedupe_key,
            team=team,
            channel=redact_channel(channel) if channel else "-",
            message=notice.body,
            delivered=sent.delivered,
            attempts=sent.attempts,
            error=sent.error,
            run_id=run_id,
        )
        recorded.append(ledger.append(row=row))
    return recorded


def after_run(
    *, ledger: Ledger, manifests: ManifestSet, run: PipelineRun, status: str, detail: str
) -> list[Alert]:
    """Send and record the alerts the end of a run calls for. Never raises."""
    try:
        spec = manifests.pipeline(run.pipeline)
        team = manifests.owning_team(spec)
        history, sent = _history(ledger, run.pipeline, run.partition)
        notices = notices_for(
            pipeline=spec,
            team=team,
            partition=run.partition,
            token=run.token,
            run_id=run.id,
            status=status,
            detail=detail,
            history=history,
            sent=sent,
        )
        recorded = []
        for notice in notices:
            recorded += _send(
                ledger,
                notice,
                pipeline=run.pipeline,
                partition=run.partition,
                team=team.name if team else None,
                run_id=run.id,
            )
        return recorded
    except Exception:  # alerting must never fail or hide the run's own outcome
        logger.exception("alerting after run %s failed", run.id)
        return []


def hold_alert(
    *, ledger: Ledger, manifests: ManifestSet, check: GateCheck, waited_hours: float
) -> list[Alert]:
    """Tell the owning team that a drift has waited for governance longer than its limit."""
    try:
        team = manifests.owning_team_of_contract(check.contract, manifests.pipeline(check.pipeline))
        if team is None:
            return []
        where = f"{check.pipeline} {check.partition}"
        notice = Notice(
            "hold",
            f"hold-{check.id}",
            f"BareCount: {where} waits for governance",
            f"drift on {check.contract}@{check.contract_version} has held {where} for "
            f"{waited_hours:g} h (limit {team.spec.hold_alert_hours:g} h); flow run "
            f"{check.flow_run_id}: 'barecount approve' or 'barecount reject' it",
            team.spec.alerts,
        )
        _, sent = _history(ledger, check.pipeline, check.partition)
        if (notice.dedupe_key, notice.kind) in sent:
            return []
        return _send(
            ledger,
            notice,
            pipeline=check.pipeline,
            partition=check.partition,
            team=team.name,
            run_id=check.run_id,
        )
    except Exception:  # alerting must never fail or hide the run's own outcome
        logger.exception("hold alert for check %s failed", check.id)
        return []
