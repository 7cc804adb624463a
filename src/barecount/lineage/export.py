"""Past runs as OpenLineage events, one JSON document per line (``barecount lineage export``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TextIO

from openlineage.client.event_v2 import RunEvent
from openlineage.client.serde import Serde
from sqlmodel import Session

from barecount.errors import UsageError
from barecount.lineage.events import run_events
from barecount.lineage.naming import Naming
from barecount.lineage.rows import RunRows, runs_by_id, runs_since

_AGO = re.compile(r"([0-9]{1,6})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """``--since``: an ISO date or date-time (UTC unless it says), or an age such as 90m,
    24h, 7d or 2w.

    Raises:
        UsageError: it is neither.
    """
    text = value.strip()
    ago = _AGO.fullmatch(text)
    if ago:
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[ago[2]]: int(ago[1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not a date, a date-time or an age; write e.g. 2026-11-01, "
            "2026-11-01T06:00:00+01:00, 24h or 7d"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def to_json(event: RunEvent) -> str:
    """One event as a line of JSON (openlineage-python's serialization)."""
    return Serde.to_json(event)


def events_of(naming: Naming, batches: Iterable[list[RunRows]]) -> Iterator[RunEvent]:
    for batch in batches:
        for rows in batch:
            yield from run_events(naming, rows)


def export_since(session: Session, naming: Naming, since: datetime, out: TextIO) -> tuple[int, int]:
    """Write the events of every run recorded since ``since``; (runs, events) written."""
    runs = events = 0
    for batch in runs_since(session, since.astimezone(UTC)):
        runs += len(batch)
        for event in events_of(naming, [batch]):
            out.write(to_json(event) + "\n")
            events += 1
    return runs, events


def events_of_runs(session: Session, naming: Naming, run_ids: list[int]) -> list[RunEvent]:
    """The events of these pipeline runs (``barecount evidence --format openlineage``)."""
    return list(events_of(naming, [runs_by_id(session, run_ids)]))
