"""Schedule windows: whether a scheduled run started inside the window its manifest allows."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from barecount.manifest.models import Schedule


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
