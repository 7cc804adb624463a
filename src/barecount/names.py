"""Names shared by runtime/ and deploy/: flows, entrypoints, deployments, pools, events."""

from __future__ import annotations

FLOW_NAME = "governed-pipeline"
BACKFILL_FLOW_NAME = "governed-backfill"
ENTRYPOINT = "flows/governed_pipeline.py:governed_pipeline"
BACKFILL_ENTRYPOINT = "flows/governed_backfill.py:governed_backfill"
WORK_POOL = "barecount"
OWNED_TAG = "barecount"

SOURCE_UPDATED = "barecount.source.updated"
CONTRACT_APPROVED = "barecount.contract.approved"
CONTRACT_DRIFT = "barecount.contract.drift"
PIPELINE_PUBLISHED = "barecount.pipeline.published"


def deployment_name(pipeline: str) -> str:
    """The full name of a pipeline's deployment: governed-pipeline/<pipeline>."""
    return f"{FLOW_NAME}/{pipeline}"


def backfill_deployment_name(pipeline: str) -> str:
    """The backfill deployment's name: '<pipeline>-backfill' (prefect.yaml keys by name)."""
    return f"{pipeline}-backfill"


def source_resource(source: str) -> str:
    return f"barecount.source.{source}"


def contract_resource(contract: str) -> str:
    return f"barecount.contract.{contract}"


def pipeline_resource(pipeline: str) -> str:
    return f"barecount.pipeline.{pipeline}"
