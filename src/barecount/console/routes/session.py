"""Logging in with an approver's token (a server-side session behind an HttpOnly, SameSite=strict
cookie) and out (the session is revoked, not only the cookie dropped)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from barecount.console import auth
from barecount.console.deps import ConfigDep, FormDep, OptionalUserDep, SameOrigin, cross_site
from barecount.console.pages import Refusal, page
from barecount.console.sessions import SessionStore

router = APIRouter(tags=["session"])

AFTER_LOGIN = "/pending"


def safe_target(target: str | None) -> str:
    """Where to go after logging in: a path on this console, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return AFTER_LOGIN
    return target


@router.get("/login", response_class=HTMLResponse)
def login_form(user: OptionalUserDep, next: str | None = None) -> HTMLResponse:
    return page("login", title="Log in", error=None, user=user, next=safe_target(next))


@router.post("/login", response_class=HTMLResponse, dependencies=[SameOrigin])
async def login(request: Request, config: ConfigDep, form: FormDep) -> Response:
    fields = form or {}
    name, token = fields.get("name", "").strip(), fields.get("token", "").strip()
    target = safe_target(fields.get("next"))
    address = request.client.host if request.client else "unknown"
    limiter = config.limiter
    wait = limiter.retry_after(name, address)
    if wait is not None:  # refused before the token is looked at: guessing gains nothing
        message = (
            f"too many failed logins for this approver or from this address; retry in {wait} s"
        )
        response = page("login", 429, title="Log in", error=message, next=target)
        response.headers["Retry-After"] = str(wait)
        return response
    opened = None
    if name and token:
        opened = await run_in_threadpool(
            auth.open_session,
            config.settings.home,
            name,
            token,
            lifetime=config.options.session_seconds,
        )
    if opened is None:
        limiter.failed(name, address)
        error = "unknown approver or wrong token"
        return page("login", 401, title="Log in", error=error, next=target)
    limiter.succeeded(name)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        opened[0],
        max_age=config.options.session_seconds,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(
    request: Request, config: ConfigDep, user: OptionalUserDep, form: FormDep
) -> Response:
    csrf = (form or {}).get("csrf")
    if cross_site(request) or user is None or not auth.csrf_matches(user, csrf):
        raise Refusal(403, "logout refused: not this console's own form")
    store = SessionStore.of_home(config.settings.home)
    await run_in_threadpool(store.revoke, request.cookies.get(auth.SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response
