"""The console's guards against floods: request bodies capped before they are read (the audit's
400 MB login), and failed logins limited per approver and per client address."""

from __future__ import annotations

import socket
from pathlib import Path

from barecount.console.auth import issue_token
from barecount.manifest import load_manifests
from barecount.settings import get_settings

MIB = 1024 * 1024
FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_a_400_mb_streamed_login_body_is_refused_without_growing_the_server(console_server):
    server = console_server()
    with server.client(timeout=180) as client:
        for _ in range(3):  # warm up the login path: imports, templates, session store
            assert client.post("/login", data={"name": "x", "token": "y"}).status_code == 401
        before = server.memory_kib()

        chunk = b"x" * MIB

        def body():  # chunked: no Content-Length tells the server the size in advance
            yield b"name=alice&token="
            for _ in range(400):
                yield chunk

        response = client.post("/login", content=body(), headers=FORM)
        after = server.memory_kib()
    assert response.status_code == 413, response.text[:300]
    assert "request body over 16384 bytes refused unread" in response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert after["VmHWM"] - before["VmHWM"] < 20 * 1024, (before, after)
    assert after["VmRSS"] - before["VmRSS"] < 20 * 1024, (before, after)


def test_a_declared_oversized_body_is_refused_before_any_byte_is_sent(console_server):
    server = console_server()
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 419430400\r\n\r\n"
        )  # headers only: an answer now means nothing waited for the body
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def failed_login(client, name: str, address: str):
    # the console trusts X-Forwarded-For only from 127.0.0.1 (a reverse proxy on the machine)
    return client.post(
        "/login",
        data={"name": name, "token": "bct_guess"},
        headers={"X-Forwarded-For": address},
    )


def test_failed_logins_are_limited_per_approver(governed: Path, console_server):
    server = console_server()
    token = issue_token(get_settings().home, "alice", load_manifests(governed))
    with server.client() as client:
        for i in range(5):  # five guesses, each from another address
            assert failed_login(client, "alice", f"198.51.100.{i}").status_code == 401
        limited = failed_login(client, "alice", "198.51.100.99")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 15 * 60
        assert "too many failed logins" in limited.text
        # the right token gets no answer either while the limit holds: guessing gains nothing
        right = client.post("/login", data={"name": "alice", "token": token})
        assert right.status_code == 429
        assert failed_login(client, "bob", "198.51.100.99").status_code == 401  # bob is not limited


def test_failed_logins_are_limited_per_client_address(governed: Path, console_server):
    server = console_server()
    token = issue_token(get_settings().home, "bob", load_manifests(governed))
    with server.client() as client:
        for i in range(20):  # twenty names, one guess each, all from one address
            assert failed_login(client, f"user{i}", "203.0.113.7").status_code == 401
        limited = failed_login(client, "someone-else", "203.0.113.7")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert failed_login(client, "someone-else", "203.0.113.8").status_code == 401
        elsewhere = {"X-Forwarded-For": "203.0.113.9"}
        ok = client.post("/login", data={"name": "bob", "token": token}, headers=elsewhere)
        assert ok.status_code == 303
