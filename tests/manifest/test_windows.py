"""Schedule windows, checked in the schedule's own time zone (pure, no server)."""

from __future__ import annotations

from datetime import UTC, datetime

from barecount.manifest.models import Schedule
from barecount.manifest.windows import outside_window


def berlin(start: str = "00:00", end: str = "04:00", late: str = "skip") -> Schedule:
    return Schedule(
        cron="0 0 * * *",
        timezone="Europe/Berlin",
        window={"start": start, "end": end, "late": late},
    )


def test_window_check_in_the_schedules_time_zone() -> None:
    # 02:30 UTC is 03:30 in Berlin in winter: inside; in summer 04:30: outside
    assert outside_window(berlin(), datetime(2026, 11, 27, 2, 30, tzinfo=UTC)) is None
    assert outside_window(berlin(), datetime(2026, 7, 1, 2, 30, tzinfo=UTC)) == (
        "started 2026-07-01 04:30 Europe/Berlin, outside its window 00:00-04:00 (late: skip)"
    )


def test_window_edges_are_inside() -> None:
    assert outside_window(berlin(), datetime(2026, 11, 26, 23, 0, tzinfo=UTC)) is None  # 00:00
    assert outside_window(berlin(), datetime(2026, 11, 27, 3, 0, tzinfo=UTC)) is None  # 04:00
    assert outside_window(berlin(), datetime(2026, 11, 27, 3, 1, tzinfo=UTC)) is not None


def test_the_message_names_the_late_policy() -> None:
    message = outside_window(berlin(late="run"), datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    assert message == (
        "started 2026-11-27 13:00 Europe/Berlin, outside its window 00:00-04:00 (late: run)"
    )


def test_no_window_means_always_inside() -> None:
    schedule = Schedule(cron="0 0 * * *", timezone="UTC")
    assert outside_window(schedule, datetime(2026, 11, 27, 12, 0, tzinfo=UTC)) is None
