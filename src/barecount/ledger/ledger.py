"""The Evidence Ledger as one object: ``get_ledger(settings)``, one session per unit of work.

Every write appends a hash-chained row; nothing is updated. Methods are keyword-only and
each opens its own transaction, so callers never handle URLs, engines or sessions; code
that reads several things at once uses ``with ledger.session() as session`` and the
session-level functions of ``store``, ``governance_store`` and ``views``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from barecount.errors import LedgerUnavailableError
from barecount.governance.registry import NewVersion
from barecount.ledger import governance_store, store
from barecount.ledger.chain import append, ensure_lanes
from barecount.ledger.engine import open_engine, reason, redact_url
from barecount.ledger.evidence_models import signature_row
from barecount.ledger.models import (
    Chained,
    ContractVersion,
    Decision,
    GateCheck,
    HoldEvent,
    PipelineRun,
    RunSummary,
    StageAttempt,
)
from barecount.ledger.publish import PublishOutcome, Restatement, publish
from barecount.ledger.verify import Verification, verify
from barecount.manifest.models import Pipeline, PipelinePublished

if TYPE_CHECKING:
    from barecount.ledger.checkpoint_models import LedgerCheckpoint
    from barecount.manifest import ManifestSet
    from barecount.settings import Settings

ROW = TypeVar("ROW", bound=Chained)


class Ledger:
    """The Evidence Ledger at one database URL (SQLite or PostgreSQL)."""

    def __init__(self, url: str, *, lanes: int | None = None, auto_upgrade: bool | None = None):
        """``lanes``, ``auto_upgrade``: None takes the settings (BARECOUNT_LEDGER_*)."""
        self.url = url
        self._lanes = lanes
        self._auto_upgrade = auto_upgrade
        self._engine: Engine | None = None
        self._open = threading.Lock()
        # SQLite: this process's transactions queue here, not in SQLite's busy handler,
        # which sleeps in growing steps (it doubled the ledger's share of a run).
        self._writer = threading.Lock()

    def __repr__(self) -> str:
        return f"Ledger({redact_url(self.url)})"

    @property
    def engine(self) -> Engine:
        with self._open:
            if self._engine is None:
                engine = open_engine(self.url, auto_upgrade=self._option("ledger_auto_upgrade"))
                self._lanes = self._option("ledger_lanes")
                ensure_lanes(engine, self._lanes)
                self._engine = engine
            return self._engine

    def _option(self, name: str):
        """A constructor argument, else the setting of the same name."""
        from barecount.settings import get_settings

        given = getattr(self, f"_{name.removeprefix('ledger_')}")
        return given if given is not None else getattr(get_settings(), name)

    def dispose(self) -> None:
        with self._open:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        engine = self.engine
        serial = self._writer if engine.dialect.name == "sqlite" else nullcontext()
        try:
            info = {"lanes": self._lanes}
            with serial, Session(engine, expire_on_commit=False, info=info) as session:
                with session.begin():
                    yield session
        except OperationalError as exc:
            raise LedgerUnavailableError(
                f"the ledger at {redact_url(self.url)} failed: {reason(exc)}"
            ) from None

    def ping(self) -> None:
        """Raise LedgerUnavailableError unless the ledger answers."""
        with self.session() as session:
            session.exec(text("SELECT 1"))

    # --- writes -----------------------------------------------------------------------

    def append(self, *, row: ROW) -> ROW:
        """Append one row in its own transaction."""
        with self.session() as session:
            return append(session, row)

    def start_run(self, **fields: Any) -> PipelineRun:
        """Record that a run started: the keyword-only fields of ``store.start_run`` (token,
        pipeline, partition, manifest_digest, contract_versions, trigger, flow_run_id,
        backfill_id)."""
        with self.session() as session:
            return store.start_run(session=session, **fields)

    def record_attempt(self, *, attempt: StageAttempt) -> StageAttempt:
        return self.append(row=attempt)

    def finish_run(self, *, run: PipelineRun, status: str, **fields: Any) -> RunSummary:
        """Record how a run ended (``detail``, ``kpis``, ``stages``)."""
        with self.session() as session:
            return store.finish_run(session=session, run=run, status=status, **fields)

    def publish(
        self,
        *,
        run: PipelineRun,
        stage: str,
        kpis: Mapping[str, float | None],
        fingerprint: str,
        restatement: Restatement | None = None,
    ) -> PublishOutcome:
        """Publish a run's KPIs: once per token, one version in force per partition.

        A writer that loses a race at the database's unique constraints reads again and
        reports what won (already published, or in force under another token).
        """
        fields = {"run": run, "stage": stage, "kpis": kpis, "fingerprint": fingerprint}
        try:
            with self.session() as session:
                return publish(session=session, restatement=restatement, **fields)
        except IntegrityError:
            with self.session() as session:
                return publish(session=session, restatement=None, **fields)

    def record_check(self, *, check: GateCheck) -> GateCheck:
        return self.append(row=check)

    def record_hold(self, *, check: GateCheck, status: str, detail: str = "") -> HoldEvent:
        with self.session() as session:
            return governance_store.record_hold(
                session=session, check=check, status=status, detail=detail
            )

    def record_decision(
        self, *, decision: Decision, signed: tuple[str, str] | None = None
    ) -> Decision:
        """Append a decision; ``signed`` (signature, public key) adds the signature it was
        accepted with, in the same transaction, for the evidence chain to verify again."""
        with self.session() as session:
            row = append(session, decision)
            if signed is not None:
                append(session, signature_row(row, *signed))
            return row

    def register_contract_version(
        self,
        *,
        version: NewVersion,
        closing: GateCheck | None = None,
        hold_status: str = "",
        detail: str = "",
    ) -> ContractVersion:
        """Register a version; with ``closing``, move that hold to ``hold_status`` atomically."""
        with self.session() as session:
            row = governance_store.register_contract_version(session=session, version=version)
            if closing is not None:
                governance_store.record_hold(
                    session=session, check=closing, status=hold_status, detail=detail
                )
            return row

    # --- reads ------------------------------------------------------------------------

    def evidence(self, *, token: str) -> store.TokenEvidence:
        """All rows of a token, or UnknownTokenError."""
        with self.session() as session:
            return store.evidence(session=session, token=token)

    def attempts_of(self, *, run_id: int) -> list[StageAttempt]:
        with self.session() as session:
            query = select(StageAttempt).where(StageAttempt.run_id == run_id)
            return list(session.execute(query.order_by(StageAttempt.id)).scalars())

    def recorded_fingerprints(self, *, token: str, exclude_run: int) -> dict[str, str]:
        """Stage -> output fingerprint first recorded under the token (by an earlier run)."""
        found: dict[str, str] = {}
        for attempt in self.evidence(token=token).attempts:
            if attempt.run_id != exclude_run and attempt.output_fingerprint:
                found.setdefault(attempt.stage, attempt.output_fingerprint)
        return found

    def upstream_tokens(self, *, pipeline: Pipeline, partition: str) -> dict[str, str | None]:
        """Each upstream pipeline (pipeline-published trigger) -> its token for the partition,
        None where the upstream has not published it yet."""
        upstream = [t.pipeline for t in pipeline.spec.triggers if isinstance(t, PipelinePublished)]
        if not upstream:
            return {}
        with self.session() as session:
            return store.published_tokens(session=session, pipelines=upstream, partition=partition)

    def versions_in_force(
        self,
        *,
        manifests: ManifestSet,
        contracts: Iterable[str],
        pins: Mapping[str, str] | None = None,
    ) -> dict[str, ContractVersion]:
        """Contract -> version in force: the latest registered one, or the pinned one.

        The manifest's version of each contract is registered the first time it is seen.
        """
        with self.session() as session:
            return governance_store.versions_in_force(
                session=session, declared=manifests.contract, contracts=contracts, pins=pins or {}
            )

    def hold_statuses(
        self, *, contracts: Iterable[str] | None = None
    ) -> list[tuple[GateCheck, HoldEvent]]:
        with self.session() as session:
            return governance_store.hold_statuses(session=session, contracts=contracts)

    def pending_holds(self) -> list[tuple[GateCheck, HoldEvent]]:
        with self.session() as session:
            return governance_store.pending_holds(session=session)

    def decisions_for(self, *, check_id: int) -> list[Decision]:
        with self.session() as session:
            return governance_store.decisions_for(session=session, check_id=check_id)

    def summaries(self, *, run_ids: list[int]) -> dict[int, RunSummary]:
        with self.session() as session:
            return store.summaries(session=session, run_ids=run_ids)

    def verify(self, *, since: LedgerCheckpoint | None = None, progress=None) -> Verification:
        """Walk the chain and report the first row that does not match (``since``, ``progress``:
        see ``verify.verify``)."""
        with self.session() as session:
            return verify(session, since=since, progress=progress)


_ledgers: dict[str, Ledger] = {}
_ledgers_lock = threading.Lock()


def get_ledger(settings: Settings | None = None) -> Ledger:
    """The ledger of ``settings`` (default: the process's), one object per database."""
    from barecount.settings import get_settings

    return ledger_at(ledger_url(settings or get_settings()))


def ledger_at(url: str) -> Ledger:
    """The ledger at a database URL, one object (and engine) per URL in this process."""
    with _ledgers_lock:
        if url not in _ledgers:
            _ledgers[url] = Ledger(url)
        return _ledgers[url]


def ledger_url(settings: Settings) -> str:
    """BARECOUNT_LEDGER_URL, else the LedgerDatabase block named by BARECOUNT_LEDGER_BLOCK,
    else the SQLite file under BARECOUNT_HOME."""
    if settings.ledger_url:
        return settings.ledger_url
    if settings.ledger_block:
        from barecount.ledger.block import ledger_url_from_block  # imports Prefect: on demand

        return ledger_url_from_block(settings.ledger_block)
    return f"sqlite:///{settings.home / 'ledger.db'}"


def close_ledgers() -> None:
    """Dispose every ledger's engine (tests, and before a process forks)."""
    with _ledgers_lock:
        for ledger in _ledgers.values():
            ledger.dispose()
        _ledgers.clear()
