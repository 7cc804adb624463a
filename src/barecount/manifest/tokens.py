"""Run tokens: a hash of exactly what determines a partition's output.

Covered: the pipeline name, the partition, each stage's ``run`` target, ``params``, ``needs``
and code version, the contract versions in force, and the upstream pipelines' published
tokens. Not covered: schedules, windows, triggers, retries, alerts, descriptions, owners.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from barecount.errors import TokenError
from barecount.manifest.models import Pipeline

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _digest(payload: object) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def output_digest(pipeline: Pipeline, code_versions: Mapping[str, str]) -> str:
    """Digest of the stages as far as they determine output: run, params, needs, code.

    ``code_versions`` maps each stage to its manifest ``code_version`` or, where it has
    none, a digest of its code (runtime.plan.code_versions computes both).
    """
    return _digest(
        [
            {
                "name": stage.name,
                "run": stage.run,
                "params": stage.params,
                "needs": list(stage.needs),
                "code": code_versions[stage.name],
            }
            for stage in pipeline.spec.stages
        ]
    )


def compute_token(
    *,
    pipeline: str,
    partition: str,
    output_digest: str,
    contract_versions: Mapping[str, str],
    upstream_tokens: Mapping[str, str | None],
) -> str:
    """The deterministic run token of a pipeline partition.

    The same inputs always give the same token; a change to a stage's code, params or
    wiring, to a contract version in force, or to an upstream publication gives a new one,
    so its outputs are computed anew.
    """
    payload = {
        "pipeline": pipeline,
        "partition": partition,
        "stages": output_digest,
        "contracts": dict(sorted(contract_versions.items())),
        "upstream": dict(sorted(upstream_tokens.items())),
    }
    return "rt-" + _digest(payload).removeprefix("sha256:")[:32]


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
