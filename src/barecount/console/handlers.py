"""What the console answers when a route cannot: refusals, logins first, and failures as pages.

A failure is never a bare 500: a manifest that does not load shows every problem with its
file and line, an unreachable ledger or Prefect API says so (503), and anything unexpected
still gets the console's page (its traceback goes to the server's log, not to the browser).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from barecount.console.deps import current_user, get_config
from barecount.console.pages import LoginRequired, Refusal, page
from barecount.errors import (
    LedgerUnavailableError,
    ManifestError,
    PrefectUnavailableError,
)

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


def _user(request: Request):
    try:
        return current_user(request, get_config(request))
    except Exception:  # the error page must not fail on the session store too
        return None


async def refused(request: Request, exc: Exception) -> Response:
    """The error page of a :class:`Refusal` raised by a route or a dependency."""
    if not isinstance(exc, Refusal):  # registered for Refusal only
        raise exc
    return page(
        "error", exc.status, title=exc.title, message=exc.message, problems=[], user=_user(request)
    )


async def login_first(request: Request, exc: Exception) -> Response:
    """Redirect a reader who must log in to ``/login``, which returns them where they were."""
    target = exc.target if isinstance(exc, LoginRequired) else "/"
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def failed(request: Request, exc: Exception) -> Response:
    """A BareCount error while building a page: what failed, where, and what to do."""
    if isinstance(exc, ManifestError):
        return page(
            "error",
            500,
            title="Manifests do not load",
            message="The console reads the manifests on every page; fix these and reload:",
            problems=exc.problems,
            user=_user(request),
        )
    status = 503 if isinstance(exc, LedgerUnavailableError | PrefectUnavailableError) else 500
    return page(
        "error", status, title="Cannot show this page", message=str(exc), problems=[],
        user=_user(request),
    )  # fmt: skip


async def unexpected(request: Request, exc: Exception) -> Response:
    """A bug: our page, not a bare 500; Starlette logs the traceback after this answers."""
    response = page(
        "error",
        500,
        title="Internal error",
        message=f"the console failed on this page ({type(exc).__name__}); its log has the details",
        problems=[],
        user=None,
    )
    response.headers.update(SECURITY_HEADERS)  # answered outside the security-header middleware
    return response
