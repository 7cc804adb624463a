"""Guards in front of the console's routes: a request body cap and a failed-login limiter.

``BodyLimit`` is plain ASGI so that nothing reads a body before it is measured: a declared
``Content-Length`` over the cap is answered with 413 without reading a byte, and a chunked body
is counted as it arrives and abandoned at the cap (the server discards the rest unbuffered).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from barecount.console.templates import render


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when a body passes the cap; BodyLimit answers 413."""


class BodyLimit:
    """Answer 413 to request bodies over ``max_bytes``, never holding more than that."""

    def __init__(self, app: ASGIApp, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(scope, receive, send, 400, "Bad request", "bad Content-Length")
                return
            if int(declared) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body over {self.max_bytes} bytes refused unread"
        await self._refuse(scope, receive, send, 413, "Request too large", message)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, status: int, title: str, message: str
    ) -> None:
        html = render("error", title=title, message=message, problems=[])
        await HTMLResponse(html, status_code=status)(scope, receive, send)


class LoginLimiter:
    """Failed logins counted per approver name and per client address in a sliding window."""

    MAX_KEYS = 10_000  # past this many tracked names/addresses, forget the stale ones

    def __init__(
        self,
        *,
        per_user: int,
        per_address: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limits = {"user": per_user, "address": per_address}
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, name: str, address: str) -> int | None:
        """Seconds until a login for ``name`` from ``address`` may be tried; None: now."""
        now = self.clock()
        waits = []
        with self._lock:
            for key in (("user", name), ("address", address)):
                times = self._recent(key, now)
                if len(times) >= self.limits[key[0]]:
                    waits.append(times[-self.limits[key[0]]] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, name: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > self.MAX_KEYS:
                for key in list(self._failures):
                    if not self._recent(key, now):
                        del self._failures[key]
            for key in (("user", name), ("address", address)):
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times

    def succeeded(self, name: str) -> None:
        """A correct token: the approver's own mistakes before it stop counting."""
        with self._lock:
            self._failures.pop(("user", name), None)
