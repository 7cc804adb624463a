"""Server-side console sessions in ``BARECOUNT_HOME/console/sessions.db`` (SQLite, 0600).

The cookie holds a random session id; the database keeps only its sha256, the approver, the
session's CSRF token, its expiry and when it was revoked. A cookie counts only while its record
exists, has not expired and is not revoked: logging out revokes one session, re-issuing an
approver's login token revokes all of theirs. The file sits beside ``tokens.json`` because the
two change together (``barecount console token`` writes both); it is no evidence, so it stays
out of the ledger's hash chain.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS console_session (
    id_sha256   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    token       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    revoked_why TEXT
);
CREATE INDEX IF NOT EXISTS console_session_name ON console_session (name);
"""
KEEP_ENDED_SECONDS = 86400  # ended sessions stay a day (who was logged in when), then go


@dataclass(frozen=True)
class ConsoleSession:
    """A live session: the approver, the CSRF token of their forms, its expiry, and the
    digest of the login token it was opened with (it ends when that token is replaced)."""

    name: str
    csrf: str
    expires: int
    opened_with: str = ""


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Console sessions of one ``BARECOUNT_HOME``, shared by the console and the CLI."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def of_home(cls, home: Path) -> SessionStore:
        return cls(home / "console" / "sessions.db")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))  # never world-readable
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            conn.executescript(SCHEMA)
            yield conn
        finally:
            conn.close()

    def create(
        self, name: str, *, opened_with: str, lifetime: int, now: float | None = None
    ) -> tuple[str, ConsoleSession]:
        """A new session for ``name`` lasting ``lifetime`` seconds: (cookie value, session)."""
        at = int(now if now is not None else time.time())
        session_id = "bcs_" + secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        session = ConsoleSession(name, csrf, expires=at + lifetime, opened_with=opened_with)
        with self._connect() as conn:
            conn.execute(
                "DELETE FROM console_session WHERE expires_at < ? OR revoked_at < ?",
                (at - KEEP_ENDED_SECONDS, at - KEEP_ENDED_SECONDS),
            )
            conn.execute(
                "INSERT INTO console_session "
                "(id_sha256, name, csrf, token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (_digest(session_id), name, session.csrf, opened_with, at, session.expires),
            )
        return session_id, session

    def lookup(self, session_id: str | None, *, now: float | None = None) -> ConsoleSession | None:
        """The live session of a cookie value; None when unknown, expired or revoked."""
        if not session_id or len(session_id) > 200:
            return None
        at = int(now if now is not None else time.time())
        with self._connect() as conn:
            row = conn.execute(
                "SELECT name, csrf, expires_at, token FROM console_session "
                "WHERE id_sha256 = ? AND revoked_at IS NULL AND expires_at > ?",
                (_digest(session_id), at),
            ).fetchone()
        if row is None:
            return None
        return ConsoleSession(name=row[0], csrf=row[1], expires=row[2], opened_with=row[3])

    def revoke(self, session_id: str, *, why: str = "logout") -> bool:
        """End one session (logging out); whether a live one was ended."""
        with self._connect() as conn:
            cursor = conn.execute(
                "UPDATE console_session SET revoked_at = ?, revoked_why = ? "
                "WHERE id_sha256 = ? AND revoked_at IS NULL",
                (int(time.time()), why, _digest(session_id)),
            )
        return cursor.rowcount > 0

    def revoke_user(self, name: str, *, why: str) -> int:
        """End every session of ``name`` (their login token changed); how many were live."""
        with self._connect() as conn:
            cursor = conn.execute(
                "UPDATE console_session SET revoked_at = ?, revoked_why = ? "
                "WHERE name = ? AND revoked_at IS NULL",
                (int(time.time()), why, name),
            )
        return cursor.rowcount
