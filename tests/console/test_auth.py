"""Console login and decisions: only a logged-in approver's own-origin form with its CSRF token
reaches the paused run; every other request is refused and recorded nowhere."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from barecount.console import auth
from barecount.console.app import create_app
from barecount.console.options import ConsoleOptions
from barecount.ledger import get_ledger
from barecount.ledger.governance_store import decisions_for
from barecount.ledger.models import GateCheck
from barecount.manifest import load_manifests
from barecount.settings import get_settings

ORIGIN = "http://127.0.0.1:8787"


def client_for(manifests: Path, *, public: bool = False) -> TestClient:
    options = ConsoleOptions(public=public)
    app = create_app(get_settings(), manifests=manifests, decision_wait=60, options=options)
    return TestClient(app, base_url=ORIGIN)


def login(client: TestClient, name: str, token: str) -> str:
    """Log in and return the session's CSRF token, read from the pending page's form."""
    response = client.post("/login", data={"name": name, "token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/pending")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_tokens_are_issued_to_approvers_only_and_stored_hashed(home: Path, governed: Path):
    settings = get_settings()
    loaded = load_manifests(governed)
    token = auth.issue_token(settings.home, "alice", loaded)
    stored = (settings.home / "console" / "tokens.json").read_text()
    assert token not in stored and "sha256:" in stored
    mode = stat.S_IMODE((settings.home / "console" / "tokens.json").stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert auth.check_login(settings.home, "alice", token)
    assert not auth.check_login(settings.home, "alice", token + "x")
    assert not auth.check_login(settings.home, "bob", token)
    with pytest.raises(auth.ConsoleAuthError, match="'mallory' is not an approver on any team"):
        auth.issue_token(settings.home, "mallory", loaded)


def test_login_sets_a_strict_httponly_session_and_refuses_wrong_tokens(home: Path, governed: Path):
    token = auth.issue_token(get_settings().home, "alice", load_manifests(governed))
    client = client_for(governed)
    bad = client.post("/login", data={"name": "alice", "token": "bct_guess"})
    assert bad.status_code == 401
    assert "unknown approver or wrong token" in bad.text
    assert auth.SESSION_COOKIE not in client.cookies
    response = client.post("/login", data={"name": "alice", "token": token}, follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert token not in cookie
    page = client.get("/pending")
    assert "signed in as <strong>alice</strong>" in page.text
    assert token not in page.text
    forged = client.cookies[auth.SESSION_COOKIE][:-2] + "AA"
    client.cookies.clear()  # else the jar sends both cookies, in no fixed order
    client.cookies.set(auth.SESSION_COOKIE, forged)
    assert "signed in as" not in client.get("/pending").text
    cross = client_for(governed).post(
        "/login", data={"name": "alice", "token": token}, headers={"Origin": "http://evil.test"}
    )
    assert cross.status_code == 403


@pytest.mark.usefixtures("prefect_api")
def test_forged_decisions_are_refused_and_never_reach_the_run(
    home: Path, governed: Path, paused_run
):
    held = paused_run("2026-11-21")
    check = held.check
    token = auth.issue_token(get_settings().home, "bob", load_manifests(governed))
    decide = f"/pending/{check.id}/decide"
    form = {"decision": "approve", "reason": "ok"}

    anonymous = client_for(governed, public=True)  # reads open: the diff, but no decision form
    page = anonymous.get("/pending")
    assert "customer_id" in page.text and "renamed" in page.text  # the drift diff
    assert 'action="/pending/' not in page.text  # no decision form before logging in
    response = anonymous.post(decide, data=form)
    assert response.status_code == 401

    client = client_for(governed)
    csrf = login(client, "bob", token)
    assert client.post(decide, data=form).status_code == 403  # no CSRF token
    assert client.post(decide, data={**form, "csrf": "x" * len(csrf)}).status_code == 403
    other = client_for(governed)
    other_csrf = login(other, "bob", token)
    assert client.post(decide, data={**form, "csrf": other_csrf}).status_code == 403
    for header in ({"Origin": "http://evil.test"}, {"Referer": "http://evil.test/page"}):
        response = client.post(decide, data={**form, "csrf": csrf}, headers=header)
        assert response.status_code == 403
        assert "cross-site request refused" in response.text
    # an approver cannot pose as someone else through the form
    with get_ledger().session() as session:
        assert decisions_for(session=session, check_id=check.id) == []
    assert held.state() == "Paused"

    response = client.post(
        decide,
        data={"decision": "reject", "reason": "not today", "csrf": csrf, "approver": "alice"},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 200
    assert "accepted: reject by bob (signed)" in response.text
    with get_ledger().session() as session:
        decisions = decisions_for(session=session, check_id=check.id)
    assert [(d.decision, d.approver, d.signed, d.accepted) for d in decisions] == [
        ("reject", "bob", True, True)
    ]
    held.process.communicate(timeout=120)
    assert held.process.returncode == 1
    assert "Nothing waits for governance." in client.get("/pending").text


def not_paused_flow_run(kind: str) -> str:
    """The id of a flow run on the session's server that is not paused (yet)."""
    from bc_testkit import scheduled_flow_run

    assert kind == "scheduled"
    return scheduled_flow_run()


def pending_hold(flow_run_id: str) -> GateCheck:
    """A hold the ledger lists as pending, for a flow run that waits for nothing."""
    from bc_testkit import pending_hold_for

    return pending_hold_for(flow_run_id)


@pytest.mark.usefixtures("prefect_api")
def test_a_decision_for_a_run_not_yet_paused_is_a_readable_409(home: Path, governed: Path):
    # a run on its way to the gate (scheduled, running) will pause: nothing is decided yet.
    # A run that ended or is gone leaves an orphaned hold, decided as such (test_holds.py).
    says = "is not paused"
    check = pending_hold(not_paused_flow_run("scheduled"))
    token = auth.issue_token(get_settings().home, "bob", load_manifests(governed))
    client = client_for(governed)
    csrf = login(client, "bob", token)
    assert f'action="/pending/{check.id}/decide"' in client.get("/pending").text

    response = client.post(
        f"/pending/{check.id}/decide",
        data={"decision": "approve", "reason": "ok", "csrf": csrf},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Run not paused</h1>" in response.text
    verdict = re.search(r'<div class="verdict bad" id="verdict">(.*?)</div>', response.text, re.S)
    assert verdict is not None, response.text
    assert verdict.group(1).startswith(f"approve not sent: flow run {check.flow_run_id} ")
    assert says in verdict.group(1)
    assert get_ledger().decisions_for(check_id=check.id) == []  # nothing reached the ledger
    assert f'id="hold-{check.id}"' in client.get("/pending").text  # still waits
