"""BareCount's own OpenLineage facets; their JSON Schema is schemas/openlineage/BareCountFacets.json
(published with the repository; the ``_schemaURL`` of each facet names its definition there)."""

from __future__ import annotations

from typing import Any

import attr
from openlineage.client.generated.base import RunFacet

SCHEMA_ID = "https://barecount.dev/spec/facets/1-0-0/BareCountFacets.json"
PRODUCER = "https://barecount.dev/producer/barecount"
RUN_FACET = "barecount_run"
GOVERNANCE_FACET = "barecount_governance"


@attr.define
class LedgerRow:
    """Where a fact is in the Evidence Ledger: table, row id and the row's hash."""

    table: str
    rowId: int
    hash: str


@attr.define
class BareCountRunFacet(RunFacet):
    """A stage attempt as the ledger recorded it: run token, contract versions, row hash."""

    token: str
    pipeline: str
    partition: str
    stage: str
    attempt: int
    state: str
    ledgerRow: LedgerRow
    ledgerRunId: int
    contractVersions: dict[str, str] = attr.field(factory=dict)
    flowRunId: str | None = attr.field(default=None)
    taskRunId: str | None = attr.field(default=None)
    outputFingerprint: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_ID}#/$defs/BareCountRunFacet"


@attr.define
class GovernanceDecision:
    """One decision on a held drift, its signature verified when the event was built."""

    approver: str
    decision: str
    reason: str
    accepted: bool
    signed: bool
    ledgerRow: LedgerRow
    signatureVerified: bool | None = attr.field(default=None)
    keyFingerprint: str | None = attr.field(default=None)
    newVersion: str | None = attr.field(default=None)


@attr.define
class BareCountGovernanceRunFacet(RunFacet):
    """The contract gate's check of an ingestion attempt's extract, and the decisions on it."""

    contract: str
    contractVersion: str
    schemaFingerprint: str
    outcome: str
    classification: str
    ledgerRow: LedgerRow
    holdStatus: str | None = attr.field(default=None)
    decisions: list[GovernanceDecision] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_ID}#/$defs/BareCountGovernanceRunFacet"


def ledger_row(row: Any) -> LedgerRow:
    return LedgerRow(table=type(row).__tablename__, rowId=row.id, hash=row.hash)
