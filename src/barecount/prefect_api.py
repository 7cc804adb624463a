"""The Prefect API BareCount talks to: the configured one, or a local server it starts."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from barecount.errors import PrefectUnavailableError
from barecount.settings import Settings, get_settings

START_TIMEOUT_SECONDS = 90


def is_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether a Prefect API answers its health check."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def resolve_api_url(settings: Settings | None = None, *, start: bool = True) -> str:
    """The API URL to use: the configured one (which must answer) or the local server's.

    Raises:
        PrefectUnavailableError: the configured API does not answer, or the local
            server could not be started.
    """
    settings = settings or get_settings()
    if settings.prefect_api_url:
        if not is_healthy(settings.prefect_api_url, timeout=5):
            raise PrefectUnavailableError(
                f"the Prefect API at {redact(settings.prefect_api_url)} does not answer; start "
                "that server, or unset PREFECT_API_URL to use BareCount's local server"
            )
        return settings.prefect_api_url
    if is_healthy(settings.local_api_url):
        return settings.local_api_url
    if not start:
        raise PrefectUnavailableError(
            f"no Prefect server answers at {settings.local_api_url}; run 'barecount server start'"
        )
    return start_local_server(settings)


def ui_url(api_url: str) -> str:
    """The Prefect UI base URL belonging to an API URL."""
    return api_url.rstrip("/").removesuffix("/api")


def redact(url: str) -> str:
    """A URL without its credentials, fit to print."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else url


def _server_env(settings: Settings) -> dict[str, str]:
    # Client settings (PREFECT_API_URL, PREFECT_HOME) would point the server at itself or
    # another home; server settings (PREFECT_SERVER_*) are the user's to tune.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PREFECT_") or k.startswith("PREFECT_SERVER_")
    }
    env.update(
        PREFECT_HOME=str(settings.prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_API_HOST=settings.server_host,
        PREFECT_SERVER_API_PORT=str(settings.server_port),
        PREFECT_UI_API_URL=settings.local_api_url,
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
    """Start (or reuse) the local Prefect server on SQLite under BARECOUNT_HOME.

    The server is detached: it outlives this process and later commands reuse it.
    """
    settings = settings or get_settings()
    url = settings.local_api_url
    with _start_lock(settings):
        if is_healthy(url):
            return url
        log_path = settings.prefect_home / "server.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [
                    *_prefect_executable(),
                    "server",
                    "start",
                    "--host",
                    settings.server_host,
                    "--port",
                    str(settings.server_port),
                ],
                env=_server_env(settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        (settings.prefect_home / "server.pid").write_text(str(process.pid))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if is_healthy(url, timeout=1):
                return url
            if process.poll() is not None:
                raise PrefectUnavailableError(
                    f"the local Prefect server exited with code {process.returncode} while "
                    f"starting; is port {settings.server_port} taken? (set BARECOUNT_SERVER_PORT)"
                    f"\n{_tail(log_path)}"
                )
            time.sleep(0.25)
        raise PrefectUnavailableError(
            f"the local Prefect server did not answer at {url} within "
            f"{START_TIMEOUT_SECONDS} s; see {log_path}"
        )


def stop_local_server(settings: Settings | None = None) -> bool:
    """Stop the local server started by BareCount; False when none was running."""
    settings = settings or get_settings()
    pid_file = settings.prefect_home / "server.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
    return True


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def use_api(api_url: str) -> Iterator[None]:
    """Point Prefect in this process at ``api_url`` for the duration of the block."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_UI_URL: ui_url(api_url)}):
        yield
