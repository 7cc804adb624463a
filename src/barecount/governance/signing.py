"""Ed25519 keys and signatures: what makes an approval attributable to one person."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from barecount.errors import SigningKeyError


def approval_message(*, flow_run_id: str, contract: str, fingerprint: str, decision: str) -> bytes:
    """What an approver signs: binds the decision to one run, contract and schema."""
    return f"barecount-approval:v1\n{flow_run_id}\n{contract}\n{fingerprint}\n{decision}".encode()


def key_path(home: Path, name: str) -> Path:
    return home / "keys" / f"{name}.key"


def generate_key(home: Path, name: str, *, overwrite: bool = False) -> str:
    """Write a new private key (mode 0600) and return the public key line for the team."""
    path = key_path(home, name)
    if path.exists() and not overwrite:
        raise SigningKeyError(
            f"{path} exists; pass --force to replace it (the old key stops working)"
        )
    key = Ed25519PrivateKey.generate()
    write_private_key(path, key)
    return public_key_line(key.public_key())


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, readable by its owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(path, 0o600)


def public_key_line(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + base64.b64encode(raw).decode()


def load_private_key(home: Path, name: str) -> Ed25519PrivateKey | None:
    """The approver's private key, or None when they have none here."""
    path = key_path(home, name)
    if not path.exists():
        return None
    return load_key_file(path)


def load_key_file(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path``.

    Raises:
        SigningKeyError: the file cannot be read, or holds no Ed25519 private key.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot read the key ({exc.strerror or exc})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(f"{path} is not a PEM private key; regenerate it") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key; regenerate it")
    return key


def key_fingerprint(public_key: str) -> str:
    """'sha256:' and the hex digest of a public key's raw bytes: names a key in evidence."""
    import hashlib

    try:
        raw = base64.b64decode(public_key.removeprefix("ed25519:"), validate=True)
    except ValueError:
        raw = public_key.encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode()


def verify_signature(public_key: str, message: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) over ``message`` was made by ``public_key``."""
    try:
        raw = base64.b64decode(public_key.removeprefix("ed25519:"), validate=True)
        sig = base64.b64decode(signature, validate=True)
        Ed25519PublicKey.from_public_bytes(raw).verify(sig, message)
    except (InvalidSignature, ValueError):
        return False
    return True
