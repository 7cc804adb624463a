"""Fixtures for the console tests: governed manifests, a run paused at its contract gate."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

# Nothing here imports Prefect or BareCount at module level: pytest loads this file before the
# root conftest's pytest_configure points Prefect at the session's server.


@pytest.fixture
def governed(manifests: Path, home: Path) -> Path:
    """Shipped manifests where finance-data requires signed approvals from alice and bob."""
    from bc_testkit import require_signed_approvals

    return require_signed_approvals(manifests)


class PausedRun:
    """A `barecount run` subprocess held at the invoices gate by a renamed column."""

    def __init__(self, process: subprocess.Popen, check):
        self.process = process
        self.check = check

    def state(self) -> str:
        """The Prefect state name of the paused flow run."""
        from bc_testkit import flow_state

        return flow_state(self.check.flow_run_id)


@pytest.fixture
def paused_run(governed: Path, home: Path) -> Iterator[callable]:
    from bc_testkit import spawn_run, wait_for_pause

    from barecount.examples.finance import write_extract

    started: list[subprocess.Popen] = []

    def start(partition: str) -> PausedRun:
        write_extract(home / "landing", "erp.invoices", partition, 300, drift="rename-column")
        process = spawn_run(governed, partition)
        started.append(process)
        return PausedRun(process, wait_for_pause(partition, process))

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


class ConsoleServer:
    """A `barecount console` subprocess on 127.0.0.1, reached over real HTTP."""

    def __init__(self, process: subprocess.Popen, url: str):
        self.process = process
        self.url = url

    def client(self, **kwargs):
        """An httpx client of this console (redirects are not followed: tests look at them)."""
        import httpx

        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 30), **kwargs)

    def login(self, client, name: str, token: str) -> str:
        """Log ``client`` in as ``name``; returns the session's cookie value."""
        response = client.post("/login", data={"name": name, "token": token})
        assert response.status_code == 303, response.text
        return response.cookies["barecount_console"]

    def memory_kib(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) of the server process, in KiB, from /proc."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return {
            line.split(":")[0]: int(line.split()[1])
            for line in status.splitlines()
            if line.startswith(("VmRSS:", "VmHWM:"))
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def console_server(governed: Path, home: Path, monkeypatch: pytest.MonkeyPatch):
    """Start `barecount console -m GOVERNED` with extra environment: ``start(PUBLIC="true")``
    sets BARECOUNT_CONSOLE_PUBLIC=true. Every server started is stopped afterwards."""
    import socket

    import httpx
    from bc_testkit import spawn_cli, wait_for

    servers: list[ConsoleServer] = []

    def start(manifests: Path | None = None, **env: str) -> ConsoleServer:
        for key, value in env.items():
            monkeypatch.setenv(f"BARECOUNT_CONSOLE_{key}", value)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        process = spawn_cli("console", "--port", str(port), "-m", str(manifests or governed))
        server = ConsoleServer(process, url)
        servers.append(server)

        def answers() -> bool:
            try:
                return httpx.get(f"{url}/login", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout=30, what="the console at /login", process=process, every=0.2)
        return server

    yield start
    for server in servers:
        server.stop()
