"""The console's FastAPI app: pages for logged-in approvers (reads public only when configured).

``create_app`` builds the app from its configuration; the pages live in ``console/routes``
(one router per page group) and what they need in ``console/deps``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.middleware.trustedhost import TrustedHostMiddleware

from barecount.console import handlers
from barecount.console.deps import ConsoleConfig, cross_site
from barecount.console.handlers import SECURITY_HEADERS
from barecount.console.limits import BodyLimit, LoginLimiter
from barecount.console.options import ConsoleOptions, console_options
from barecount.console.pages import LoginRequired, Refusal
from barecount.console.routes import router
from barecount.errors import BareCountError
from barecount.prefect_api import ui_url
from barecount.settings import Settings, get_settings

__all__ = ["SECURITY_HEADERS", "ConsoleConfig", "create_app", "cross_site"]


def create_app(
    settings: Settings | None = None,
    *,
    manifests: Path | None = None,
    allowed_hosts: list[str] | None = None,
    decision_wait: float = 60.0,
    options: ConsoleOptions | None = None,
) -> FastAPI:
    """The console app over the ledger and manifests of ``settings``.

    ``options`` default to the ``BARECOUNT_CONSOLE_*`` environment (:func:`console_options`).
    """
    settings = settings or get_settings()
    options = options or console_options()
    app = FastAPI(title="BareCount console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = ConsoleConfig(
        settings=settings,
        manifests=Path(manifests or settings.manifests),
        options=options,
        limiter=LoginLimiter(
            per_user=options.failures_per_user,
            per_address=options.failures_per_address,
            window=options.failure_window_seconds,
        ),
        prefect_ui=ui_url(settings.prefect_api_url or settings.local_api_url),
        decision_wait=decision_wait,
    )
    # middleware added later wraps what came before: headers > host check > body cap > routes
    app.add_middleware(BodyLimit, max_bytes=options.max_body_bytes)
    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["127.0.0.1", "localhost"]
    )
    app.middleware("http")(security_headers)
    app.add_exception_handler(Refusal, handlers.refused)
    app.add_exception_handler(LoginRequired, handlers.login_first)
    app.add_exception_handler(BareCountError, handlers.failed)
    app.add_exception_handler(Exception, handlers.unexpected)
    app.include_router(router)
    return app


async def security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
