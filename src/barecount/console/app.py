"""The console's FastAPI app: read pages for everyone on the machine, decisions for approvers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from barecount.console import auth
from barecount.console.svg import STATE_STYLE, stage_svg
from barecount.console.templates import CSS, render
from barecount.errors import BareCountError, UnknownPipelineError, UnknownTokenError
from barecount.ledger import get_ledger
from barecount.ledger.governance_store import decisions_for, pending_holds
from barecount.ledger.views import backfill_views, evidence_view, run_views
from barecount.manifest import load_manifests
from barecount.manifest.graph import stage_layers, stage_needs
from barecount.manifest.models import Pipeline
from barecount.prefect_api import ui_url
from barecount.settings import Settings, get_settings

MAX_FORM_BYTES = 16 * 1024
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


@dataclass(frozen=True)
class ConsoleConfig:
    settings: Settings
    manifests: Path
    decision_wait: float = 60.0


def _page(template: str, status: int = 200, **context: object) -> HTMLResponse:
    return HTMLResponse(render(template, **context), status_code=status)


def _own_origin(request: Request) -> str:
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
    return origin.rstrip("/") != _own_origin(request)


async def _form(request: Request) -> dict[str, str] | None:
    """The urlencoded form of a POST, or None when the body is not one."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def create_app(
    settings: Settings | None = None,
    *,
    manifests: Path | None = None,
    allowed_hosts: list[str] | None = None,
    decision_wait: float = 60.0,
) -> FastAPI:
    """The console app over the ledger and manifests of ``settings``."""
    settings = settings or get_settings()
    config = ConsoleConfig(settings, Path(manifests or settings.manifests), decision_wait)
    secret = auth.load_secret(settings.home)
    prefect_ui = ui_url(settings.prefect_api_url or settings.local_api_url)
    app = FastAPI(title="BareCount console", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["127.0.0.1", "localhost"]
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def user_of(request: Request) -> auth.ConsoleSession | None:
        return auth.read_session_cookie(secret, request.cookies.get(auth.SESSION_COOKIE))

    def refuse(request: Request, status: int, message: str) -> HTMLResponse:
        return _page("error", status, title="Refused", message=message, user=user_of(request))

    @app.get("/static/console.css")
    def css() -> Response:
        return Response(CSS, media_type="text/css")

    @app.get("/", response_class=HTMLResponse)
    def pipelines(request: Request) -> HTMLResponse:
        loaded = load_manifests(config.manifests)
        items = []
        with get_ledger(settings).session() as session:
            for name in sorted(loaded.pipelines):
                spec = loaded.pipeline(name)
                views = run_views(session=session, pipeline=name, limit=1)
                last = views[0] if views else None
                svg = _svg(spec, last.states if last else {})
                items.append({"name": name, "svg": svg, "last": last})
        return _page(
            "pipelines",
            title="Pipelines",
            pipelines=items,
            root=str(config.manifests),
            legend=_legend(),
            ui=prefect_ui,
            user=user_of(request),
        )

    @app.get("/pipelines/{name}", response_class=HTMLResponse)
    def pipeline(request: Request, name: str) -> HTMLResponse:
        loaded = load_manifests(config.manifests)
        try:
            spec = loaded.pipeline(name)
        except UnknownPipelineError as exc:
            return refuse(request, 404, str(exc))
        with get_ledger(settings).session() as session:
            views = run_views(session=session, pipeline=name, limit=200)
        history: dict[str, list] = {}
        for view in views:
            history.setdefault(view.run.partition, []).append(view)
        return _page(
            "pipeline",
            title=f"Pipeline {name}",
            svg=_svg(spec, views[0].states if views else {}),
            history=sorted(history.items(), reverse=True),
            ui=prefect_ui,
            user=user_of(request),
        )

    @app.get("/pending", response_class=HTMLResponse)
    def pending(request: Request) -> HTMLResponse:
        with get_ledger(settings).session() as session:
            holds = [
                {"check": c, "event": e, "decisions": decisions_for(session=session, check_id=c.id)}
                for c, e in pending_holds(session=session)
            ]
        return _page(
            "pending", title="Pending approvals", holds=holds, ui=prefect_ui, user=user_of(request)
        )

    @app.post("/pending/{check_id}/decide", response_class=HTMLResponse)
    async def decide(request: Request, check_id: int) -> HTMLResponse:
        # Refusals here are answered and forgotten: the paused run never hears of them.
        if cross_site(request):
            return refuse(request, 403, "cross-site request refused")
        user = user_of(request)
        if user is None:
            return _page(
                "error",
                401,
                title="Log in first",
                message="log in as an approver to decide on a drift",
            )
        form = await _form(request)
        if form is None or not auth.csrf_matches(user, form.get("csrf")):
            return refuse(request, 403, "missing or wrong CSRF token; reload the page and retry")
        decision = form.get("decision", "")
        reason = form.get("reason", "").strip()
        if decision not in ("approve", "reject"):
            return refuse(request, 400, "decision must be approve or reject")
        if decision == "reject" and not reason:
            return refuse(request, 400, "a rejection needs a reason; write one and retry")
        # send_decision blocks while it waits for the run's verdict
        return await run_in_threadpool(_send, config, check_id, user, decision, reason)

    @app.get("/evidence/{token}", response_class=HTMLResponse)
    def evidence(request: Request, token: str) -> HTMLResponse:
        try:
            with get_ledger(settings).session() as session:
                view = evidence_view(session=session, token=token)
        except UnknownTokenError as exc:
            return refuse(request, 404, str(exc))
        return _page("evidence", title="Evidence", ev=view, ui=prefect_ui, user=user_of(request))

    @app.get("/backfills", response_class=HTMLResponse)
    def backfills(request: Request) -> HTMLResponse:
        with get_ledger(settings).session() as session:
            views = backfill_views(session=session)
        return _page(
            "backfills", title="Backfills", backfills=views, ui=prefect_ui, user=user_of(request)
        )

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return _page("login", title="Log in", error=None, user=user_of(request))

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        if cross_site(request):
            return refuse(request, 403, "cross-site request refused")
        form = await _form(request) or {}
        name, token = form.get("name", "").strip(), form.get("token", "").strip()
        if not name or not token or not auth.check_login(settings.home, name, token):
            return _page("login", 401, title="Log in", error="unknown approver or wrong token")
        response = RedirectResponse("/pending", status_code=303)
        response.set_cookie(
            auth.SESSION_COOKIE,
            auth.new_session_cookie(secret, name),
            max_age=auth.SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        user = user_of(request)
        form = await _form(request) or {}
        if cross_site(request) or user is None or not auth.csrf_matches(user, form.get("csrf")):
            return refuse(request, 403, "logout refused: not this console's own form")
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    return app


def _send(
    config: ConsoleConfig, check_id: int, user: auth.ConsoleSession, decision: str, reason: str
) -> HTMLResponse:
    """Resume the paused run with the logged-in approver's decision and show its verdict."""
    from barecount.runtime.resume import send_decision

    settings = config.settings
    with get_ledger(settings).session() as session:
        held = [c for c, _ in pending_holds(session=session) if c.id == check_id]
    if not held or not held[0].flow_run_id:
        return _page(
            "verdict",
            409,
            title="Not pending",
            ok=False,
            message="this drift no longer waits for a decision; see the pending list",
            token=None,
            user=user,
        )
    check = held[0]
    try:
        sent = send_decision(
            settings,
            get_ledger(settings),
            check.flow_run_id,
            decision=decision,
            approver=user.name,  # who is logged in; never a form field
            reason=reason,
            wait=config.decision_wait,
        )
    except BareCountError as exc:
        return _page(
            "verdict", 502, title="Not sent", ok=False, message=str(exc), token=None, user=user
        )
    signed = "signed" if sent.signed else "unsigned"
    verdict = sent.verdict
    if verdict is None:
        ok, message = (
            False,
            (
                f"sent {decision} by {user.name} ({signed}); the run gave no verdict within "
                f"{config.decision_wait:g} s — check this page again"
            ),
        )
    elif verdict.accepted:
        version = (
            f"; contract {check.contract} is now version {verdict.new_version}"
            if verdict.new_version
            else ""
        )
        ok, message = True, f"accepted: {decision} by {user.name} ({signed}){version}"
    else:
        ok, message = False, f"refused: {verdict.verdict}; the run is paused again"
    return _page(
        "verdict",
        200,
        title="Decision sent",
        ok=ok,
        message=message,
        token=check.token,
        user=user,
    )


def _svg(spec: Pipeline, states: dict[str, str]) -> str:
    stages = [(s.name, s.kind) for s in spec.spec.stages]
    return stage_svg(spec.name, stages, stage_needs(spec), stage_layers(spec), states)


def _legend() -> list[tuple[str, tuple[str, str]]]:
    return [(k, v) for k, v in STATE_STYLE.items() if k != "cached"]
