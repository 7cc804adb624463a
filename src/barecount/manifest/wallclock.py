"""Calendar units on the wall clock, behind ``barecount.manifest.partitions``.

A *wall* time is a naive datetime: what a clock in the pipeline's time zone reads. This
module parses a partition key to the wall time its unit starts at and writes it back,
floors a wall time to its unit, steps by units, counts them, and finds the instant the
clock in a zone first reads a wall time. It knows nothing about ``Partition``; use the
public API in ``barecount.manifest.partitions``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from barecount.errors import PartitionError

CALENDARS = ("hourly", "daily", "weekly", "monthly")
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


def expected_form(calendar: str) -> str:
    """How keys of ``calendar`` are written, e.g. ``YYYY-MM-DD, e.g. 2026-11-26``."""
    if calendar not in _FORMS:
        raise PartitionError(
            f"unknown partition calendar {calendar!r}; use one of {', '.join(CALENDARS)}"
        )
    form, example = _FORMS[calendar]
    return f"{form}, e.g. {example}"


def parse_wall(key: str, calendar: str) -> datetime:
    """The naive wall-clock start of the unit ``key`` names in ``calendar``.

    Raises:
        PartitionError: the calendar is unknown, or the key is malformed, belongs to
            another calendar or names a date or hour that does not exist.
    """
    form = expected_form(calendar)
    if not isinstance(key, str):
        kind = type(key).__name__
        reason = f"it is a {kind}, not a string (quote partition keys in YAML)"
        raise bad_key(str(key), calendar, f"{reason}; expected {form}")
    match = _SHAPES[calendar].fullmatch(key)
    if match is None:
        raise bad_key(key, calendar, f"{_shape_problem(key, calendar)}expected {form}")
    return _wall_of(match, calendar)


def bad_key(key: str, calendar: str, problem: str) -> PartitionError:
    """The error for ``key``, a bad key of ``calendar``."""
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
        return bad_key(match[0], calendar, f"{problem}; expected {expected_form(calendar)}")

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
    days = days_in_month(year, second)
    if not 1 <= rest[0] <= days:
        raise bad(f"day {match[3]} does not exist in {match[1]}-{match[2]} (it has {days} days)")
    if calendar == "hourly" and not 0 <= rest[1] <= 23:
        raise bad(f"hour {match[4]} does not exist (hours run 00 to 23)")
    return datetime(year, second, rest[0], rest[1] if calendar == "hourly" else 0)


def first_instant(wall: datetime, zone: ZoneInfo) -> datetime:
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


def check_year(wall: datetime, calendar: str) -> None:
    """Raise PartitionError when the unit at ``wall`` lies outside the supported years."""
    year = wall.isocalendar().year if calendar == "weekly" else wall.year
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PartitionError(
            f"partition {key(wall, calendar)} is outside the supported years {MIN_YEAR}-{MAX_YEAR}"
        )


def floor(local: datetime, calendar: str) -> datetime:
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


def step(wall: datetime, calendar: str, n: int) -> datetime:
    """``wall`` moved by ``n`` calendar units on the wall clock."""
    if calendar == "hourly":
        return wall + timedelta(hours=n)
    if calendar == "daily":
        return wall + timedelta(days=n)
    if calendar == "weekly":
        return wall + timedelta(weeks=n)
    year, month = divmod(wall.year * 12 + wall.month - 1 + n, 12)
    return wall.replace(year=year, month=month + 1)


def units_between(first: datetime, last: datetime, calendar: str) -> int:
    """How many calendar units ``last`` is after ``first`` (both unit starts)."""
    if calendar == "monthly":
        return (last.year - first.year) * 12 + last.month - first.month
    unit = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}.get(
        calendar, timedelta(weeks=1)
    )
    return (last - first) // unit


def key(wall: datetime, calendar: str) -> str:
    """The partition key of the unit starting at ``wall``, e.g. ``2026-W48``."""
    if calendar == "weekly":
        iso = wall.isocalendar()
        return f"{iso.year:04d}-W{iso.week:02d}"
    text = f"{wall.year:04d}-{wall.month:02d}"
    if calendar != "monthly":
        text += f"-{wall.day:02d}"
    if calendar == "hourly":
        text += f"T{wall.hour:02d}"
    return text


def days_in_month(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - date(year, month, 1)).days


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC, for comparing and subtracting absolute times."""
    # Aware datetimes sharing a tzinfo compare and subtract on the wall clock, ignoring
    # daylight saving; converting to UTC first gives absolute time.
    return moment.astimezone(UTC)
