"""Who may read the console, and what a reader sees when the manifests do not load."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from barecount.console.auth import issue_token
from barecount.manifest import load_manifests
from barecount.settings import get_settings

READ_PAGES = ["/", "/pipelines/finance-kpi", "/pending", "/backfills", "/evidence/rt-unknown"]


def test_read_pages_need_a_login_by_default_and_return_after_it(governed: Path, console_server):
    server = console_server()
    with server.client() as client:
        for path in READ_PAGES:
            response = client.get(path)
            assert response.status_code == 303, (path, response.status_code)
            assert response.headers["location"].startswith("/login?next=%2F"), path
        assert client.get("/static/console.css").status_code == 200
        form = client.get("/login?next=/pipelines/finance-kpi")
        assert 'name="next" value="/pipelines/finance-kpi"' in form.text
        token = issue_token(get_settings().home, "alice", load_manifests(governed))
        back = client.post(
            "/login", data={"name": "alice", "token": token, "next": "/pipelines/finance-kpi"}
        )
        assert back.status_code == 303 and back.headers["location"] == "/pipelines/finance-kpi"
        page = client.get("/pipelines/finance-kpi")
        assert page.status_code == 200 and "signed in as <strong>alice</strong>" in page.text
        elsewhere = client.post(
            "/login", data={"name": "alice", "token": token, "next": "//evil.test/x"}
        )
        assert elsewhere.headers["location"] == "/pending"  # never off this console


def test_read_pages_are_open_when_the_console_is_public(governed: Path, console_server):
    server = console_server(PUBLIC="true")
    with server.client() as client:
        for path in READ_PAGES[:-1]:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert '<a href="/login">Log in</a>' in response.text
        assert client.get("/evidence/rt-unknown").status_code == 404
        decide = client.post("/pending/1/decide", data={"decision": "approve"})
        assert decide.status_code == 401  # deciding still needs a login


def test_a_broken_manifest_shows_a_page_naming_its_file_and_line(governed: Path, console_server):
    server = console_server(PUBLIC="true")
    pipeline = governed / "pipelines" / "finance-kpi.yaml"
    lines = pipeline.read_text().splitlines()
    at = lines.index("  owner: finance-data") + 1
    lines.insert(at, '  "<script>alert(1)</script>": 1')
    pipeline.write_text("\n".join(lines) + "\n")
    with server.client() as client:
        response = client.get("/")
        detail = client.get("/pipelines/finance-kpi")
    assert detail.status_code == 500 and "<h1>Manifests do not load</h1>" in detail.text
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Manifests do not load</h1>" in response.text
    problems = re.findall(r"<li><code>(.*?)</code></li>", response.text)
    assert len(problems) == 1
    assert problems[0].startswith(f"{pipeline}:{at + 1}: metadata: unknown field ")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in problems[0]
    assert "<script>" not in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


def error_of(response) -> str:
    return re.search(r'<p class="bad" id="error">(.*?)</p>', response.text, re.S).group(1)


@contextmanager
def replaced(path: Path, data: bytes) -> Iterator[None]:
    """``path`` holds ``data`` inside the block and what it held before afterwards."""
    kept = path.read_bytes() if path.exists() else None
    path.write_bytes(data)
    try:
        yield
    finally:
        if kept is None:
            path.unlink()
        else:
            path.write_bytes(kept)


def test_other_failures_show_the_console_page_not_a_bare_500(
    governed: Path, console_server, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("BARECOUNT_LEDGER_URL", "postgresql://bc@127.0.0.1:1/nothing-listens")
    server = console_server(PUBLIC="true")
    folder = get_settings().home / "console"
    token = issue_token(get_settings().home, "alice", load_manifests(governed))
    with server.client() as client:
        unreachable = client.get("/backfills")
        assert unreachable.status_code == 503
        assert "<h1>Cannot show this page</h1>" in unreachable.text
        assert error_of(unreachable).startswith("cannot open the ledger at postgresql://bc@127.")

        server.login(client, "alice", token)
        with replaced(folder / "tokens.json", b"{not json"):
            corrupt = client.get("/pending")
        assert corrupt.status_code == 500
        assert error_of(corrupt).startswith(
            f"{folder / 'tokens.json'} is not a console token file; delete it"
        )

        with replaced(folder / "sessions.db", b"not a database" * 100):
            broken = client.get("/pending")
        assert broken.status_code == 500
        assert "<h1>Internal error</h1>" in broken.text
        assert error_of(broken).startswith("the console failed on this page (DatabaseError)")
        assert broken.headers["x-frame-options"] == "DENY"
    for response in (unreachable, corrupt, broken):
        assert "Traceback" not in response.text
