"""One status vocabulary for runs, holds and stages, with the named sets every reader uses."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """How a pipeline run (one partition under one token) stands or ended."""

    RUNNING = "running"
    HELD = "held"  # waits for a governance decision on a drift
    PUBLISHED = "published"
    ALREADY_PUBLISHED = "already-published"
    RESTATED = "restated"  # published a new version of an already published partition
    NEEDS_RESTATEMENT = "needs-restatement"  # published under another token; nothing published
    COMPLETED = "completed"  # ran to the end; the pipeline publishes no KPIs
    FAILED = "failed"
    REJECTED = "rejected"
    TIMED_OUT = "timed-out"  # nobody decided on the drift in time
    BLOCKED = "blocked"  # another run's drift on the same contract awaits governance
    WAITING = "waiting"  # an upstream pipeline has not published the partition
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"  # started, never ended (killed)
    NOT_RUN = "not-run"  # a backfill stopped before starting it (fail-fast)


SUCCEEDED = frozenset(
    {
        RunStatus.PUBLISHED,
        RunStatus.RESTATED,
        RunStatus.ALREADY_PUBLISHED,
        RunStatus.COMPLETED,
    }
)
FAILED = frozenset({RunStatus.FAILED, RunStatus.REJECTED, RunStatus.TIMED_OUT, RunStatus.BLOCKED})
# Statuses a run can end with; a held run still waits, a running one is not over.
TERMINAL = frozenset(RunStatus) - {RunStatus.RUNNING, RunStatus.HELD}
# What 'backfill --mode failed' runs again.
RERUN = FAILED | {RunStatus.HELD, RunStatus.WAITING, RunStatus.INTERRUPTED}


class HoldStatus(StrEnum):
    """The state of a governance hold (a drift awaiting a decision)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed-out"
    WITHDRAWN = "withdrawn"


OPEN_HOLDS = frozenset({HoldStatus.PENDING})


class GateOutcome(StrEnum):
    """What the contract gate made of one extract."""

    PASS = "pass"
    AUTO_APPROVED = "auto-approved"
    HOLD = "hold"
    BLOCKED = "blocked"  # another run's drift on the contract awaits (or was refused)


class StageState(StrEnum):
    """How a stage's last attempt in a run stands."""

    COMPLETED = "completed"
    CACHED = "cached"
    RETRYING = "retrying"
    FAILED = "failed"
    HELD = "held"


class BackfillState(StrEnum):
    """Whether a backfill ran to its end; the ledger cannot tell running from killed."""

    FINISHED = "finished"
    UNFINISHED = "unfinished"  # running, or interrupted
