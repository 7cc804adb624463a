"""The checked scalar types of manifests: names, KPI names, time zones, cron, clock times."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cronsim import CronSim, CronSimError
from pydantic import AfterValidator, Field, Strict

from barecount.manifest.limits import shown
from barecount.manifest.suggest import did_you_mean

API_VERSION = "barecount/v1"
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
KPI_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
RUN_PATTERN = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"
_EPOCH = datetime(2026, 1, 1)  # any start will do: CronSim parses the expression eagerly
# IANA zone names: letters, digits, '_', '-', '+' in '/'-separated parts; no '.', no '//'.
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")
_ZONE_MAX = 64  # the longest IANA name has 32 characters


def _check_timezone(value: str) -> str:
    """An IANA zone. Only the name's shape is checked before the zone database is read, so
    no name reaches the file system as a path ('Europe' is a folder there, '../x' a path)."""
    if len(value) <= _ZONE_MAX and _ZONE_NAME.fullmatch(value):
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    hint = did_you_mean(value, available_timezones()) if len(value) <= _ZONE_MAX else ""
    raise ValueError(
        f"unknown time zone {shown(value)}{hint}; use an IANA name such as 'Europe/Berlin' or 'UTC'"
    )


def _check_cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron {shown(value)} has {len(fields)} fields; expected 5 "
            "(minute hour day-of-month month day-of-week), e.g. '0 0 * * *'"
        )
    try:
        CronSim(value, _EPOCH)
    except CronSimError as exc:
        raise ValueError(
            f"invalid cron {shown(value)}: {exc}; e.g. '0 0 * * *' for daily at midnight"
        ) from None
    return value


def _check_clock(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"time {shown(value)} is not HH:MM on a 24-hour clock, e.g. '04:30'")
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

# Booleans and numbers are taken as written: YAML already reads `true` and `3` as such, so a
# quoted "false" or '3' is a mistake to point out, not a string to convert.
Bool = Annotated[bool, Strict()]
Int = Annotated[int, Strict()]
Number = Annotated[float, Strict()]
