"""The console's own settings (``BARECOUNT_CONSOLE_*``): who may read, how long sessions live."""

from __future__ import annotations

import os
import re

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from barecount.errors import SettingsError

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class ConsoleOptions(BaseModel):
    """How the console guards itself; ``console_options()`` reads them from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    public: bool = Field(
        False, description="Read pages without logging in (BARECOUNT_CONSOLE_PUBLIC=true)."
    )
    session_seconds: int = Field(
        12 * 3600, ge=1, le=30 * 86400, description="A session ends this long after login."
    )
    max_body_bytes: int = Field(
        16 * 1024, ge=1024, description="Larger request bodies are refused with 413 unread."
    )
    failures_per_user: int = Field(
        5, ge=1, description="Failed logins per approver name within the window before 429."
    )
    failures_per_address: int = Field(
        20, ge=1, description="Failed logins per client address within the window before 429."
    )
    failure_window_seconds: int = Field(
        15 * 60, ge=1, description="How long a failed login counts against the limits."
    )


def parse_duration(text: str) -> int:
    """Seconds in ``text``: a number with an optional unit s, m, h or d (``12h``, ``90s``)."""
    match = DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is no duration; write e.g. 12h, 30m or 90s")
    return round(float(match.group(1)) * UNIT_SECONDS[match.group(2).lower()])


def console_options() -> ConsoleOptions:
    """The options the environment sets, checked; a bad value is one readable error.

    Raises:
        SettingsError: a ``BARECOUNT_CONSOLE_*`` variable holds a value that cannot be used.
    """
    values: dict[str, object] = {}
    name = "BARECOUNT_CONSOLE_PUBLIC"
    try:
        raw = os.environ.get(name, "").strip()
        if raw:
            values["public"] = TypeAdapter(bool).validate_python(raw)
        name = "BARECOUNT_CONSOLE_SESSION_EXPIRY"
        raw = os.environ.get(name, "").strip()
        if raw:
            values["session_seconds"] = parse_duration(raw)
        return ConsoleOptions(**values)
    except (ValidationError, ValueError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise SettingsError(
            f"{name}={raw!r} cannot be used: {reason} "
            "(BARECOUNT_CONSOLE_PUBLIC takes true or false; "
            "BARECOUNT_CONSOLE_SESSION_EXPIRY a duration from 1s to 30d, e.g. 12h)"
        ) from None
