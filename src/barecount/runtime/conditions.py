"""Conditions checked when a run starts: its time window, and its upstream pipelines."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from barecount.ledger.models import Publication
from barecount.manifest.models import Pipeline, PipelinePublished, Schedule


def outside_window(schedule: Schedule, started: datetime) -> str | None:
    """Why a scheduled run starting at ``started`` is outside its window, or None if inside."""
    window = schedule.window
    if window is None:
        return None
    local = started.astimezone(ZoneInfo(schedule.timezone))
    clock = local.time().replace(tzinfo=None)
    if time.fromisoformat(window.start) <= clock <= time.fromisoformat(window.end):
        return None
    return (
        f"started {local:%Y-%m-%d %H:%M} {schedule.timezone}, outside its window "
        f"{window.start}-{window.end} (late: {window.late})"
    )


def upstream_tokens(
    *, session: Session, pipeline: Pipeline, partition: str
) -> dict[str, str | None]:
    """Each upstream pipeline (pipeline-published trigger) -> its token for the partition.

    None where the upstream has not published the partition yet.
    """
    found: dict[str, str | None] = {}
    for trigger in pipeline.spec.triggers:
        if not isinstance(trigger, PipelinePublished):
            continue
        query = (
            select(Publication.token)
            .where(Publication.pipeline == trigger.pipeline, Publication.partition == partition)
            .order_by(Publication.id.desc())
            .limit(1)
        )
        found[trigger.pipeline] = session.execute(query).scalar_one_or_none()
    return found
