"""Alerts to the owning team: once per failure streak, escalation, resolution, late runs."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import apprise
from sqlalchemy import select
from sqlmodel import Session

from barecount.ledger.chain import append
from barecount.ledger.db import session_scope
from barecount.ledger.models import Alert, GateCheck, PipelineRun, RunSummary
from barecount.manifest import ManifestSet

FAILED = ("failed", "rejected", "blocked")
SUCCEEDED = ("published", "already-published", "completed")
DELIVERY_DELAYS = (0.5, 1.0, 2.0)  # backoff between delivery attempts of one channel
logger = logging.getLogger("barecount.alerts")


def redact_channel(url: str) -> str:
    """Where an alert went, without credentials, tokens or paths (they often hold secrets)."""
    match = re.match(r"^([a-z0-9+.-]+)://(?:[^@/]*@)?([^/?#]*)", url, re.IGNORECASE)
    if not match:
        return "<unparseable channel>"
    return f"{match[1]}://{match[2]}/***"


@dataclass(frozen=True)
class Notice:
    kind: str
    dedupe_key: str
    title: str
    body: str
    channels: tuple[str, ...]


def _history(session: Session, pipeline: str, partition: str) -> list[tuple[PipelineRun, str]]:
    """Ended runs of a pipeline partition, oldest first, with their status."""
    query = (
        select(PipelineRun, RunSummary.status)
        .join(RunSummary, RunSummary.run_id == PipelineRun.id)
        .where(PipelineRun.pipeline == pipeline, PipelineRun.partition == partition)
        .order_by(RunSummary.id)
    )
    return [(run, status) for run, status in session.execute(query).all()]


def _sent(session: Session, dedupe_key: str, kind: str) -> bool:
    query = select(Alert.id).where(Alert.dedupe_key == dedupe_key, Alert.kind == kind).limit(1)
    return session.execute(query).first() is not None


def notices_for(
    *, session: Session, manifests: ManifestSet, run: PipelineRun, status: str, detail: str
) -> list[Notice]:
    """What the end of ``run`` should tell its team (pure reads; nothing sent)."""
    spec = manifests.pipeline(run.pipeline)
    team = manifests.owning_team(spec)
    if team is None:
        return []
    policy = spec.spec.alerts
    history = _history(session, run.pipeline, run.partition)
    streak: list[PipelineRun] = []
    for past, past_status in reversed(history):
        if past_status in FAILED:
            streak.append(past)
        elif past_status in SUCCEEDED:
            break
    where = f"{run.pipeline} {run.partition}"
    notices: list[Notice] = []
    if status in FAILED and streak:
        key = f"{run.pipeline}:{run.partition}:streak-{streak[-1].id}"
        if len(streak) >= policy.after_failed_runs and not _sent(session, key, "failure"):
            notices.append(
                Notice(
                    "failure",
                    key,
                    f"BareCount: {where} failed",
                    f"{where} failed ({status}): {detail}\nrun token {run.token}",
                    team.spec.alerts,
                )
            )
        if len(streak) >= policy.escalate_after and not _sent(session, key, "escalation"):
            notices.append(
                Notice(
                    "escalation",
                    key,
                    f"BareCount: {where} failed {len(streak)} times in a row",
                    f"{where} has failed {len(streak)} consecutive runs; last: {detail}",
                    team.spec.escalation or team.spec.alerts,
                )
            )
    elif status in SUCCEEDED:
        previous = [s for _, s in history[:-1]]
        if previous and previous[-1] in FAILED:
            streak_start = None
            for past, past_status in reversed(history[:-1]):
                if past_status not in FAILED:
                    break
                streak_start = past
            key = f"{run.pipeline}:{run.partition}:streak-{streak_start.id}"
            if _sent(session, key, "failure") and not _sent(session, key, "resolution"):
                notices.append(
                    Notice(
                        "resolution",
                        key,
                        f"BareCount: {where} recovered",
                        f"{where} succeeded again ({status}) under {run.token}",
                        team.spec.alerts,
                    )
                )
    elif status == "skipped" and "outside its window" in detail:
        key = f"{run.pipeline}:{run.partition}:late-{run.id}"
        notices.append(Notice("late", key, f"BareCount: {where} skipped", detail, team.spec.alerts))
    return notices


def deliver(url: str, title: str, body: str) -> tuple[bool, int, str | None]:
    """Send through Apprise, retrying with backoff; never raises."""
    error = None
    for attempt, delay in enumerate((0.0, *DELIVERY_DELAYS), start=1):
        time.sleep(delay)
        try:
            sender = apprise.Apprise()
            if not sender.add(url):
                return False, attempt, "Apprise does not understand this URL"
            if sender.notify(title=title, body=body):
                return True, attempt, None
            error = "the channel did not accept the notification"
        except Exception as exc:  # a broken channel must never fail the pipeline run
            error = f"{type(exc).__name__}"
    return False, len(DELIVERY_DELAYS) + 1, error


def hold_alert(
    *, ledger_url: str, manifests: ManifestSet, check: GateCheck, waited_hours: float
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
        with session_scope(ledger_url) as session:
            if _sent(session, notice.dedupe_key, notice.kind):
                return []
        return _send(
            ledger_url,
            notice,
            pipeline=check.pipeline,
            partition=check.partition,
            team=team.name,
            run_id=check.run_id,
        )
    except Exception:  # alerting must never fail or hide the run's own outcome
        logger.exception("hold alert for check %s failed", check.id)
        return []


def _send(
    ledger_url: str,
    notice: Notice,
    *,
    pipeline: str,
    partition: str,
    team: str | None,
    run_id: int | None,
) -> list[Alert]:
    recorded = []
    for url in notice.channels or ("",):
        delivered, attempts, error = (
            deliver(url, notice.title, notice.body)
            if url
            else (False, 0, "the team has no alert channel")
        )
        with session_scope(ledger_url) as session:
            recorded.append(
                append(
                    session,
                    Alert(
                        pipeline=pipeline,
                        partition=partition,
                        kind=notice.kind,
                        dedupe_key=notice.dedupe_key,
                        team=team,
                        channel=redact_channel(url) if url else "-",
                        message=notice.body,
                        delivered=delivered,
                        attempts=attempts,
                        error=error,
                        run_id=run_id,
                    ),
                )
            )
    return recorded


def after_run(
    *, ledger_url: str, manifests: ManifestSet, run: PipelineRun, status: str, detail: str
) -> list[Alert]:
    """Send and record the alerts the end of a run calls for. Never raises."""
    try:
        with session_scope(ledger_url) as session:
            notices = notices_for(
                session=session, manifests=manifests, run=run, status=status, detail=detail
            )
        team = manifests.owning_team(manifests.pipeline(run.pipeline))
        recorded = []
        for notice in notices:
            recorded += _send(
                ledger_url,
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
