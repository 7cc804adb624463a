"""Fixtures for the alert tests: a real HTTP receiver on 127.0.0.1, a proxy on 127.0.0.1 that
refuses every request (so alerts to internet services are tried without leaving the machine),
and the finance-data team's channels."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path

import pytest

# Nothing here imports Prefect or BareCount at module level (see tests/console/conftest.py).


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every JSON notification posted to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [path.split("?")[0] for path, _ in self.received]


class RefusingProxy:
    """An HTTP proxy on 127.0.0.1 that answers 403 to everything and keeps the hosts asked
    for: with HTTP(S)_PROXY pointing here, a send to api.telegram.org is tried for real and
    refused on this machine."""

    def __init__(self) -> None:
        hosts = self.hosts = []

        class Handler(BaseHTTPRequestHandler):
            def _refuse(self) -> None:
                hosts.append(self.path.split("://")[-1].split("/")[0].split(":")[0])
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

            do_CONNECT = do_GET = do_POST = do_PUT = _refuse

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()


@pytest.fixture
def refusing_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[RefusingProxy]:
    """Route this test's (and its subprocesses') HTTP to the refusing proxy; 127.0.0.1 direct."""
    proxy = RefusingProxy()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    yield proxy
    proxy.server.shutdown()


@pytest.fixture
def team_channels(manifests: Path) -> Callable[..., None]:
    """Set finance-data's alert and escalation channels in the copied manifests."""

    def write(alerts: list[str], escalation: list[str] = ()) -> None:
        team = manifests / "teams" / "finance-data.yaml"
        text = team.read_text()
        assert "  alerts: []" in text and "  escalation: []" in text
        team.write_text(
            text.replace("  alerts: []", f"  alerts: {json.dumps(list(alerts))}").replace(
                "  escalation: []", f"  escalation: {json.dumps(list(escalation))}"
            )
        )

    return write
