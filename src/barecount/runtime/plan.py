"""What a run will be before it starts: partition, contract versions, manifest digest, token."""

from __future__ import annotations

from dataclasses import dataclass, field

from barecount.manifest import ManifestSet
from barecount.manifest.models import Pipeline
from barecount.manifest.partitions import parse_partition
from barecount.manifest.tokens import check_token, compute_token


@dataclass(frozen=True)
class RunPlan:
    """The identity of a run: the same plan always gets the same token."""

    pipeline: str
    partition: str
    manifest_digest: str
    contract_versions: dict[str, str] = field(default_factory=dict)
    token: str = ""


def contract_names(pipeline: Pipeline) -> list[str]:
    """Contracts the pipeline's stages are governed by."""
    return sorted({s.contract for s in pipeline.spec.stages if s.contract})


def plan_run(
    manifests: ManifestSet,
    pipeline: str,
    partition: str,
    *,
    versions: dict[str, str],
    token: str | None = None,
) -> RunPlan:
    """Plan a run of ``pipeline`` for a partition key; a given token is checked, not derived."""
    spec = manifests.pipeline(pipeline)
    key = parse_partition(partition, spec.spec.partition).key
    versions = dict(sorted(versions.items()))
    digest = manifests.digest(pipeline)
    return RunPlan(
        pipeline=pipeline,
        partition=key,
        manifest_digest=digest,
        contract_versions=versions,
        token=check_token(token)
        if token
        else compute_token(
            pipeline=pipeline, partition=key, manifest_digest=digest, contract_versions=versions
        ),
    )
