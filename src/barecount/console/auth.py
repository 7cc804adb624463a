"""Console login tokens, signed session cookies and CSRF tokens, kept under BARECOUNT_HOME/console.

Only a token's sha256 is stored; the token itself is shown once, when it is issued. Sessions are
an HMAC-signed cookie carrying the approver's name, an expiry and that session's CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from barecount.errors import ConsoleAuthError
from barecount.manifest.project import ManifestSet

SESSION_COOKIE = "barecount_console"
SESSION_SECONDS = 12 * 3600


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


def load_secret(home: Path) -> bytes:
    """The HMAC key that signs session cookies, generated once (0600)."""
    path = console_dir(home) / "secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()  # another process made it first
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


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
    return json.loads(path.read_text())


def issue_token(home: Path, name: str, manifests: ManifestSet) -> str:
    """A new login token for approver ``name`` (replacing any earlier one); only its hash is kept.

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
    return token


def check_login(home: Path, name: str, token: str) -> bool:
    """Whether ``token`` is the current login token of ``name``."""
    entry = _read_tokens(home).get(name)
    expected = entry["sha256"] if entry else _digest(secrets.token_hex(16))  # same work either way
    return hmac.compare_digest(expected.encode(), _digest(token).encode()) and entry is not None


@dataclass(frozen=True)
class ConsoleSession:
    name: str
    csrf: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def new_session_cookie(secret: bytes, name: str, *, now: float | None = None) -> str:
    """A signed cookie value for a fresh session of ``name``, with its own CSRF token."""
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    body = {"n": name, "c": secrets.token_urlsafe(24), "e": expires}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, payload)}"


def read_session_cookie(
    secret: bytes, value: str | None, *, now: float | None = None
) -> ConsoleSession | None:
    """The session a cookie carries, or None when it is missing, forged or expired."""
    if not value or "." not in value:
        return None
    payload, _, mac = value.rpartition(".")
    if not hmac.compare_digest(mac.encode(), _mac(secret, payload).encode()):
        return None
    try:
        body = json.loads(_unb64(payload))
        session = ConsoleSession(name=str(body["n"]), csrf=str(body["c"]), expires=int(body["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires < (now if now is not None else time.time()):
        return None
    return session


def csrf_matches(session: ConsoleSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf.encode(), submitted.encode())
