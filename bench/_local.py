"""What every benchmark needs before it imports Prefect: a free port and a fresh home."""

from __future__ import annotations

import os
import socket
from pathlib import Path

RESERVED_PORTS = {4280, 4281}  # the default local server and its neighbour: in use elsewhere


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


def configure_environment(
    root: Path, log_level: str, *, unset: tuple[str, ...] = (), **extra: str
) -> Path:
    """Point BareCount and Prefect at a fresh home under ``root`` and a free port.

    Call before Prefect is imported. ``extra`` adds or overrides variables; ``unset`` removes
    more of them. Returns the BareCount home.
    """
    home = root / "home"
    port = free_port()
    os.environ.update(
        BARECOUNT_HOME=str(home),
        BARECOUNT_SERVER_PORT=str(port),
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_HOME=str(root / "prefect-client"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL=log_level,
        PREFECT_RESULTS_PERSIST_BY_DEFAULT="false",
        **extra,
    )
    for name in ("BARECOUNT_PREFECT_API_URL", "BARECOUNT_MANIFESTS", "PREFECT_PROFILE", *unset):
        os.environ.pop(name, None)
    return home


def ledger_env(home: Path) -> dict[str, str]:
    """A SQLite ledger, warehouse, landing folder and result cache under ``home``."""
    return {
        "BARECOUNT_LEDGER_URL": f"sqlite:///{home / 'ledger.db'}",
        "BARECOUNT_WAREHOUSE": str(home / "warehouse.db"),
        "BARECOUNT_LANDING": str(home / "landing"),
        "BARECOUNT_RESULTS": str(home / "results"),
    }


def shutdown(root: Path, keep: bool) -> None:
    """Flush Prefect's background workers, stop the server, remove the temporary home."""
    import shutil
    import sys

    try:
        if "prefect" in sys.modules:  # send buffered run logs and events before the server goes
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=5)
            EventsWorker.drain_all(timeout=5)
    finally:
        from barecount.prefect_api import stop_local_server
        from barecount.settings import get_settings

        get_settings.cache_clear()  # the server is the one under the benchmark's own home
        stop_local_server(get_settings())
        if keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
