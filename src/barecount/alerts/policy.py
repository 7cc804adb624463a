"""Which alerts the end of a run calls for: a pure function of the partition's run history."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from barecount.manifest.models import Pipeline
from barecount.manifest.team import Team
from barecount.status import FAILED, SUCCEEDED, RunStatus


@dataclass(frozen=True)
class Notice:
    """One alert to send: its kind, the key that sends it only once, and its text."""

    kind: str  # failure | escalation | resolution | late | hold
    dedupe_key: str
    title: str
    body: str
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Ended:
    """An ended run of a pipeline partition, as the policy sees it."""

    run_id: int
    status: str


def _streak(history: Sequence[Ended]) -> list[Ended]:
    """The failed runs at the end of the history, newest first, back to the last success."""
    streak = []
    for past in reversed(history):
        if past.status in FAILED:
            streak.append(past)
        elif past.status in SUCCEEDED:
            break
    return streak


def notices_for(
    *,
    pipeline: Pipeline,
    team: Team | None,
    partition: str,
    token: str,
    run_id: int,
    status: str,
    detail: str,
    history: Sequence[Ended],
    sent: Collection[tuple[str, str]],
) -> list[Notice]:
    """What the end of a run (the last of ``history``) should tell its team.

    ``sent`` holds the (dedupe key, kind) of alerts already sent, so a streak alerts once.
    """
    if team is None:
        return []
    where = f"{pipeline.name} {partition}"
    prefix = f"{pipeline.name}:{partition}"
    if status in FAILED:
        return _failure_notices(pipeline, team, where, prefix, token, status, detail, history, sent)
    if status in SUCCEEDED:
        return _resolution_notices(team, where, prefix, token, status, history, sent)
    if status == RunStatus.SKIPPED and "outside its window" in detail:
        key = f"{pipeline.name}:{partition}:late-{run_id}"
        return [Notice("late", key, f"BareCount: {where} skipped", detail, team.spec.alerts)]
    return []


def _failure_notices(pipeline, team, where, prefix, token, status, detail, history, sent):
    streak = _streak(history)
    if not streak:
        return []
    policy = pipeline.spec.alerts
    key = f"{prefix}:streak-{streak[-1].run_id}"
    notices = []
    if len(streak) >= policy.after_failed_runs and (key, "failure") not in sent:
        notices.append(
            Notice(
                "failure",
                key,
                f"BareCount: {where} failed",
                f"{where} failed ({status}): {detail}\nrun token {token}",
                team.spec.alerts,
            )
        )
    if len(streak) >= policy.escalate_after and (key, "escalation") not in sent:
        notices.append(
            Notice(
                "escalation",
                key,
                f"BareCount: {where} failed {len(streak)} times in a row",
                f"{where} has failed {len(streak)} consecutive runs; last: {detail}",
                team.spec.escalation or team.spec.alerts,
            )
        )
    return notices


def _resolution_notices(team, where, prefix, token, status, history, sent):
    streak = _streak(history[:-1])
    if not streak or history[-2].status not in FAILED:
        return []
    key = f"{prefix}:streak-{streak[-1].run_id}"
    if (key, "failure") not in sent or (key, "resolution") in sent:
        return []
    body = f"{where} succeeded again ({status}) under {token}"
    return [Notice("resolution", key, f"BareCount: {where} recovered", body, team.spec.alerts)]
