"""Run tokens: one per pipeline, partition, manifest and contract versions."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from barecount.errors import TokenError

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def compute_token(
    *,
    pipeline: str,
    partition: str,
    manifest_digest: str,
    contract_versions: Mapping[str, str],
) -> str:
    """The deterministic run token of a pipeline partition.

    The same inputs always give the same token; changing the manifest or a
    contract version in force gives a new one, so its outputs are computed anew.
    """
    payload = json.dumps(
        {
            "pipeline": pipeline,
            "partition": partition,
            "manifest": manifest_digest,
            "contracts": dict(sorted(contract_versions.items())),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return "rt-" + hashlib.sha256(payload.encode()).hexdigest()[:32]


def check_token(token: str) -> str:
    """A user-given token, or TokenError saying what a token may contain."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise TokenError(
            f"run token {token!r} is not usable: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return token


def cache_key(pipeline: str, stage: str, token: str) -> str:
    """Prefect cache key of a stage under a token; file-safe, unique per stage."""
    return f"{pipeline}-{stage}-{token}"
