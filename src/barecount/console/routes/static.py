"""The console's one static asset: its stylesheet (no scripts, no external assets)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from barecount.console.templates import CSS

router = APIRouter(tags=["static"])


@router.get("/static/console.css")
def css() -> Response:
    return Response(CSS, media_type="text/css")
