"""The key that signs ledger checkpoints: kept on disk, never in the ledger database.

The private key (PKCS#8 PEM, mode 0600) is made on first use; its public key is written
beside it (``<name>.pub``, one ``ed25519:<base64>`` line) for whoever verifies checkpoints,
who should keep a copy of their own: a public key read from the signer's folder proves only
as much as that folder is trusted.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from barecount.errors import SigningKeyError
from barecount.governance.signing import (
    key_fingerprint,
    load_key_file,
    public_key_line,
    sign,
    verify_signature,
    write_private_key,
)

__all__ = [
    "key_fingerprint",
    "key_path",
    "public_path",
    "read_public_key",
    "sign",
    "signing_key",
    "verify_signature",
]


def key_path(settings) -> Path:
    """The checkpoint signing key's file: BARECOUNT_CHECKPOINT_KEY (its default, under
    home/keys, is the settings' own)."""
    return settings.checkpoint_key


def public_path(private: Path) -> Path:
    """Where the public key of the private key file ``private`` is written: ``<name>.pub``."""
    return private.with_suffix(".pub")


def signing_key(path: Path) -> tuple[Ed25519PrivateKey, str]:
    """The private key at ``path`` and its public key line; both files are made on first use.

    Two processes making it at once end up with one key: each writes a file of its own and
    links it into place, and the one that loses reads the winner's.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".new-key-")
        os.close(fd)
        try:
            write_private_key(Path(scratch), Ed25519PrivateKey.generate())
            os.link(scratch, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(scratch)
    key = load_key_file(path)
    public = public_key_line(key.public_key())
    pub = public_path(path)
    if not pub.exists() or pub.read_text(encoding="utf-8").strip() != public:
        scratch = pub.with_name(f".{pub.name}.{os.getpid()}")
        scratch.write_text(public + "\n", encoding="utf-8")
        scratch.replace(pub)
    return key, public


def read_public_key(path: Path) -> str:
    """The ``ed25519:<base64>`` public key in ``path``: that line, or a PEM public key.

    Raises:
        SigningKeyError: the file cannot be read or holds no Ed25519 public key.
    """
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise SigningKeyError(
            f"{path}: cannot read the checkpoint public key ({reason}); pass --key PUBFILE"
        ) from None
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError:
            key = None
        if isinstance(key, Ed25519PublicKey):
            return public_key_line(key)
    elif text.startswith("ed25519:"):
        try:
            raw = base64.b64decode(text.removeprefix("ed25519:"), validate=True)
        except ValueError:
            raw = b""
        if len(raw) == 32:
            return text
    raise SigningKeyError(
        f"{path} holds no Ed25519 public key: expected one 'ed25519:<base64>' line "
        "(the .pub file written beside the checkpoint key) or a PEM public key"
    )
