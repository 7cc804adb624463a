"""Calendar partitions (2026-11-26T13, 2026-11-26, 2026-W48, 2026-11) in a pipeline's time zone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import total_ordering
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from barecount.errors import PartitionError

if TYPE_CHECKING:
    from barecount.manifest.models import PartitionSpec

CALENDARS = ("hourly", "daily", "weekly", "monthly")
MAX_PARTITIONS = 100_000
# The last year leaves room for the end of its final partition inside datetime's range.
MIN_YEAR, MAX_YEAR = 1900, 9998

_FORMS = {
    "hourly": ("YYYY-MM-DDTHH", "2026-11-26T13"),
    "daily": ("YYYY-MM-DD", "2026-11-26"),
    "weekly": ("YYYY-Www (ISO week)", "2026-W48"),
    "monthly": ("YYYY-MM", "2026-11"),
}
# [0-9], not \d: \d also matches other scripts' digits.
_SHAPES = {
    "hourly": re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2})"),
    "daily": re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"),
    "weekly": re.compile(r"([0-9]{4})-W([0-9]{2})"),
    "monthly": re.compile(r"([0-9]{4})-([0-9]{2})"),
}


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
        return (_utc(self.start), _utc(self.end), self.calendar, self.timezone, self.key)

    @property
    def duration(self) -> timedelta:
        """Length in absolute time: 23 hours for a Berlin day in which clocks spring forward."""
        return _utc(self.end) - _utc(self.start)

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
            wall = _floor(partition.start.astimezone(ZoneInfo(self.timezone)), self.calendar)
            partition = _neighbour(wall, self.calendar, self.timezone, 1 if n > 0 else -1)
        return partition


def expected_form(calendar: str) -> str:
    """How keys of ``calendar`` are written, e.g. ``YYYY-MM-DD, e.g. 2026-11-26``."""
    if calendar not in _FORMS:
        raise PartitionError(
            f"unknown partition calendar {calendar!r}; use one of {', '.join(CALENDARS)}"
        )
    form, example = _FORMS[calendar]
    return f"{form}, e.g. {example}"


def parse_partition(key: str, spec: PartitionSpec) -> Partition:
    """The partition ``key`` names in the calendar and time zone of ``spec``.

    Raises:
        PartitionError: the key is malformed, names a date or hour that does not exist,
            belongs to another calendar, or names an hour skipped by daylight saving.
    """
    calendar = spec.calendar
    form = expected_form(calendar)
    if not isinstance(key, str):
        kind = type(key).__name__
        reason = f"it is a {kind}, not a string (quote partition keys in YAML)"
        raise _bad(str(key), calendar, f"{reason}; expected {form}")
    match = _SHAPES[calendar].fullmatch(key)
    if match is None:
        raise _bad(key, calendar, f"{_shape_problem(key, calendar)}expected {form}")
    wall = _wall_of(match, calendar)
    partition = _partition(wall, calendar, spec.timezone)
    if partition is None:
        raise _bad(key, calendar, _skipped_problem(wall, calendar, spec.timezone))
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
    walk = _walk(_floor(local, spec.calendar), spec.calendar, spec.timezone)
    partition = next(walk)
    while _utc(partition.end) <= utc:
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
    if _utc(last.start) < _utc(first.start):
        raise PartitionError(
            f"bad partition range {start!r} to {end!r}: the end is before the start; "
            "give the earlier partition first"
        )
    zone = ZoneInfo(spec.timezone)
    first_wall = _floor(first.start.astimezone(zone), spec.calendar)
    last_wall = _floor(last.start.astimezone(zone), spec.calendar)
    count = _units_between(first_wall, last_wall, spec.calendar) + 1
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


def _bad(key: str, calendar: str, problem: str) -> PartitionError:
    article = "an" if calendar == "hourly" else "a"
    return PartitionError(f"bad partition {key!r} for {article} {calendar} calendar: {problem}")


def _shape_problem(key: str, calendar: str) -> str:
    other = next((name for name, shape in _SHAPES.items() if shape.fullmatch(key)), None)
    if other is not None:
        article = "an" if other == "hourly" else "a"
        return f"it has the form of {article} {other} key; "
    if _SHAPES[calendar].fullmatch(key.strip()):
        return "remove the spaces around it; "
    return ""


def _wall_of(match: re.Match[str], calendar: str) -> datetime:
    """The naive wall-clock start a well-formed key names, if that date exists."""

    def bad(problem: str) -> PartitionError:
        return _bad(match[0], calendar, f"{problem}; expected {expected_form(calendar)}")

    year, second, *rest = (int(group) for group in match.groups())
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise bad(f"year {match[1]} is outside the supported years {MIN_YEAR}-{MAX_YEAR}")
    if calendar == "weekly":
        weeks = date(year, 12, 28).isocalendar().week  # 28 December is always in the last week
        if not 1 <= second <= weeks:
            raise bad(f"week {match[2]} does not exist in ISO year {year} (it has {weeks} weeks)")
        return datetime.fromisocalendar(year, second, 1)
    if not 1 <= second <= 12:
        raise bad(f"month {match[2]} does not exist")
    if calendar == "monthly":
        return datetime(year, second, 1)
    days = _days_in_month(year, second)
    if not 1 <= rest[0] <= days:
        raise bad(f"day {match[3]} does not exist in {match[1]}-{match[2]} (it has {days} days)")
    if calendar == "hourly" and not 0 <= rest[1] <= 23:
        raise bad(f"hour {match[4]} does not exist (hours run 00 to 23)")
    return datetime(year, second, rest[0], rest[1] if calendar == "hourly" else 0)


def _skipped_problem(wall: datetime, calendar: str, timezone: str) -> str:
    zone = ZoneInfo(timezone)
    jump = _first_instant(wall, zone)
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
        wall = _step(wall, calendar, direction)
        partition = _partition(wall, calendar, timezone)
        if partition is not None:
            return partition


def _walk(wall: datetime, calendar: str, timezone: str) -> Iterator[Partition]:
    """Existing partitions from the one at ``wall`` on; one zone lookup per partition."""
    zone = ZoneInfo(timezone)
    start = _first_instant(wall, zone)
    while True:
        _check_year(wall, calendar)
        after = _step(wall, calendar, 1)
        end = _first_instant(after, zone)
        if end != start:
            yield _make(wall, calendar, timezone, start, end)
        wall, start = after, end


def _partition(wall: datetime, calendar: str, timezone: str) -> Partition | None:
    """The partition starting on the wall clock at ``wall``; None if daylight saving skips it."""
    _check_year(wall, calendar)
    zone = ZoneInfo(timezone)
    start = _first_instant(wall, zone)
    end = _first_instant(_step(wall, calendar, 1), zone)
    return _make(wall, calendar, timezone, start, end) if end != start else None


def _make(
    wall: datetime, calendar: str, timezone: str, start: datetime, end: datetime
) -> Partition:
    zone = ZoneInfo(timezone)
    return Partition(
        key=_key(wall, calendar),
        calendar=calendar,
        timezone=timezone,
        start=start.astimezone(zone),
        end=end.astimezone(zone),
    )


def _first_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant, in UTC, at which the clock in ``zone`` reads ``wall`` or later."""
    # fold=0 is the first pass through a repeated time, the one before clocks fall back.
    utc = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == wall:
        return utc
    # ``wall`` is skipped. In a gap fold=0 reads it with the offset before the jump (an
    # instant after the jump) and fold=1 with the one after (an instant before it); the
    # jump lies between, on a whole second, so bisect for it.
    early = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    late = utc
    while late - early > timedelta(seconds=1):
        middle = early + (late - early) // 2
        middle -= timedelta(microseconds=middle.microsecond)
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            late = middle
        else:
            early = middle
    return late


