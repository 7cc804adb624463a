"""Live OpenLineage emission, as stages finish: on when OPENLINEAGE_URL or an openlineage.yml
is configured, and never failing a run. Events that cannot be delivered are noted in the
ledger (``lineage_emission``); after a failure this process sends nothing for a while, so a
receiver that is down costs a run one failed delivery, not one per event."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from barecount.ledger import Ledger
from barecount.ledger.evidence_models import LineageEmission

log = logging.getLogger("barecount.lineage")
PAUSE_AFTER_FAILURE_S = 60.0
_lock = threading.Lock()
_clients: dict[tuple, Any] = {}
_down_until: dict[tuple, float] = {}
_found: dict[tuple, Path | None] = {}  # (OPENLINEAGE_CONFIG, HOME) -> the file, looked up once


def config_file() -> Path | None:
    """The openlineage.yml the OpenLineage client would read (OPENLINEAGE_CONFIG, the
    working directory, ~/.openlineage), if any.

    Looked up once per process for each OPENLINEAGE_CONFIG and HOME: every stage attempt
    and gate check asks, and on the flow's thread each file system call hands the GIL to the
    stage threads (bench/backfill.py). Like the OpenLineage client, which reads its
    configuration once, a file created (or a working directory changed to) later is seen by
    the next process.
    """
    key = (os.environ.get("OPENLINEAGE_CONFIG"), os.environ.get("HOME"))
    if key not in _found:
        _found[key] = _look_for_config()
    return _found[key]


def _look_for_config() -> Path | None:
    candidates = [
        os.environ.get("OPENLINEAGE_CONFIG"),
        str(Path.cwd() / "openlineage.yml"),
        str(Path("~/.openlineage/openlineage.yml").expanduser()),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _key() -> tuple | None:
    """What the configuration is; None when lineage is not configured (or disabled)."""
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return None
    found = config_file()
    url = os.environ.get("OPENLINEAGE_URL")
    if found is None and not url:
        return None
    return (str(found) if found else None, url, os.environ.get("OPENLINEAGE_ENDPOINT"))


def configured() -> bool:
    return _key() is not None


def _client(key: tuple) -> Any:
    """One client per configuration per process. With only OPENLINEAGE_URL, the HTTP
    transport retries twice, briefly: a run must not wait long on a receiver that is down."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    with _lock:
        if key not in _clients:
            path, url, endpoint = key
            if path is None:
                config: dict[str, Any] = {
                    "url": url,
                    "endpoint": endpoint or "api/v1/lineage",
                    "timeout": 5.0,
                    "retry": {"total": 2, "connect": 2, "read": 2, "backoff_factor": 0.2},
                }
                if os.environ.get("OPENLINEAGE_API_KEY"):
                    config["auth"] = {
                        "type": "api_key",
                        "apiKey": os.environ["OPENLINEAGE_API_KEY"],
                    }
                transport = HttpTransport(HttpConfig.from_dict(config))
                _clients[key] = OpenLineageClient(transport=transport)
            else:
                _clients[key] = OpenLineageClient()
        return _clients[key]


def _where(key: tuple) -> str:
    """Where events go, fit to note in the ledger (no credentials: host and path only)."""
    from urllib.parse import urlsplit

    path, url, endpoint = key
    if path is not None:
        return f"openlineage.yml at {path}"
    parts = urlsplit(url or "")
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/{(endpoint or 'api/v1/lineage').lstrip('/')}"


def deliver(ledger: Ledger, *, run_id: int, row_id: int, events: list[Any]) -> bool:
    """Send ``events`` in order; on a failure note the undelivered ones in the ledger.
    Never raises: lineage is not a reason for a run to fail."""
    key = _key()
    if key is None or not events:
        return True
    error = None
    sent = 0
    if time.monotonic() < _down_until.get(key, 0.0):
        error = "not sent: an earlier delivery from this process failed less than a minute ago"
    else:
        try:
            client = _client(key)
            for event in events:
                client.emit(event)
                sent += 1
        except Exception as exc:  # any transport's failure: noted, never raised
            error = f"{type(exc).__name__}: {exc}"[:2000]
            _down_until[key] = time.monotonic() + PAUSE_AFTER_FAILURE_S
    if error is None:
        return True
    log.warning("OpenLineage: %d event(s) not delivered: %s", len(events) - sent, error)
    try:
        ledger.append(
            row=LineageEmission(
                run_id=run_id,
                row_id=row_id,
                events=len(events) - sent,
                transport=_where(key)[:200],
                error=error,
            )
        )
    except Exception:  # the ledger itself failing is the run's business, not lineage's
        log.exception("OpenLineage: could not note the failed delivery in the ledger")
    return False
