"""Names of the Prefect events BareCount emits and listens to (constants only)."""

from __future__ import annotations

SOURCE_UPDATED = "barecount.source.updated"
CONTRACT_APPROVED = "barecount.contract.approved"
CONTRACT_DRIFT = "barecount.contract.drift"
PIPELINE_PUBLISHED = "barecount.pipeline.published"


def source_resource(source: str) -> str:
    return f"barecount.source.{source}"


def contract_resource(contract: str) -> str:
    return f"barecount.contract.{contract}"


def pipeline_resource(pipeline: str) -> str:
    return f"barecount.pipeline.{pipeline}"
