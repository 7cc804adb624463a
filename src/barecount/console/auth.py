"""Console login tokens and CSRF checks; tokens are kept under BARECOUNT_HOME/console.

Only a token's sha256 is stored; the token itself is shown once, when it is issued. Issuing a
new token ends every session of that approver (sessions live in ``console.sessions``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

from barecount.console.sessions import ConsoleSession, SessionStore
from barecount.errors import ConsoleAuthError
from barecount.manifest.project import ManifestSet

__all__ = [
    "SESSION_COOKIE",
    "ConsoleSession",
    "check_login",
    "csrf_matches",
    "issue_token",
    "open_session",
    "session_of",
]

SESSION_COOKIE = "barecount_console"


def console_dir(home: Path) -> Path:
    return home / "console"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)  # readers never see half a file


def approver_names(manifests: ManifestSet) -> set[str]:
    """Everyone listed as an approver on some team."""
    return {a.name for t in manifests.teams.values() for a in t.model.spec.approvers}


def _digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def _tokens_path(home: Path) -> Path:
    return console_dir(home) / "tokens.json"


def _read_tokens(home: Path) -> dict[str, dict]:
    path = _tokens_path(home)
    if not path.exists():
        return {}
    try:
        tokens = json.loads(path.read_text())
        if isinstance(tokens, dict) and all("sha256" in t for t in tokens.values()):
            return tokens
    except (ValueError, TypeError):
        pass
    raise ConsoleAuthError(
        f"{path} is not a console token file; delete it and issue every approver a new token "
        "with 'barecount console token NAME'"
    )


def issue_token(home: Path, name: str, manifests: ManifestSet) -> str:
    """A new login token for approver ``name``; only its hash is kept.

    The earlier token stops working and every session it opened ends.

    Raises:
        ConsoleAuthError: ``name`` is no approver on any team.
    """
    known = approver_names(manifests)
    if name not in known:
        listed = ", ".join(sorted(known)) or "none"
        raise ConsoleAuthError(
            f"{name!r} is not an approver on any team in {manifests.root} (approvers: {listed}); "
            "add them to a team manifest's spec.approvers first"
        )
    token = "bct_" + secrets.token_urlsafe(32)
    tokens = _read_tokens(home)
    tokens[name] = {"sha256": _digest(token), "issued_at": int(time.time())}
    _write_private(_tokens_path(home), json.dumps(tokens, indent=2, sort_keys=True).encode())
    SessionStore.of_home(home).revoke_user(name, why="login token re-issued")
    return token


def check_login(home: Path, name: str, token: str) -> bool:
    """Whether ``token`` is the current login token of ``name``."""
    entry = _read_tokens(home).get(name)
    expected = entry["sha256"] if entry else _digest(secrets.token_hex(16))  # same work either way
    return hmac.compare_digest(expected.encode(), _digest(token).encode()) and entry is not None


def open_session(
    home: Path, name: str, token: str, *, lifetime: int
) -> tuple[str, ConsoleSession] | None:
    """A new session (cookie value, session) when ``token`` is ``name``'s login token, else None."""
    if not check_login(home, name, token):
        return None
    return SessionStore.of_home(home).create(name, opened_with=_digest(token), lifetime=lifetime)


def session_of(home: Path, cookie: str | None) -> ConsoleSession | None:
    """The live session of a cookie value: recorded, not expired, not revoked, and opened with
    the approver's current login token."""
    session = SessionStore.of_home(home).lookup(cookie)
    if session is None:
        return None
    entry = _read_tokens(home).get(session.name)
    current = entry["sha256"] if entry else ""
    return session if hmac.compare_digest(current, session.opened_with) else None


def csrf_matches(session: ConsoleSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf.encode(), submitted.encode())
