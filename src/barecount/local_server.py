"""BareCount's own Prefect server on SQLite, one per BARECOUNT_HOME.

A home records the server it started (``prefect/server.json``: pid, host, port). Only that
record makes a server this home's: a Prefect server that merely answers on the default port
belongs to someone else (another home, or a ``prefect server start`` of the user's), so a
home without a record starts its own, on the default port when it is free and on a free
port otherwise (unless ``BARECOUNT_SERVER_PORT`` names the port, which then must be free).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from barecount.errors import PrefectUnavailableError
from barecount.settings import Settings, get_settings

START_TIMEOUT_SECONDS = 90


@dataclass(frozen=True)
class ServerRecord:
    """The server a home started: where it listens and which process group it is."""

    pid: int
    host: str
    port: int

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"


def is_healthy(api_url: str, timeout: float = 2.0, headers: dict[str, str] | None = None) -> bool:
    """Whether a Prefect API answers its health check."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout, headers=headers)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _record_path(settings: Settings) -> Path:
    return settings.prefect_home / "server.json"


def read_record(settings: Settings) -> ServerRecord | None:
    """This home's server record, None when it has none (or an unreadable one)."""
    try:
        data = json.loads(_record_path(settings).read_text())
        return ServerRecord(pid=int(data["pid"]), host=str(data["host"]), port=int(data["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_server(settings: Settings | None = None) -> str | None:
    """The API URL of this home's server when it is alive and answers, else None."""
    record = read_record(settings or get_settings())
    if record is None or not _alive(record.pid):
        return None
    return record.api_url if is_healthy(record.api_url) else None


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _choose_port(settings: Settings) -> int:
    if os.environ.get("BARECOUNT_SERVER_PORT", "").strip():  # the user's choice: that or nothing
        if not _port_is_free(settings.server_host, settings.server_port):
            raise PrefectUnavailableError(
                f"port {settings.server_port} (BARECOUNT_SERVER_PORT) is taken by a server "
                f"that {settings.home} did not start; choose another port, or point "
                "PREFECT_API_URL at that server to use it"
            )
        return settings.server_port
    if _port_is_free(settings.server_host, settings.server_port):
        return settings.server_port
    with socket.socket() as sock:
        sock.bind((settings.server_host, 0))
        return sock.getsockname()[1]


def _server_env(settings: Settings, port: int) -> dict[str, str]:
    # Client settings (PREFECT_API_URL, PREFECT_HOME) would point the server at itself or
    # another home; server settings (PREFECT_SERVER_*) are the user's to tune.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PREFECT_") or k.startswith("PREFECT_SERVER_")
    }
    env.update(
        PREFECT_HOME=str(settings.prefect_home),
        PREFECT_PROFILES_PATH=str(settings.prefect_home / "profiles.toml"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_API_HOST=settings.server_host,
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_UI_API_URL=f"http://{settings.server_host}:{port}/api",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        # the UI is built into this folder; by default Prefect writes into site-packages
        PREFECT_SERVER_UI_STATIC_DIRECTORY=str(settings.prefect_home / "ui"),
    )
    return env


def _prefect_executable() -> list[str]:
    sibling = Path(sys.executable).parent / "prefect"
    return [str(sibling)] if sibling.exists() else [sys.executable, "-m", "prefect"]


@contextmanager
def _start_lock(settings: Settings) -> Iterator[None]:
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    with open(settings.prefect_home / "server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two CLIs at once must not start two servers
        yield


def start_local_server(settings: Settings | None = None) -> str:
    """Start (or reuse) this home's Prefect server on SQLite; its API URL.

    The server is detached: it outlives this process and later commands reuse it.
    """
    settings = settings or get_settings()
    with _start_lock(settings):
        url = running_server(settings)
        if url:
            return url
        port = _choose_port(settings)
        process = _spawn(settings, port)
        record = ServerRecord(pid=process.pid, host=settings.server_host, port=port)
        _record_path(settings).write_text(json.dumps(record.__dict__))
        _wait_until_up(settings, record, process)
        return record.api_url


def _spawn(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    command = [*_prefect_executable(), "server", "start", "--host", settings.server_host]
    with open(settings.prefect_home / "server.log", "ab") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=_server_env(settings, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return process


def _wait_until_up(
    settings: Settings, record: ServerRecord, process: subprocess.Popen[bytes]
) -> None:
    log_path = settings.prefect_home / "server.log"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if is_healthy(record.api_url, timeout=1):
            return
        if process.poll() is not None:
            _record_path(settings).unlink(missing_ok=True)
            raise PrefectUnavailableError(
                f"the local Prefect server exited with code {process.returncode} while "
                f"starting on port {record.port}; "
                f"see {log_path}\n{_tail(log_path)}"
            )
        time.sleep(0.25)
    raise PrefectUnavailableError(
        f"the local Prefect server did not answer at {record.api_url} within "
        f"{START_TIMEOUT_SECONDS} s; see {log_path}"
    )


def server_pid(settings: Settings | None = None) -> int | None:
    """The process id of this home's server, None when it has none."""
    record = read_record(settings or get_settings())
    return record.pid if record else None


def stop_local_server(settings: Settings | None = None) -> bool:
    """Stop this home's server; False when none was running."""
    settings = settings or get_settings()
    record = read_record(settings)
    if record is None:
        return False
    _record_path(settings).unlink(missing_ok=True)
    try:
        os.killpg(record.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not _alive(record.pid):
            return True
        time.sleep(0.2)
    os.killpg(record.pid, signal.SIGKILL)
    return True


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
