"""Partition keys, calendars, time zones and daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from barecount.errors import PartitionError
from barecount.manifest.models import PartitionSpec
from barecount.manifest.partitions import (
    Partition,
    expected_form,
    parse_partition,
    partition_for,
    partition_range,
)

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)


def spec(calendar: str = "daily", timezone: str = "Europe/Berlin", offset: int = 0):
    return PartitionSpec(calendar=calendar, timezone=timezone, offset=offset)


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def keys(partitions: list[Partition]) -> list[str]:
    return [p.key for p in partitions]


def total(partitions: list[Partition]) -> timedelta:
    return sum((p.duration for p in partitions), start=timedelta())


def tiles(partitions: list[Partition]) -> bool:
    """Each partition ends, in absolute time, exactly where the next one starts."""
    return all(a.end.astimezone(UTC) == b.start.astimezone(UTC) for a, b in pairwise(partitions))


# Round trips


@pytest.mark.parametrize(
    ("calendar", "key", "start", "end"),
    [
        ("hourly", "2026-11-26T13", datetime(2026, 11, 26, 13), datetime(2026, 11, 26, 14)),
        ("daily", "2026-11-26", datetime(2026, 11, 26), datetime(2026, 11, 27)),
        ("weekly", "2026-W48", datetime(2026, 11, 23), datetime(2026, 11, 30)),
        ("monthly", "2026-11", datetime(2026, 11, 1), datetime(2026, 12, 1)),
    ],
)
def test_key_round_trips_in_every_calendar(calendar, key, start, end):
    partition = parse_partition(key, spec(calendar))

    assert str(partition) == partition.key == key
    assert (partition.calendar, partition.timezone) == (calendar, "Europe/Berlin")
    assert partition.start == start.replace(tzinfo=BERLIN)
    assert partition.end == end.replace(tzinfo=BERLIN)
    assert partition.start.tzinfo is BERLIN and partition.end.tzinfo is BERLIN
    assert parse_partition(str(partition.next()), spec(calendar)).previous() == partition
    assert partition.next().start == partition.end
    assert partition_for(partition.start, spec(calendar)) == partition
    assert partition_for(partition.end - timedelta(microseconds=1), spec(calendar)) == partition
    assert partition_for(partition.end, spec(calendar)) == partition.next()


def test_expected_form_names_the_shape_and_an_example():
    assert expected_form("hourly") == "YYYY-MM-DDTHH, e.g. 2026-11-26T13"
    assert expected_form("daily") == "YYYY-MM-DD, e.g. 2026-11-26"
    assert expected_form("weekly") == "YYYY-Www (ISO week), e.g. 2026-W48"
    assert expected_form("monthly") == "YYYY-MM, e.g. 2026-11"
    with pytest.raises(PartitionError) as caught:
        expected_form("yearly")
    assert str(caught.value) == (
        "unknown partition calendar 'yearly'; use one of hourly, daily, weekly, monthly"
    )


# Bad keys

DAILY = "expected YYYY-MM-DD, e.g. 2026-11-26"
HOURLY = "expected YYYY-MM-DDTHH, e.g. 2026-11-26T13"
WEEKLY = "expected YYYY-Www (ISO week), e.g. 2026-W48"
MONTHLY = "expected YYYY-MM, e.g. 2026-11"


@pytest.mark.parametrize(
    ("calendar", "key", "problem"),
    [
        ("daily", "2026-13-01", f"month 13 does not exist; {DAILY}"),
        ("daily", "2026-00-10", f"month 00 does not exist; {DAILY}"),
        ("daily", "2026-02-29", f"day 29 does not exist in 2026-02 (it has 28 days); {DAILY}"),
        ("daily", "2026-04-31", f"day 31 does not exist in 2026-04 (it has 30 days); {DAILY}"),
        ("daily", "2026-11-00", f"day 00 does not exist in 2026-11 (it has 30 days); {DAILY}"),
        ("daily", "1899-12-31", f"year 1899 is outside the supported years 1900-9998; {DAILY}"),
        ("daily", "9999-01-01", f"year 9999 is outside the supported years 1900-9998; {DAILY}"),
        ("daily", "2026-W48", f"it has the form of a weekly key; {DAILY}"),
        ("daily", "2026-11", f"it has the form of a monthly key; {DAILY}"),
        ("daily", "2026-11-26T13", f"it has the form of an hourly key; {DAILY}"),
        ("daily", " 2026-11-26\n", f"remove the spaces around it; {DAILY}"),
        ("daily", "26.11.2026", DAILY),
        ("daily", "2026-1-5", DAILY),
        ("daily", "\uff12\uff10\uff12\uff16-11-26", DAILY),  # full-width digits
        ("daily", "", DAILY),
        ("hourly", "2026-11-26T24", f"hour 24 does not exist (hours run 00 to 23); {HOURLY}"),
        ("hourly", "2026-02-30T10", f"day 30 does not exist in 2026-02 (it has 28 days); {HOURLY}"),
        ("hourly", "2026-11-26", f"it has the form of a daily key; {HOURLY}"),
        ("hourly", "2026-11-26T1", HOURLY),
        ("hourly", "2026-11-26 13", HOURLY),
        ("hourly", "2026-11-26T13:00", HOURLY),
        (
            "weekly",
            "2026-W54",
            f"week 54 does not exist in ISO year 2026 (it has 53 weeks); {WEEKLY}",
        ),
        (
            "weekly",
            "2027-W53",
            f"week 53 does not exist in ISO year 2027 (it has 52 weeks); {WEEKLY}",
        ),
        (
            "weekly",
            "2026-W00",
            f"week 00 does not exist in ISO year 2026 (it has 53 weeks); {WEEKLY}",
        ),
        ("weekly", "2026-11-26", f"it has the form of a daily key; {WEEKLY}"),
        ("weekly", "2026-w48", WEEKLY),
        ("weekly", "2026-W7", WEEKLY),
        ("monthly", "2026-13", f"month 13 does not exist; {MONTHLY}"),
        ("monthly", "2026-11-01", f"it has the form of a daily key; {MONTHLY}"),
        ("monthly", "202611", MONTHLY),
    ],
)
def test_bad_key_is_rejected_naming_the_expected_form(calendar, key, problem):
    article = "an" if calendar == "hourly" else "a"
    with pytest.raises(PartitionError) as caught:
        parse_partition(key, spec(calendar))
    assert (
        str(caught.value) == f"bad partition {key!r} for {article} {calendar} calendar: {problem}"
    )
    assert isinstance(caught.value, ValueError)


def test_date_loaded_from_unquoted_yaml_is_rejected_with_a_hint():
    with pytest.raises(PartitionError) as caught:
        parse_partition(date(2026, 11, 26), spec())  # type: ignore[arg-type]
    assert str(caught.value) == (
        "bad partition '2026-11-26' for a daily calendar: it is a date, not a string "
        f"(quote partition keys in YAML); {DAILY}"
    )


# partition_for and offsets


def test_midnight_run_with_offset_minus_one_serves_yesterday():
    midnight = datetime(2026, 11, 27, 0, 0, tzinfo=BERLIN)
    assert partition_for(midnight, spec(offset=-1)).key == "2026-11-26"
    assert partition_for(midnight, spec(offset=0)).key == "2026-11-27"
    assert partition_for(midnight, spec(offset=1)).key == "2026-11-28"


def test_naive_instant_is_utc_and_partitions_are_cut_in_the_pipeline_time_zone():
    naive = datetime(2026, 11, 26, 23, 30)  # 00:30 on the 27th in Berlin
    assert partition_for(naive, spec()).key == "2026-11-27"
    assert partition_for(naive, spec(offset=-1)).key == "2026-11-26"
    assert partition_for(naive, spec(timezone="UTC")).key == "2026-11-26"
    new_york = datetime(2026, 11, 26, 18, 30, tzinfo=ZoneInfo("America/New_York"))
    assert partition_for(new_york, spec()) == partition_for(naive, spec())


@pytest.mark.parametrize(
    ("calendar", "local_run", "served"),
    [
        ("monthly", datetime(2027, 1, 1), "2026-12"),
        ("weekly", datetime(2027, 1, 4), "2026-W53"),
        ("daily", datetime(2027, 1, 1), "2026-12-31"),
        ("hourly", datetime(2027, 1, 1, 0), "2026-12-31T23"),
        # The hour before 03:00 on the day clocks spring forward is 01:00: 02 never happened.
        ("hourly", datetime(2026, 3, 29, 3), "2026-03-29T01"),
    ],
)
def test_offset_minus_one_crosses_year_and_skipped_hour(calendar, local_run, served):
    run = local_run.replace(tzinfo=BERLIN)
    assert partition_for(run, spec(calendar, offset=-1)).key == served


def test_shift_counts_existing_partitions():
    start = parse_partition("2026-03-28T23", spec("hourly"))
    assert start.shift(0) == start
    assert start.shift(3) == start.next().next().next()
    assert keys([start.shift(n) for n in range(1, 5)]) == [
        "2026-03-29T00",
        "2026-03-29T01",
        "2026-03-29T03",
        "2026-03-29T04",
    ]
    assert start.shift(4).shift(-4) == start
    assert parse_partition("2026-11-26", spec()).shift(-366).key == "2025-11-25"


# Weeks


def test_iso_weeks_at_the_turn_of_the_year():
    assert date(2026, 12, 31).isocalendar()[:2] == (2026, 53)
    assert date(2027, 1, 1).isocalendar()[:2] == (2026, 53)
    assert date(2027, 1, 4).isocalendar()[:2] == (2027, 1)
    assert date(2024, 12, 30).isocalendar()[:2] == (2025, 1)
    weekly = spec("weekly")
    days = [date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 3), date(2027, 1, 4)]
    days.append(date(2024, 12, 30))
    noon = {day: datetime.combine(day, time(12), tzinfo=BERLIN) for day in days}
    found = {day: partition_for(moment, weekly).key for day, moment in noon.items()}
    assert found == {
        date(2026, 12, 31): "2026-W53",
        date(2027, 1, 1): "2026-W53",
        date(2027, 1, 3): "2026-W53",
        date(2027, 1, 4): "2027-W01",
        date(2024, 12, 30): "2025-W01",
    }
    for day, key in found.items():
        iso = day.isocalendar()
        assert key == f"{iso.year}-W{iso.week:02d}"

    w53 = parse_partition("2026-W53", weekly)
    assert w53.start == datetime(2026, 12, 28, tzinfo=BERLIN)
    assert w53.end == datetime(2027, 1, 4, tzinfo=BERLIN)
    assert w53.next().key == "2027-W01"
    assert parse_partition("2027-W52", weekly).next().key == "2028-W01"
    assert len(partition_range("2026-W01", "2026-W53", weekly)) == 53
    assert len(partition_range("2027-W01", "2027-W52", weekly)) == 52


# Months


@pytest.mark.parametrize(
    ("key", "days"),
    [
        ("2026-01", 31),
        ("2026-02", 28),
        ("2028-02", 29),
        ("2000-02", 29),
        ("2100-02", 28),
        ("2026-04", 30),
        ("2026-12", 31),
    ],
)
def test_month_lengths(key, days):
    month = parse_partition(key, spec("monthly", "UTC"))
    assert month.duration == timedelta(days=days)


def test_months_with_a_clock_change_are_an_hour_short_or_long():
    monthly = spec("monthly")
    assert parse_partition("2026-03", monthly).duration == timedelta(days=31) - HOUR
    assert parse_partition("2026-10", monthly).duration == timedelta(days=31) + HOUR
    assert parse_partition("2026-12", monthly).next().key == "2027-01"
    assert parse_partition("2027-01", monthly).previous().key == "2026-12"


# Daylight saving in Europe/Berlin


def test_days_of_clock_changes_last_23_and_25_hours_in_absolute_time():
    march = parse_partition("2026-03-29", spec())
    october = parse_partition("2026-10-25", spec())

    assert march.duration == 23 * HOUR
    assert (march.start.astimezone(UTC), march.end.astimezone(UTC)) == (
        utc(2026, 3, 28, 23),
        utc(2026, 3, 29, 22),
    )
    assert october.duration == 25 * HOUR
    assert (october.start.astimezone(UTC), october.end.astimezone(UTC)) == (
        utc(2026, 10, 24, 22),
        utc(2026, 10, 25, 23),
    )
    assert parse_partition("2026-03-28", spec()).duration == 24 * HOUR


def test_hour_skipped_in_spring_does_not_exist():
    hourly = spec("hourly")
    with pytest.raises(PartitionError) as caught:
        parse_partition("2026-03-29T02", hourly)
    assert str(caught.value) == (
        "bad partition '2026-03-29T02' for an hourly calendar: hour 02 does not exist in "
        "Europe/Berlin on 2026-03-29 (clocks jump from 02:00 to 03:00); "
        "the partitions around it are 2026-03-29T01 and 2026-03-29T03"
    )

    one = parse_partition("2026-03-29T01", hourly)
    three = parse_partition("2026-03-29T03", hourly)
    assert one.next() == three and three.previous() == one
    assert one.duration == three.duration == HOUR
    assert one.end.astimezone(UTC) == three.start.astimezone(UTC) == utc(2026, 3, 29, 1)
    assert partition_for(utc(2026, 3, 29, 0, 59), hourly) == one
    assert partition_for(utc(2026, 3, 29, 1, 0), hourly) == three


def test_hour_repeated_in_autumn_is_one_partition_two_hours_long():
    hourly = spec("hourly")
    two = parse_partition("2026-10-25T02", hourly)

    assert two.duration == 2 * HOUR
    assert two.start == datetime(2026, 10, 25, 2, tzinfo=BERLIN)
    assert two.start.fold == 0  # the first 02:00, still summer time
    assert (two.start.astimezone(UTC), two.end.astimezone(UTC)) == (
        utc(2026, 10, 25, 0),
        utc(2026, 10, 25, 2),
    )
    first_pass = utc(2026, 10, 25, 0, 30)
    second_pass = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN)
    assert second_pass.astimezone(UTC) == utc(2026, 10, 25, 1, 30)
    assert partition_for(first_pass, hourly) == two
    assert partition_for(second_pass, hourly) == two
    assert keys([two.previous(), two, two.next()]) == [
        "2026-10-25T01",
        "2026-10-25T02",
        "2026-10-25T03",
    ]
    assert two.next().duration == HOUR


def test_hourly_range_across_clock_changes():
    hourly = spec("hourly")
    march = partition_range("2026-03-29T00", "2026-03-29T23", hourly)
    october = partition_range("2026-10-25T00", "2026-10-25T23", hourly)

    assert len(march) == 23 and "2026-03-29T02" not in keys(march)
    assert total(march) == 23 * HOUR and tiles(march)
    assert len(october) == 24 and keys(october).count("2026-10-25T02") == 1
    assert total(october) == 25 * HOUR and tiles(october)


def test_daily_and_yearly_ranges_across_clock_changes():
    days = partition_range("2026-03-28", "2026-03-30", spec())
    assert keys(days) == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert [p.duration / HOUR for p in days] == [24, 23, 24]

    year = partition_range("2026-01-01", "2026-12-31", spec())
    assert len(year) == 365 and total(year) == timedelta(days=365) and tiles(year)

    hours = partition_range("2026-01-01T00", "2026-12-31T23", spec("hourly"))
    assert len(hours) == 365 * 24 - 1  # one hour skipped, one hour twice as long
    assert total(hours) == timedelta(days=365) and tiles(hours)
    assert sorted(hours, reverse=True) == hours[::-1]


def test_utc_pipeline_is_unaffected_by_daylight_saving():
    hourly = spec("hourly", "UTC")
    assert parse_partition("2026-03-29T02", hourly).duration == HOUR
    for day in ("2026-03-29", "2026-10-25"):
        assert parse_partition(day, spec(timezone="UTC")).duration == 24 * HOUR
        hours = partition_range(f"{day}T00", f"{day}T23", hourly)
        assert len(hours) == 24 and all(h.duration == HOUR for h in hours)
    midnight = utc(2026, 11, 27, 0, 0)
    assert partition_for(midnight, spec(timezone="UTC", offset=-1)).key == "2026-11-26"


def test_day_skipped_entirely_does_not_exist():
    apia = spec(timezone="Pacific/Apia")  # Samoa crossed the date line on 2011-12-30
    with pytest.raises(PartitionError) as caught:
        parse_partition("2011-12-30", apia)
    assert str(caught.value) == (
        "bad partition '2011-12-30' for a daily calendar: it does not exist in Pacific/Apia "
        "(clocks jump from 2011-12-30 00:00 to 2011-12-31 00:00); "
        "the partitions around it are 2011-12-29 and 2011-12-31"
    )
    before = parse_partition("2011-12-29", apia)
    assert before.next().key == "2011-12-31" and before.duration == 24 * HOUR


# Ranges


def test_range_includes_both_ends_and_allows_a_single_partition():
    assert keys(partition_range("2026-11-26", "2026-11-28", spec())) == [
        "2026-11-26",
        "2026-11-27",
        "2026-11-28",
    ]
    assert keys(partition_range("2026-11", "2026-11", spec("monthly"))) == ["2026-11"]


def test_range_ending_before_it_starts_is_rejected():
    with pytest.raises(PartitionError) as caught:
        partition_range("2026-11-27", "2026-11-26", spec())
    assert str(caught.value) == (
        "bad partition range '2026-11-27' to '2026-11-26': the end is before the start; "
        "give the earlier partition first"
    )


def test_range_over_the_limit_is_rejected_before_any_work():
    with pytest.raises(PartitionError) as caught:
        partition_range("2015-01-01T00", "2026-11-26T13", spec("hourly"))
    assert str(caught.value) == (
        "partition range '2015-01-01T00' to '2026-11-26T13' spans 104,342 hourly partitions, "
        "more than the limit of 100,000; split it into smaller ranges"
    )
    with pytest.raises(
        PartitionError, match="spans 30 daily partitions, more than the limit of 10"
    ):
        partition_range("2026-11-01", "2026-11-30", spec(), limit=10)


def test_range_with_a_bad_key_names_the_key():
    with pytest.raises(PartitionError, match=r"bad partition '2026-11-31' for a daily calendar"):
        partition_range("2026-11-01", "2026-11-31", spec())


# Ordering and limits


def test_partitions_order_by_start_in_absolute_time():
    berlin_day = parse_partition("2026-11-26", spec())
    utc_day = parse_partition("2026-11-26", spec(timezone="UTC"))
    assert berlin_day < utc_day  # Berlin's day starts at 23:00 UTC the day before
    assert berlin_day < berlin_day.next() and berlin_day.previous() <= berlin_day
    assert sorted([berlin_day.next(), utc_day, berlin_day]) == [
        berlin_day,
        utc_day,
        berlin_day.next(),
    ]
    assert {berlin_day, parse_partition("2026-11-26", spec())} == {berlin_day}
    with pytest.raises(TypeError):
        _ = berlin_day < "2026-11-27"


def test_moving_past_the_supported_years_is_an_error():
    with pytest.raises(PartitionError) as caught:
        parse_partition("9998-12-31", spec()).next()
    assert str(caught.value) == "partition 9999-01-01 is outside the supported years 1900-9998"
    with pytest.raises(PartitionError, match="partition 1899-12 is outside the supported years"):
        parse_partition("1900-01", spec("monthly")).previous()
