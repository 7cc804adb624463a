"""Console sessions live on the server: a cookie stops working at logout, when the approver's
token is re-issued, and when the session expires, even if someone kept a copy of it."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
import time
from pathlib import Path

from barecount.console.auth import issue_token
from barecount.manifest import load_manifests
from barecount.settings import get_settings

COOKIE = "barecount_console"


def signed_in(server, cookie: str) -> str | None:
    """Who the console says is signed in when shown ``cookie`` (a fresh client, no jar)."""
    with server.client(cookies={COOKIE: cookie}) as client:
        response = client.get("/pending")
    if response.status_code == 303:
        assert response.headers["location"] == "/login?next=%2Fpending"
        return None
    assert response.status_code == 200, response.text
    found = re.search(r"signed in as <strong>([^<]+)</strong>", response.text)
    return found.group(1) if found else None


def test_a_cookie_kept_after_logout_no_longer_works(governed: Path, console_server):
    server = console_server()
    token = issue_token(get_settings().home, "alice", load_manifests(governed))
    with server.client() as client:
        cookie = server.login(client, "alice", token)
        assert signed_in(server, cookie) == "alice"
        page = client.get("/pending").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        out = client.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/login"
    assert signed_in(server, cookie) is None  # the copy an attacker kept
    record = get_settings().home / "console" / "sessions.db"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert cookie.encode() not in record.read_bytes()  # only its sha256 is kept


def test_reissuing_a_token_with_the_cli_ends_that_approvers_sessions(
    governed: Path, console_server
):
    server = console_server()
    loaded = load_manifests(governed)
    alice = issue_token(get_settings().home, "alice", loaded)
    bob = issue_token(get_settings().home, "bob", loaded)
    with server.client() as a, server.client() as b:
        alice_cookies = [server.login(a, "alice", alice), server.login(a, "alice", alice)]
        bob_cookie = server.login(b, "bob", bob)
    assert [signed_in(server, c) for c in alice_cookies] == ["alice", "alice"]

    cli = [sys.executable, "-m", "barecount.cli.main"]
    done = subprocess.run(
        [*cli, "console", "token", "alice", "-m", str(governed)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    new_token = done.stdout.strip().splitlines()[-1]
    assert new_token.startswith("bct_") and new_token != alice

    assert [signed_in(server, c) for c in alice_cookies] == [None, None]
    assert signed_in(server, bob_cookie) == "bob"  # only alice's sessions ended
    with server.client() as client:
        refused = client.post("/login", data={"name": "alice", "token": alice})
        assert refused.status_code == 401
        assert signed_in(server, server.login(client, "alice", new_token)) == "alice"


def test_sessions_expire_after_the_configured_time(governed: Path, console_server):
    server = console_server(SESSION_EXPIRY="2s")
    token = issue_token(get_settings().home, "alice", load_manifests(governed))
    with server.client() as client:
        response = client.post("/login", data={"name": "alice", "token": token})
        assert "Max-Age=2" in response.headers["set-cookie"]
        cookie = response.cookies[COOKIE]
    assert signed_in(server, cookie) == "alice"
    time.sleep(3.2)
    assert signed_in(server, cookie) is None  # replayed past its expiry: refused by the server


def test_a_bad_expiry_setting_is_one_line_at_startup(governed: Path, console_server):
    import os

    done = subprocess.run(
        [sys.executable, "-m", "barecount.cli.main", "console", "-m", str(governed)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "BARECOUNT_CONSOLE_SESSION_EXPIRY": "forever"},
    )  # fmt: skip
    assert done.returncode == 2  # a usage error: the setting is malformed
    assert "Traceback" not in done.stderr + done.stdout
    assert "BARECOUNT_CONSOLE_SESSION_EXPIRY='forever' cannot be used" in done.stderr
