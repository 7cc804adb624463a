"""The checked scalar types of manifests: names, KPI names, time zones, cron, clock times."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import AfterValidator, Field

API_VERSION = "barecount/v1"
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
KPI_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
RUN_PATTERN = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"
_EPOCH = datetime(2026, 1, 1)  # any start will do: CronSim parses the expression eagerly


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None
    return value


def _check_cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron {value!r} has {len(fields)} fields; expected 5 "
            "(minute hour day-of-month month day-of-week), e.g. '0 0 * * *'"
        )
    try:
        CronSim(value, _EPOCH)
    except CronSimError as exc:
        raise ValueError(
            f"invalid cron {value!r}: {exc}; e.g. '0 0 * * *' for daily at midnight"
        ) from None
    return value


def _check_clock(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"time {value!r} is not HH:MM on a 24-hour clock, e.g. '04:30'")
    return value


Name = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        description="Lower-case letters, digits and dashes, starting with a letter; 63 at most.",
    ),
]
KpiName = Annotated[
    str,
    Field(
        pattern=KPI_PATTERN,
        description="KPI name: lower-case letters, digits and underscores, starting with a letter.",
    ),
]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
Cron = Annotated[str, AfterValidator(_check_cron)]
Clock = Annotated[str, AfterValidator(_check_clock)]
