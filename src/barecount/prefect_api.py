"""The Prefect API BareCount talks to: the one Prefect is configured with, or a local server.

Prefect's settings are the settings: ``PREFECT_API_URL`` and ``PREFECT_API_KEY`` are read the
way ``prefect`` itself reads them (environment, ``.env``, the active profile of
``prefect profile use`` / ``prefect config set``), so an existing server, a self-hosted
Prefect on PostgreSQL and Prefect Cloud all work. ``BARECOUNT_PREFECT_API_URL`` overrides
them for BareCount alone. Only when none names an API does BareCount start its own server
(barecount.local_server), one per BARECOUNT_HOME.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from barecount.errors import PrefectUnavailableError
from barecount.local_server import (
    is_healthy,
    running_server,
    start_local_server,
    stop_local_server,
)
from barecount.settings import Settings, get_settings

__all__ = [
    "api_headers",
    "configured_api_url",
    "current_api_url",
    "is_healthy",
    "redact",
    "resolve_api_url",
    "start_local_server",
    "stop_local_server",
    "ui_url",
    "use_api",
]


def _prefect_settings():  # prefect.settings.Settings, imported lazily
    from prefect.settings import get_current_settings

    return get_current_settings()


def configured_api_url(settings: Settings | None = None) -> str | None:
    """The API named by BARECOUNT_PREFECT_API_URL or Prefect's own settings, if any."""
    settings = settings or get_settings()
    return settings.prefect_api_url or _prefect_settings().api.url or None


def api_headers() -> dict[str, str]:
    """Authorization for Prefect Cloud (PREFECT_API_KEY), as Prefect's client sends it."""
    key = _prefect_settings().api.key
    return {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}


def resolve_api_url(settings: Settings | None = None, *, start: bool = True) -> str:
    """The API URL to use: the configured one (which must answer) or this home's server.

    Raises:
        PrefectUnavailableError: the configured API does not answer, or the local
            server could not be started.
    """
    settings = settings or get_settings()
    configured = configured_api_url(settings)
    if configured:
        if not is_healthy(configured, timeout=5, headers=api_headers()):
            raise PrefectUnavailableError(
                f"the Prefect API at {redact(configured)} does not answer; start that server, "
                "or unset PREFECT_API_URL (environment or Prefect profile) to use BareCount's "
                "local server"
            )
        return configured
    running = running_server(settings)
    if running:
        return running
    if not start:
        raise PrefectUnavailableError(
            f"no Prefect API is configured and {settings.home} has no server running; "
            "run 'barecount server start' or set PREFECT_API_URL"
        )
    return start_local_server(settings)


def current_api_url(settings: Settings | None = None) -> str:
    """The API BareCount would use, without starting anything (for links and status)."""
    settings = settings or get_settings()
    return configured_api_url(settings) or running_server(settings) or settings.local_api_url


def ui_url(api_url: str) -> str:
    """The Prefect UI base URL belonging to an API URL (Prefect's own for Prefect Cloud)."""
    prefect = _prefect_settings()
    if prefect.api.url and prefect.ui_url and api_url.rstrip("/") == prefect.api.url.rstrip("/"):
        return prefect.ui_url.rstrip("/")
    return api_url.rstrip("/").removesuffix("/api")


def redact(url: str) -> str:
    """A URL without its credentials, fit to print."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else url


@contextmanager
def use_api(api_url: str) -> Iterator[None]:
    """Point Prefect in this process at ``api_url`` for the duration of the block."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_UI_URL: ui_url(api_url)}):
        yield
