"""Calendar partitions (2026-11-26T13, 2026-11-26, 2026-W48, 2026-11) in a pipeline's time zone.

Keys and the calendar arithmetic on the wall clock underneath live in
``barecount.manifest.wallclock``; this module places them in a time zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import total_ordering
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from barecount.errors import PartitionError
from barecount.manifest import wallclock
from barecount.manifest.wallclock import CALENDARS, MAX_YEAR, MIN_YEAR, expected_form

if TYPE_CHECKING:
    from barecount.manifest.models import PartitionSpec

__all__ = [
    "CALENDARS",
    "MAX_PARTITIONS",
    "MAX_YEAR",
    "MIN_YEAR",
    "Partition",
    "expected_form",
    "parse_partition",
    "partition_for",
    "partition_range",
]

MAX_PARTITIONS = 100_000


@total_ordering
@dataclass(frozen=True)
class Partition:
    """One partition of a calendar. Build it with ``parse_partition`` or ``partition_for``.

    ``start`` and ``end`` are aware datetimes in ``timezone``; ``end`` is exclusive and
    equals the next partition's ``start``. Partitions order by start.

    Partitions follow the local wall clock: one starts at the first moment the clock reads
    its start time or later and ends where the next starts, so they tile time without
    gaps or overlaps, and ``duration`` (absolute time) is 23, 24 or 25 hours for a day.
    Daylight saving, with Europe/Berlin as the example:

    - Clocks jump from 02:00 to 03:00 on 2026-03-29: hour ``2026-03-29T02`` never happens,
      so there is no such partition. Parsing it is an error, and ``2026-03-29T01`` is
      followed by ``2026-03-29T03``. The day ``2026-03-29`` lasts 23 hours.
    - Clocks fall back from 03:00 to 02:00 on 2026-10-25: ``2026-10-25T02`` is one partition
      covering both passes through 02:00-03:00, two hours long; its ``start`` is the first
      02:00 (fold=0). Keys stay the hour a person reads on the clock and each names exactly
      one partition. The day ``2026-10-25`` lasts 25 hours.

    A start time inside a skipped stretch moves to the moment the clocks jump; a partition
    skipped entirely (the day 2011-12-30 in Pacific/Apia) does not exist.
    """

    key: str
    calendar: str
    timezone: str
    start: datetime
    end: datetime

    def __str__(self) -> str:
        return self.key

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Partition):
            return NotImplemented
        return self._order() < other._order()

    def _order(self) -> tuple[datetime, datetime, str, str, str]:
        return (
            wallclock.utc(self.start),
            wallclock.utc(self.end),
            self.calendar,
            self.timezone,
            self.key,
        )

    @property
    def duration(self) -> timedelta:
        """Length in absolute time: 23 hours for a Berlin day in which clocks spring forward."""
        return wallclock.utc(self.end) - wallclock.utc(self.start)

    def next(self) -> Partition:
        """The partition that starts where this one ends."""
        return self.shift(1)

    def previous(self) -> Partition:
        """The partition that ends where this one starts."""
        return self.shift(-1)

    def shift(self, n: int) -> Partition:
        """The partition ``n`` partitions later (earlier if negative); skipped ones do not count.

        Raises:
            PartitionError: the result would fall outside the supported years.
        """
        partition = self
        for _ in range(abs(n)):
            wall = wallclock.floor(
                partition.start.astimezone(ZoneInfo(self.timezone)), self.calendar
            )
            partition = _neighbour(wall, self.calendar, self.timezone, 1 if n > 0 else -1)
        return partition


def parse_partition(key: str, spec: PartitionSpec) -> Partition:
    """The partition ``key`` names in the calendar and time zone of ``spec``.

    Raises:
        PartitionError: the key is malformed, names a date or hour that does not exist,
            belongs to another calendar, or names an hour skipped by daylight saving.
    """
    calendar = spec.calendar
    wall = wallclock.parse_wall(key, calendar)
    partition = _partition(wall, calendar, spec.timezone)
    if partition is None:
        raise wallclock.bad_key(key, calendar, _skipped_problem(wall, calendar, spec.timezone))
    return partition


def partition_for(instant: datetime, spec: PartitionSpec) -> Partition:
    """The partition a run at ``instant`` serves: the one containing it, shifted by ``spec.offset``.

    A naive ``instant`` is taken as UTC. With ``offset: -1`` a daily run at midnight
    serves the day that just ended.
    """
    if not isinstance(instant, datetime):
        raise TypeError(f"partition_for needs a datetime, got {type(instant).__name__}")
    if instant.utcoffset() is None:
        instant = instant.replace(tzinfo=UTC)
    utc = instant.astimezone(UTC)
    try:
        local = utc.astimezone(ZoneInfo(spec.timezone))
    except OverflowError:
        raise PartitionError(f"{instant.isoformat()} is outside the supported years") from None
    walk = _walk(wallclock.floor(local, spec.calendar), spec.calendar, spec.timezone)
    partition = next(walk)
    while wallclock.utc(partition.end) <= utc:
        partition = next(walk)
    return partition.shift(spec.offset)


def partition_range(
    start: str, end: str, spec: PartitionSpec, *, limit: int = MAX_PARTITIONS
) -> list[Partition]:
    """Every partition from ``start`` to ``end``, both included, in order.

    Raises:
        PartitionError: a key is invalid, ``end`` is before ``start``, or the range
            holds more than ``limit`` partitions.
    """
    first, last = parse_partition(start, spec), parse_partition(end, spec)
    if wallclock.utc(last.start) < wallclock.utc(first.start):
        raise PartitionError(
            f"bad partition range {start!r} to {end!r}: the end is before the start; "
            "give the earlier partition first"
        )
    zone = ZoneInfo(spec.timezone)
    first_wall = wallclock.floor(first.start.astimezone(zone), spec.calendar)
    last_wall = wallclock.floor(last.start.astimezone(zone), spec.calendar)
    count = wallclock.units_between(first_wall, last_wall, spec.calendar) + 1
    if count > limit:
        raise PartitionError(
            f"partition range {start!r} to {end!r} spans {count:,} {spec.calendar} partitions, "
            f"more than the limit of {limit:,}; split it into smaller ranges"
        )
    partitions = []
    for partition in _walk(first_wall, spec.calendar, spec.timezone):
        partitions.append(partition)
        if partition.key == last.key:
            return partitions
    raise AssertionError("unreachable: the walk always reaches the last partition")


def _skipped_problem(wall: datetime, calendar: str, timezone: str) -> str:
    zone = ZoneInfo(timezone)
    jump = wallclock.first_instant(wall, zone)
    before = (jump + (jump - timedelta(seconds=1)).astimezone(zone).utcoffset()).replace(
        tzinfo=None
    )
    after = jump.astimezone(zone).replace(tzinfo=None)
    if calendar == "hourly" and before.date() == after.date():
        what = f"hour {wall:%H} does not exist in {timezone} on {wall:%Y-%m-%d}"
        clocks = f"{before:%H:%M} to {after:%H:%M}"
    else:
        clocks = f"{before:%Y-%m-%d %H:%M} to {after:%Y-%m-%d %H:%M}"
        what = f"it does not exist in {timezone}"
    earlier = _neighbour(wall, calendar, timezone, -1)
    later = _neighbour(wall, calendar, timezone, 1)
    return f"{what} (clocks jump from {clocks}); the partitions around it are {earlier} and {later}"


def _neighbour(wall: datetime, calendar: str, timezone: str, direction: int) -> Partition:
    """The nearest existing partition after (direction 1) or before (-1) the one at ``wall``."""
    while True:
        wall = wallclock.step(wall, calendar, direction)
        partition = _partition(wall, calendar, timezone)
        if partition is not None:
            return partition


def _walk(wall: datetime, calendar: str, timezone: str) -> Iterator[Partition]:
    """Existing partitions from the one at ``wall`` on; one zone lookup per partition."""
    zone = ZoneInfo(timezone)
    start = wallclock.first_instant(wall, zone)
    while True:
        wallclock.check_year(wall, calendar)
        after = wallclock.step(wall, calendar, 1)
        end = wallclock.first_instant(after, zone)
        if end != start:
            yield _make(wall, calendar, timezone, start, end)
        wall, start = after, end


def _partition(wall: datetime, calendar: str, timezone: str) -> Partition | None:
    """The partition starting on the wall clock at ``wall``; None if daylight saving skips it."""
    wallclock.check_year(wall, calendar)
    zone = ZoneInfo(timezone)
    start = wallclock.first_instant(wall, zone)
    end = wallclock.first_instant(wallclock.step(wall, calendar, 1), zone)
    return _make(wall, calendar, timezone, start, end) if end != start else None


def _make(
    wall: datetime, calendar: str, timezone: str, start: datetime, end: datetime
) -> Partition:
    zone = ZoneInfo(timezone)
    return Partition(
        key=wallclock.key(wall, calendar),
        calendar=calendar,
        timezone=timezone,
        start=start.astimezone(zone),
        end=end.astimezone(zone),
    )
