"""Ledger tables of governance: contract versions, gate checks, holds and decisions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from barecount.ledger.base import Chained


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


class HoldWaiter(Chained, table=True):
    """The process that waits, paused in the flow, for a decision on a hold: when it is gone
    the hold is orphaned, and a decision applies to the hold without resuming anything."""

    __tablename__ = "hold_waiter"

    check_id: int = Field(index=True)
    host: str = Field(max_length=255)
    pid: int


class HoldSuspension(Chained, table=True):
    """A held run leaving its worker (suspended: nothing waits in a process) or picked up
    again once a decision arrived (resumed); ``pause_key`` is Prefect's suspend key."""

    __tablename__ = "hold_suspension"

    check_id: int = Field(index=True)
    run_id: int = Field(index=True)
    token: str = Field(max_length=128)
    flow_run_id: str = Field(index=True, max_length=64)
    action: str = Field(max_length=20)  # suspended | resumed
    pause_key: str = Field(max_length=128)


class BlockedRun(Chained, table=True):
    """A run refused at its gate because another run's drift on the contract was held."""

    __tablename__ = "blocked_run"

    check_id: int  # the blocked run's own gate check
    hold_check_id: int = Field(index=True)  # the gate check of the hold that blocked it
    run_id: int
    token: str = Field(max_length=128)
    pipeline: str = Field(max_length=63)
    partition: str = Field(max_length=32)


class RequeuedRun(Chained, table=True):
    """A partition queued again, through its deployment, once its hold was approved."""

    __tablename__ = "requeued_run"

    hold_check_id: int = Field(index=True)
    pipeline: str = Field(max_length=63)
    partition: str = Field(max_length=32)
    flow_run_id: str | None = Field(default=None, max_length=64)
    error: str | None = None  # why it could not be queued


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
