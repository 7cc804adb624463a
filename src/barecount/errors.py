"""The one exception hierarchy of BareCount: what went wrong, where, and how to fix it."""

from __future__ import annotations


class BareCountError(Exception):
    """Base of every error BareCount raises on purpose.

    The CLI prints ``str(error)`` and exits non-zero; no traceback reaches a user.
    """

    exit_code: int = 1


class ManifestError(BareCountError, ValueError):
    """One or more manifests are invalid. ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in manifests:"
        super().__init__("\n".join([header, *(f"  {p}" for p in self.problems)]))


class UnknownPipelineError(BareCountError, LookupError):
    """A pipeline name that no manifest declares."""


class PartitionError(BareCountError, ValueError):
    """A partition key that does not fit the pipeline's calendar."""


class PrefectUnavailableError(BareCountError, ConnectionError):
    """The Prefect API cannot be reached or the local server would not start."""


class StageError(BareCountError):
    """Raised by stage code. Subclass ``TransientError`` or ``TerminalError``."""

    transient: bool = False


class TransientError(StageError):
    """A failure worth retrying: a file not yet landed, a busy database, a timeout."""

    transient = True


class TerminalError(StageError):
    """A failure that retrying cannot fix: bad data, a contract violation."""

    transient = False


class GovernanceError(TerminalError):
    """Governance stopped the run: a drift was rejected, or another run's drift holds it."""

    status = "failed"


class ContractRejected(GovernanceError):
    """The drift was rejected (or nobody decided in time): nothing downstream runs."""

    status = "rejected"


class GovernanceBlocked(GovernanceError):
    """Another run's drift on the same contract awaits governance."""

    status = "blocked"


class HeldForGovernance(GovernanceError):
    """A backfilled partition drifted: held for governance while the other partitions go on."""

    status = "held"


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