def _check_year(wall: datetime, calendar: str) -> None:
    year = wall.isocalendar().year if calendar == "weekly" else wall.year
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PartitionError(
            f"partition {_key(wall, calendar)} is outside the supported years {MIN_YEAR}-{MAX_YEAR}"
        )


def _floor(local: datetime, calendar: str) -> datetime:
    """The naive wall-clock start of the calendar unit containing ``local``."""
    wall = local.replace(tzinfo=None, minute=0, second=0, microsecond=0, fold=0)
    if calendar == "hourly":
        return wall
    day = wall.replace(hour=0)
    if calendar == "daily":
        return day
    if calendar == "weekly":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _step(wall: datetime, calendar: str, n: int) -> datetime:
    """``wall`` moved by ``n`` calendar units on the wall clock."""
    if calendar == "hourly":
        return wall + timedelta(hours=n)
    if calendar == "daily":
        return wall + timedelta(days=n)
    if calendar == "weekly":
        return wall + timedelta(weeks=n)
    year, month = divmod(wall.year * 12 + wall.month - 1 + n, 12)
    return wall.replace(year=year, month=month + 1)


def _units_between(first: datetime, last: datetime, calendar: str) -> int:
    if calendar == "monthly":
        return (last.year - first.year) * 12 + last.month - first.month
    unit = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}.get(
        calendar, timedelta(weeks=1)
    )
    return (last - first) // unit


def _key(wall: datetime, calendar: str) -> str:
    if calendar == "weekly":
        iso = wall.isocalendar()
        return f"{iso.year:04d}-W{iso.week:02d}"
    key = f"{wall.year:04d}-{wall.month:02d}"
    if calendar != "monthly":
        key += f"-{wall.day:02d}"
    if calendar == "hourly":
        key += f"T{wall.hour:02d}"
    return key


def _days_in_month(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - date(year, month, 1)).days


def _utc(moment: datetime) -> datetime:
    # Aware datetimes sharing a tzinfo compare and subtract on the wall clock, ignoring
    # daylight saving; converting to UTC first gives absolute time.
    return moment.astimezone(UTC)
