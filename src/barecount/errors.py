"""The one exception hierarchy of BareCount: what went wrong, where, and how to fix it.

Library code raises these; only the CLI (and the console) turn them into exit codes and pages.
Each subclass also inherits the builtin it stands for, so callers may catch either.
"""

from __future__ import annotations

from barecount.status import RunStatus


class BareCountError(Exception):
    """Base of every error BareCount raises on purpose.

    The CLI prints ``str(error)`` and exits with ``exit_code`` (README "Exit codes"): 1 a run
    or check failed, 2 usage or invalid manifests, 3 held or blocked by governance, 4 the
    Prefect API or the ledger cannot be reached. No traceback reaches a user.
    """

    exit_code: int = 1


# --- manifests and what users type -------------------------------------------------------


class ManifestError(BareCountError, ValueError):
    """One or more manifests are invalid. ``problems`` holds one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[str], *, where: str = "manifests"):
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in {where}:"
        super().__init__("\n".join([header, *(f"  {p}" for p in self.problems)]))


class UnknownPipelineError(BareCountError, LookupError):
    """A pipeline name that no manifest declares."""


class PartitionError(BareCountError, ValueError):
    """A partition key that does not fit the pipeline's calendar."""


class GraphError(BareCountError, ValueError):
    """A stage or pipeline graph that cannot be ordered or drawn (a cycle, an unknown format)."""


class ContractError(BareCountError, ValueError):
    """A data contract BareCount cannot use (e.g. it declares no schema)."""


class TokenError(BareCountError, ValueError):
    """A run token that cannot be used."""


class BackfillError(BareCountError, ValueError):
    """A backfill request that cannot be planned."""


class UsageError(BareCountError, ValueError):
    """A command-line argument or setting that is malformed by itself (type, range, pattern,
    choice); the CLI exits 2, as for its own usage errors."""

    exit_code = 2


class SettingsError(UsageError):
    """A ``BARECOUNT_*`` (or ``PREFECT_API_URL``) environment variable BareCount cannot use."""


class TaskRunnerError(BareCountError, ValueError):
    """A task runner that cannot be used: a bad BARECOUNT_TASK_RUNNER* value, or Dask
    without the barecount[dask] extra installed."""


class SigningKeyError(BareCountError, ValueError):
    """A key file or public key that cannot be used."""


class ConsoleAuthError(BareCountError, ValueError):
    """A console login token that cannot be issued."""


# --- the things we talk to ----------------------------------------------------------------


class PrefectUnavailableError(BareCountError, ConnectionError):
    """The Prefect API cannot be reached or the local server would not start."""

    exit_code = 4


class LedgerUnavailableError(BareCountError, ConnectionError):
    """The ledger database cannot be reached or opened."""

    exit_code = 4


class UnknownTokenError(BareCountError, LookupError):
    """A run token the ledger has never seen."""


class UnknownKpiError(BareCountError, LookupError):
    """A KPI that no pipeline has published for the partition asked about."""


class EvidenceBrokenError(BareCountError, RuntimeError):
    """A row of a chain of evidence does not hold (its hash, its place, its signature)."""


class UnknownContractVersionError(BareCountError, LookupError):
    """A pinned contract version that the ledger does not hold."""


class GitOpsError(BareCountError, RuntimeError):
    """The server cannot be made to match the manifests without touching what is not ours."""


class NotPausedError(BareCountError, RuntimeError):
    """A governance decision sent to a run that is not (or no longer) paused."""


class NotAnApproverError(BareCountError, PermissionError):
    """Someone who does not approve for the owning team tried a governance action."""


class NoSuchHoldError(BareCountError, LookupError):
    """No pending governance hold matches what the user named."""


# --- stage outcomes ---------------------------------------------------------------------


class StageError(BareCountError):
    """Raised by stage code. Subclass ``TransientError`` or ``TerminalError``."""

    transient: bool = False
    status: RunStatus = RunStatus.FAILED


class TransientError(StageError):
    """A failure worth retrying: a file not yet landed, a busy database, a timeout."""

    transient = True


class TerminalError(StageError):
    """A failure that retrying cannot fix: bad data, a contract violation."""

    transient = False


class StageFailed(TerminalError):
    """A stage's own code raised; names the pipeline, stage, partition and attempt.

    The user-code boundary: the original exception is kept as ``__cause__`` and
    ``original``, and decides whether the failure is retried.
    """

    def __init__(
        self, original: BaseException, *, pipeline: str, stage: str, partition: str, attempt: int
    ):
        self.original = original
        self.pipeline, self.stage, self.partition, self.attempt = (
            pipeline,
            stage,
            partition,
            attempt,
        )
        self.transient = is_transient(original)
        what = self.reason
        super().__init__(
            f"stage {stage} of {pipeline} {partition} failed on attempt {attempt}: {what}"
        )

    @property
    def reason(self) -> str:
        """The original failure in one line, without where it happened."""
        if isinstance(self.original, BareCountError):
            return str(self.original)
        return _describe(self.original)

    def __reduce__(self):  # Prefect pickles failed results; keep the keyword arguments
        return (
            _rebuild_stage_failed,
            (self.original, self.pipeline, self.stage, self.partition, self.attempt),
        )


def _rebuild_stage_failed(original, pipeline, stage, partition, attempt) -> StageFailed:
    return StageFailed(
        original, pipeline=pipeline, stage=stage, partition=partition, attempt=attempt
    )


class PipelineFailed(TerminalError):
    """A stage failed for good; the stages after it did not run."""


class GovernanceError(TerminalError):
    """Governance stopped the run: a drift was rejected, or another run's drift holds it."""


class ContractRejected(GovernanceError):
    """The drift was rejected: nothing downstream runs."""

    status = RunStatus.REJECTED


class GovernanceTimedOut(ContractRejected):
    """Nobody decided on the drift in time: nothing downstream runs."""

    status = RunStatus.TIMED_OUT


class GovernanceBlocked(GovernanceError):
    """Another run's drift on the same contract awaits governance."""

    status = RunStatus.BLOCKED
    exit_code = 3


class HeldForGovernance(GovernanceError):
    """A backfilled partition drifted: held for governance while the other partitions go on."""

    status = RunStatus.HELD
    exit_code = 3


class RunEnded(BareCountError):
    """A run that ended without publishing, as the CLI reports it: ``line`` holds the cause
    and what to do next, ``facts`` the run's status and ids, ``exit_code`` that of the error
    that ended it."""

    def __init__(self, line: str, *, exit_code: int = 1, link: str = "", facts: dict | None = None):
        super().__init__(f"{line}\nPrefect run: {link}" if link else line)
        self.line, self.exit_code, self.facts = line, exit_code, dict(facts or {})


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def is_transient(exc: BaseException) -> bool:
    """Whether a stage failure should be retried.

    Our own errors say so explicitly. Of everything else only connection and
    timeout errors, and SQLite's "database is locked", count as transient:
    retrying a bug or bad data only delays the alert.
    """
    if isinstance(exc, StageError):
        return exc.transient
    if isinstance(exc, BareCountError):
        return False
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return "database is locked" in str(exc)
