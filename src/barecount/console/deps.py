"""FastAPI dependencies of the console's routes: config, ledger, manifests, the approver, checks.

Refusals are raised as :class:`~barecount.console.pages.Refusal`, which the app renders as the
error page. A route lists its checks in the order they must refuse: origin, login, CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import Depends, Request

from barecount.console import auth
from barecount.console.auth import ConsoleSession
from barecount.console.limits import LoginLimiter
from barecount.console.options import ConsoleOptions
from barecount.console.pages import LoginRequired, Refusal
from barecount.ledger import Ledger, get_ledger
from barecount.manifest import ManifestSet, load_manifests
from barecount.settings import Settings

MAX_FORM_BYTES = 16 * 1024


@dataclass(frozen=True)
class ConsoleConfig:
    """What ``create_app`` was given, kept on ``app.state.config``."""

    settings: Settings
    manifests: Path
    options: ConsoleOptions  # public reads, session expiry, body cap, login limits
    limiter: LoginLimiter  # failed logins of this server process
    prefect_ui: str  # base URL of the Prefect UI, for links to flow runs
    decision_wait: float = 60.0  # seconds a decision waits for the run's verdict


def get_config(request: Request) -> ConsoleConfig:
    return request.app.state.config


ConfigDep = Annotated[ConsoleConfig, Depends(get_config)]


def ledger_of(config: ConfigDep) -> Ledger:
    return get_ledger(config.settings)


LedgerDep = Annotated[Ledger, Depends(ledger_of)]


def manifests_of(config: ConfigDep) -> ManifestSet:
    """The manifests as they are on disk now (read on every request: edits show at once)."""
    return load_manifests(config.manifests)


ManifestsDep = Annotated[ManifestSet, Depends(manifests_of)]


def current_user(request: Request, config: ConfigDep) -> ConsoleSession | None:
    """The approver whose live session's cookie came with the request, if any."""
    return auth.session_of(config.settings.home, request.cookies.get(auth.SESSION_COOKIE))


OptionalUserDep = Annotated[ConsoleSession | None, Depends(current_user)]


def read_access(request: Request, config: ConfigDep, user: OptionalUserDep) -> None:
    """Send a reader who is not logged in to the login page, unless reads are public."""
    if config.options.public or user is not None or request.method not in ("GET", "HEAD"):
        return  # a POST answers for itself (401 without a session)
    query = request.url.query
    raise LoginRequired(request.url.path + (f"?{query}" if query else ""))


ReadAccess = Depends(read_access)


def require_user(user: OptionalUserDep) -> ConsoleSession:
    if user is None:
        raise Refusal(401, "log in as an approver to decide on a drift", title="Log in first")
    return user


UserDep = Annotated[ConsoleSession, Depends(require_user)]


async def posted_form(request: Request) -> dict[str, str] | None:
    """The urlencoded form of a POST, or None when the body is not one (or is too large)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


FormDep = Annotated[dict[str, str] | None, Depends(posted_form)]


def own_origin(request: Request) -> str:
    # TrustedHostMiddleware has vetted the Host header, so the browser's own origin is this
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def cross_site(request: Request) -> bool:
    """Whether a present Origin (else Referer) header names another origin than the console."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.rstrip("/") != own_origin(request)


def same_origin(request: Request) -> None:
    """Refuse a request another site's page sent; use as ``dependencies=[SameOrigin]``."""
    if cross_site(request):
        raise Refusal(403, "cross-site request refused")


SameOrigin = Depends(same_origin)


def csrf_checked(user: UserDep, form: FormDep) -> ConsoleSession:
    """The logged-in approver, once the form carries their session's CSRF token."""
    if form is None or not auth.csrf_matches(user, form.get("csrf")):
        raise Refusal(403, "missing or wrong CSRF token; reload the page and retry")
    return user


ApproverDep = Annotated[ConsoleSession, Depends(csrf_checked)]
