"""Ledger tables (governance ones in governance_models). Rows are never updated: a later
fact is a new row.

Every table shares the chain columns: ``id`` is the row's place in one chain that
runs across all tables, ``prev_hash`` the hash of the row before it, ``hash`` its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field

from barecount.ledger.base import Chained, ChainHead
from barecount.ledger.checkpoint_models import LedgerCheckpoint
from barecount.ledger.evidence_models import DecisionSignature, LineageEmission
from barecount.ledger.governance_models import (
    BlockedRun,
    ContractVersion,
    Decision,
    GateCheck,
    HoldEvent,
    HoldSuspension,
    HoldWaiter,
    RequeuedRun,
)


class PipelineRun(Chained, table=True):
    """A flow run started for a pipeline partition under a token."""

    __tablename__ = "pipeline_run"

    token: str = Field(index=True, max_length=128)
    pipeline: str = Field(index=True, max_length=63)
    partition: str = Field(max_length=32)
    manifest_digest: str = Field(max_length=80)
    contract_versions: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    trigger: str = Field(max_length=200)
    flow_run_id: str | None = Field(default=None, index=True, max_length=64)
    backfill_id: int | None = Field(default=None, index=True)


class StageAttempt(Chained, table=True):
    """One attempt of one stage: failed, succeeded, or served from the cache."""

    __tablename__ = "stage_attempt"

    run_id: int = Field(index=True)
    token: str = Field(index=True, max_length=128)
    stage: str = Field(max_length=63)
    attempt: int
    state: str = Field(max_length=20)  # completed | failed | cached
    started_at: datetime
    ended_at: datetime
    error_class: str | None = Field(default=None, max_length=200)
    error_message: str | None = None
    transient: bool | None = None
    task_run_id: str | None = Field(default=None, max_length=64)
    output_fingerprint: str | None = Field(default=None, max_length=80)
    rows: int | None = None
    lineage: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))

    @property
    def ran_on(self) -> str | None:
        """Where the attempt ran: a Dask worker's address, or host:pid (the lineage's
        ``ran_on``; None on rows written before it was kept)."""
        return (self.lineage or {}).get("ran_on")


class Publication(Chained, table=True):
    """A KPI value published for a partition under a token. At most once per token."""

    __tablename__ = "publication"
    __table_args__ = (
        UniqueConstraint("pipeline", "kpi", "partition", "token", name="uq_publication_once"),
    )

    run_id: int = Field(index=True)
    token: str = Field(index=True, max_length=128)
    pipeline: str = Field(max_length=63)
    kpi: str = Field(max_length=63)
    partition: str = Field(max_length=32)
    value: float | None = None
    stage: str = Field(max_length=63)
    output_fingerprint: str = Field(max_length=80)


class KpiVersion(Chained, table=True):
    """Which publication of a pipeline/KPI/partition is in force: version 1 is the first
    publication, each restatement the next, naming the version it supersedes, who asked
    and why. The unique constraints let one row, and one token, hold each version, so
    concurrent writers cannot both put a version in force."""

    __tablename__ = "kpi_version"
    __table_args__ = (
        UniqueConstraint("pipeline", "kpi", "partition", "version", name="uq_kpi_version"),
        UniqueConstraint("pipeline", "kpi", "partition", "token", name="uq_kpi_version_token"),
    )

    pipeline: str = Field(index=True, max_length=63)
    kpi: str = Field(max_length=63)
    partition: str = Field(index=True, max_length=32)
    version: int
    token: str = Field(index=True, max_length=128)
    run_id: int
    publication_id: int
    supersedes: int | None = None  # the kpi_version row this one replaces
    reason: str = ""
    requested_by: str | None = Field(default=None, max_length=200)


class RunSummary(Chained, table=True):
    """How a pipeline run ended."""

    __tablename__ = "run_summary"

    run_id: int = Field(index=True)
    token: str = Field(index=True, max_length=128)
    status: str = Field(max_length=20)  # published | already-published | failed | skipped | held
    detail: str = ""
    kpis: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    stages: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class Backfill(Chained, table=True):
    """A backfill request: who asked, the range, mode, contract pins and the plan."""

    __tablename__ = "backfill"

    pipeline: str = Field(index=True, max_length=63)
    start: str = Field(max_length=32)
    end: str = Field(max_length=32)
    mode: str = Field(max_length=20)
    requested_by: str = Field(max_length=200)
    pins: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    parallel: int = 1
    fail_fast: bool = False
    flow_run_id: str | None = Field(default=None, max_length=64)
    plan: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))


class BackfillOutcome(Chained, table=True):
    """How one partition of a backfill ended, linked to its run token."""

    __tablename__ = "backfill_outcome"

    backfill_id: int = Field(index=True)
    partition: str = Field(max_length=32)
    token: str | None = Field(default=None, max_length=128)
    outcome: str = Field(max_length=20)
    detail: str = ""


class BackfillEnd(Chained, table=True):
    """A backfill that ran to its end; one without this row was interrupted."""

    __tablename__ = "backfill_end"

    backfill_id: int = Field(index=True)
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class Alert(Chained, table=True):
    """A notification sent (or tried) to a team: never its secret URL, only where it went."""

    __tablename__ = "alert"

    pipeline: str = Field(index=True, max_length=63)
    partition: str = Field(max_length=32)
    kind: str = Field(max_length=20)  # failure | escalation | resolution | late
    dedupe_key: str = Field(index=True, max_length=300)
    team: str | None = Field(default=None, max_length=63)
    channel: str = Field(max_length=300)
    message: str = ""
    delivered: bool = False
    attempts: int = 0
    error: str | None = None
    run_id: int | None = None


CHAINED_TABLES: list[type[Chained]] = [
    PipelineRun,
    StageAttempt,
    Publication,
    RunSummary,
    ContractVersion,
    GateCheck,
    HoldEvent,
    Decision,
    Backfill,
    BackfillOutcome,
    BackfillEnd,
    Alert,
    KpiVersion,
    HoldWaiter,
    HoldSuspension,
    BlockedRun,
    RequeuedRun,
    DecisionSignature,
    LineageEmission,
]


for _table in CHAINED_TABLES:  # a lane's positions are unique (migration 0002 creates these)
    Index(f"ix_{_table.__tablename__}_lane_seq", _table.lane, _table.seq, unique=True)

# Evidence reads on a big ledger (ledger show, the console's evidence page, runs, status):
# a pipeline's latest run or alert, a partition's runs, publications and KPI versions, a
# check's latest hold event, one contract version. Migration 0003 creates the same ones.
READ_INDEXES = (
    Index("ix_pipeline_run_pipeline_id", PipelineRun.pipeline, PipelineRun.id),
    Index("ix_pipeline_run_pipeline_partition", PipelineRun.pipeline, PipelineRun.partition),
    Index("ix_publication_pipeline_partition", Publication.pipeline, Publication.partition),
    Index("ix_kpi_version_pipeline_partition", KpiVersion.pipeline, KpiVersion.partition),
    Index("ix_alert_pipeline_id", Alert.pipeline, Alert.id),
    Index("ix_hold_event_check_id_id", HoldEvent.check_id, HoldEvent.id),
    Index(
        "ix_contract_version_contract_version", ContractVersion.contract, ContractVersion.version
    ),
)

__all__ = [
    "CHAINED_TABLES",
    "Alert",
    "Backfill",
    "BackfillEnd",
    "BackfillOutcome",
    "BlockedRun",
    "ChainHead",
    "Chained",
    "ContractVersion",
    "Decision",
    "DecisionSignature",
    "GateCheck",
    "HoldEvent",
    "HoldSuspension",
    "HoldWaiter",
    "KpiVersion",
    "LedgerCheckpoint",
    "LineageEmission",
    "PipelineRun",
    "Publication",
    "RequeuedRun",
    "RunSummary",
    "StageAttempt",
]
