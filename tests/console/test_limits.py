"""The pure parts of the console's guards: the failed-login window and the console settings."""

from __future__ import annotations

import pytest

from barecount.console.limits import LoginLimiter
from barecount.console.options import console_options, parse_duration
from barecount.errors import SettingsError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_count_in_a_sliding_window_and_tell_when_to_retry():
    clock = Clock()
    limiter = LoginLimiter(per_user=3, per_address=5, window=600, clock=clock)
    for step in range(3):
        assert limiter.retry_after("alice", "10.0.0.1") is None
        limiter.failed("alice", "10.0.0.1")
        clock.now += 100 if step < 2 else 0
    # failures at 1000, 1100, 1200: the first leaves the window at 1600
    assert limiter.retry_after("alice", "10.0.0.2") == 400
    assert limiter.retry_after("bob", "10.0.0.1") is None  # 3 of the address's 5
    clock.now = 1599.5
    assert limiter.retry_after("alice", "10.0.0.2") == 1
    clock.now = 1600
    assert limiter.retry_after("alice", "10.0.0.2") is None
    limiter.failed("alice", "10.0.0.2")
    assert limiter.retry_after("alice", "10.0.0.3") == 100  # 1100 leaves at 1700
    limiter.succeeded("alice")
    assert limiter.retry_after("alice", "10.0.0.3") is None


def test_console_settings_come_from_the_environment_checked(monkeypatch: pytest.MonkeyPatch):
    assert [parse_duration(t) for t in ("12h", "30m", "90s", "2", "1d", "0.5h")] == [
        43200, 1800, 90, 2, 86400, 1800,
    ]  # fmt: skip
    monkeypatch.delenv("BARECOUNT_CONSOLE_PUBLIC", raising=False)
    monkeypatch.delenv("BARECOUNT_CONSOLE_SESSION_EXPIRY", raising=False)
    default = console_options()
    assert (default.public, default.session_seconds) == (False, 12 * 3600)
    monkeypatch.setenv("BARECOUNT_CONSOLE_PUBLIC", "true")
    monkeypatch.setenv("BARECOUNT_CONSOLE_SESSION_EXPIRY", "45m")
    assert (console_options().public, console_options().session_seconds) == (True, 2700)
    monkeypatch.setenv("BARECOUNT_CONSOLE_PUBLIC", "sometimes")
    with pytest.raises(SettingsError, match=r"BARECOUNT_CONSOLE_PUBLIC='sometimes' cannot be"):
        console_options()
    monkeypatch.setenv("BARECOUNT_CONSOLE_PUBLIC", "false")
    monkeypatch.setenv("BARECOUNT_CONSOLE_SESSION_EXPIRY", "90d")
    with pytest.raises(SettingsError, match=r"SESSION_EXPIRY='90d' cannot be used: Input should"):
        console_options()
