"""Ledger tables. Rows are never updated: a later fact is a new row.

Every table shares the chain columns: ``id`` is the row's place in one chain that
runs across all tables, ``prev_hash`` the hash of the row before it, ``hash`` its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


class ChainHead(SQLModel, table=True):
    """The last row of the chain; locked while a row is appended, so appends serialize."""

    __tablename__ = "ledger_head"

    id: int = Field(default=1, primary_key=True)
    last_id: int = Field(default=0)
    last_hash: str = Field(default="")


class Chained(SQLModel):
    """Columns every ledger row carries."""

    id: int | None = Field(
        default=None, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    recorded_at: datetime | None = Field(default=None, index=True)
    prev_hash: str = Field(default="", max_length=80)
    hash: str = Field(default="", max_length=80)


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


class RunSummary(Chained, table=True):
    """How a pipeline run ended."""

    __tablename__ = "run_summary"

    run_id: int = Field(index=True)
    token: str = Field(index=True, max_length=128)
    status: str = Field(max_length=20)  # published | already-published | failed | skipped | held
    detail: str = ""
    kpis: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    stages: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class ContractVersion(Chained, table=True):
    """A version of a data contract: from the manifests, or approved from a drift."""

    __tablename__ = "contract_version"

    contract: str = Field(index=True, max_length=63)
    version: str = Field(max_length=64)
    fingerprint: str = Field(max_length=80)
    columns: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    object_name: str = Field(max_length=128)
    source: str = Field(max_length=20)  # manifest | approval | auto-approval
    approved_by: str | None = Field(default=None, max_length=63)
    token: str | None = Field(default=None, max_length=128)
    document: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class GateCheck(Chained, table=True):
    """A contract check of one ingestion stage's extract in one run."""

    __tablename__ = "gate_check"

    run_id: int = Field(index=True)
    token: str = Field(index=True, max_length=128)
    pipeline: str = Field(max_length=63)
    partition: str = Field(max_length=32)
    stage: str = Field(max_length=63)
    contract: str = Field(index=True, max_length=63)
    contract_version: str = Field(max_length=64)
    flow_run_id: str | None = Field(default=None, max_length=64)
    schema_fingerprint: str = Field(max_length=80)
    extracted: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    outcome: str = Field(max_length=20)  # pass | auto-approved | hold | blocked
    classification: str = Field(max_length=20)  # none | non-breaking | breaking
    diff: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    detail: str = ""


class HoldEvent(Chained, table=True):
    """A change in a governance hold's status; the latest row per check is the status."""

    __tablename__ = "hold_event"

    check_id: int = Field(index=True)
    contract: str = Field(index=True, max_length=63)
    contract_version: str = Field(max_length=64)
    status: str = Field(max_length=20)  # pending | approved | rejected | timed-out
    detail: str = ""


class Decision(Chained, table=True):
    """A governance decision received for a hold, accepted or refused."""

    __tablename__ = "governance_decision"

    check_id: int = Field(index=True)
    run_id: int = Field(index=True)
    token: str = Field(index=True, max_length=128)
    contract: str = Field(max_length=63)
    decision: str = Field(max_length=20)
    approver: str = Field(max_length=200)
    reason: str = ""
    signed: bool = False
    accepted: bool
    verdict: str = ""
    new_version: str | None = Field(default=None, max_length=64)


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
]
