"""Logging in with an approver's token (a signed, HttpOnly, SameSite=strict cookie) and out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from barecount.console import auth
from barecount.console.deps import ConfigDep, FormDep, OptionalUserDep, SameOrigin, cross_site
from barecount.console.pages import Refusal, page

router = APIRouter(tags=["session"])


@router.get("/login", response_class=HTMLResponse)
def login_form(user: OptionalUserDep) -> HTMLResponse:
    return page("login", title="Log in", error=None, user=user)


@router.post("/login", response_class=HTMLResponse, dependencies=[SameOrigin])
async def login(request: Request, config: ConfigDep, form: FormDep) -> Response:
    fields = form or {}
    name, token = fields.get("name", "").strip(), fields.get("token", "").strip()
    if not name or not token or not auth.check_login(config.settings.home, name, token):
        return page("login", 401, title="Log in", error="unknown approver or wrong token")
    response = RedirectResponse("/pending", status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        auth.new_session_cookie(config.secret, name),
        max_age=auth.SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request, user: OptionalUserDep, form: FormDep) -> Response:
    csrf = (form or {}).get("csrf")
    if cross_site(request) or user is None or not auth.csrf_matches(user, csrf):
        raise Refusal(403, "logout refused: not this console's own form")
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response
