"""The example team's published demo keys: anyone can sign with them, which is the point.

The example team (manifests/teams/finance-data.yaml) requires signed approvals, so its
committed public keys must match private keys that a fresh clone can have without a secret
in git. Each demo private key is derived from a published seed,
``sha256(b"barecount-demo-key:" + name)``: the demo writes them under BARECOUNT_HOME/keys,
and ``barecount validate`` warns wherever a team lists one, because a signature by a demo
key proves nothing about who made it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from barecount.governance.signing import (
    key_path,
    load_key_file,
    public_key_line,
    write_private_key,
)
from barecount.manifest.project import ManifestSet

DEMO_APPROVERS = ("alice", "bob")
DEMO_SEED = b"barecount-demo-key:"


def demo_private_key(name: str) -> Ed25519PrivateKey:
    """``name``'s demo key: its seed is published, so it is nobody's secret."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(DEMO_SEED + name.encode()).digest())


@cache
def demo_public_key(name: str) -> str:
    """The 'ed25519:...' line of ``name``'s demo key, as a team manifest lists it."""
    return public_key_line(demo_private_key(name).public_key())


def is_demo_key(public_key: str | None, name: str) -> bool:
    """Whether ``public_key`` is a published demo key (``name``'s own, or one shipped)."""
    if not public_key:
        return False
    return public_key in {demo_public_key(n) for n in (name, *DEMO_APPROVERS)}


@dataclass(frozen=True)
class DemoKey:
    name: str
    path: Path
    outcome: str  # written | present (already the demo key) | kept (another key: left alone)


def write_demo_keys(home: Path, *, force: bool = False) -> list[DemoKey]:
    """Write the demo private keys of the example approvers under ``home``/keys (0600).

    Idempotent: a demo key already in place is left as is, and so is any other key there
    (someone's real key) unless ``force``.
    """
    written = []
    for name in DEMO_APPROVERS:
        path = key_path(home, name)
        key = demo_private_key(name)
        if path.exists() and not force:
            current = public_key_line(load_key_file(path).public_key())
            outcome = "present" if current == demo_public_key(name) else "kept"
        else:
            write_private_key(path, key)
            outcome = "written"
        written.append(DemoKey(name, path, outcome))
    return written


def demo_key_warnings(found: ManifestSet) -> list[str]:
    """'file:line: ...' for every approver whose public key is a published demo key."""
    warnings = []
    for loaded in found.teams.values():
        team = loaded.model
        for index, approver in enumerate(team.spec.approvers):
            if is_demo_key(approver.public_key, approver.name):
                where = loaded.where("spec", "approvers", index, "public_key")
                warnings.append(
                    f"{where}: team {team.name!r} approver {approver.name!r} uses a published "
                    "demo key: anyone can sign with it; for real use run "
                    f"'barecount keys generate {approver.name}' and put the printed key here"
                )
    return warnings
