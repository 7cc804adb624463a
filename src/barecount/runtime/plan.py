"""What a run will be before it starts: partition, contract versions, output digest, token."""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from barecount.errors import TokenError
from barecount.manifest import ManifestSet
from barecount.manifest.models import Pipeline
from barecount.manifest.partitions import parse_partition
from barecount.manifest.tokens import check_token, compute_token, output_digest


@dataclass(frozen=True)
class RunPlan:
    """The identity of a run: the same plan always gets the same token."""

    pipeline: str
    partition: str
    manifest_digest: str  # the output digest: stages' run, params, needs and code
    contract_versions: dict[str, str] = field(default_factory=dict)
    upstream_tokens: dict[str, str | None] = field(default_factory=dict)
    token: str = ""


def contract_names(pipeline: Pipeline) -> list[str]:
    """Contracts the pipeline's stages are governed by."""
    return sorted({s.contract for s in pipeline.spec.stages if s.contract})


@lru_cache(maxsize=256)
def module_digest(module: str) -> str:
    """sha256 of a stage module's source: editing stage code gives runs a new token.

    A package (``barecount.examples.finance:ingest_invoices`` re-exports from its modules)
    is digested whole: every ``.py`` file under it, by relative path, so an edit to the
    module that defines the function counts, not only one to ``__init__.py``.
    """
    spec = importlib.util.find_spec(module)
    origin = spec.origin if spec is not None else None
    if origin is None or not Path(origin).is_file():
        raise TokenError(
            f"cannot read the source of stage module {module!r} to version its code; give the "
            "stage a 'code_version' in its manifest"
        )
    digest = hashlib.sha256()
    if spec.submodule_search_locations:
        root = Path(origin).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    else:
        digest.update(Path(origin).read_bytes())
    return "sha256:" + digest.hexdigest()


def code_versions(pipeline: Pipeline) -> dict[str, str]:
    """Each stage's code version: its manifest ``code_version``, else its module's digest."""
    return {
        stage.name: stage.code_version or module_digest(stage.run.partition(":")[0])
        for stage in pipeline.spec.stages
    }


def plan_run(
    manifests: ManifestSet,
    pipeline: str,
    partition: str,
    *,
    versions: dict[str, str],
    upstream: dict[str, str | None] | None = None,
    token: str | None = None,
) -> RunPlan:
    """Plan a run of ``pipeline`` for a partition key; a given token is checked, not derived."""
    spec = manifests.pipeline(pipeline)
    key = parse_partition(partition, spec.spec.partition).key
    versions = dict(sorted(versions.items()))
    upstream = dict(sorted((upstream or {}).items()))
    digest = output_digest(spec, code_versions(spec))
    derived = compute_token(
        pipeline=pipeline,
        partition=key,
        output_digest=digest,
        contract_versions=versions,
        upstream_tokens=upstream,
    )
    return RunPlan(
        pipeline=pipeline,
        partition=key,
        manifest_digest=digest,
        contract_versions=versions,
        upstream_tokens=upstream,
        token=check_token(token) if token else derived,
    )
