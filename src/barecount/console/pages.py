"""Rendering console pages, and the refusal a route or dependency raises to answer with one."""

from __future__ import annotations

from fastapi.responses import HTMLResponse

from barecount.console.templates import render


class Refusal(Exception):
    """Answer the request with the error page: ``status``, a title and a readable message.

    Raised by routes and dependencies; the app's exception handler renders it (see app.py).
    """

    def __init__(self, status: int, message: str, *, title: str = "Refused"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title


class LoginRequired(Exception):
    """Send the request to the login page, which comes back to ``target`` afterwards."""

    def __init__(self, target: str):
        super().__init__(target)
        self.target = target


def page(template: str, status: int = 200, **context: object) -> HTMLResponse:
    """An HTML response of one of the console's templates."""
    return HTMLResponse(render(template, **context), status_code=status)
