"""The console's FastAPI app: read pages for everyone on the machine, decisions for approvers.

``create_app`` builds the app from its configuration; the pages live in ``console/routes``
(one router per page group) and what they need in ``console/deps``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.middleware.trustedhost import TrustedHostMiddleware

from barecount.console import auth
from barecount.console.deps import ConsoleConfig, cross_site, current_user, get_config
from barecount.console.pages import Refusal, page
from barecount.console.routes import router
from barecount.prefect_api import ui_url
from barecount.settings import Settings, get_settings

__all__ = ["SECURITY_HEADERS", "ConsoleConfig", "create_app", "cross_site"]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create_app(
    settings: Settings | None = None,
    *,
    manifests: Path | None = None,
    allowed_hosts: list[str] | None = None,
    decision_wait: float = 60.0,
) -> FastAPI:
    """The console app over the ledger and manifests of ``settings``."""
    settings = settings or get_settings()
    app = FastAPI(title="BareCount console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = ConsoleConfig(
        settings=settings,
        manifests=Path(manifests or settings.manifests),
        secret=auth.load_secret(settings.home),
        prefect_ui=ui_url(settings.prefect_api_url or settings.local_api_url),
        decision_wait=decision_wait,
    )
    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["127.0.0.1", "localhost"]
    )
    app.middleware("http")(security_headers)  # outermost: host refusals get the headers too
    app.add_exception_handler(Refusal, refused)
    app.include_router(router)
    return app


async def security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def refused(request: Request, exc: Exception) -> Response:
    """The error page of a :class:`Refusal` raised by a route or a dependency."""
    if not isinstance(exc, Refusal):  # registered for Refusal only
        raise exc
    user = current_user(request, get_config(request))
    return page("error", exc.status, title=exc.title, message=exc.message, user=user)
