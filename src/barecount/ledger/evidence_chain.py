"""The chain of evidence behind a published KPI, read from the ledger and verified as it is
read: value <- publication <- run <- stage attempts <- gate checks <- decisions (signatures
verified now) <- contract versions <- the landed source file; upstream pipelines linked.

Built on ``views.evidence_view`` (the console's evidence page reads the same rows). Every
row shown is checked with ``rowcheck.verify_rows``; nothing here hashes rows itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from barecount.errors import BareCountError, EvidenceBrokenError, UnknownKpiError, UsageError
from barecount.ledger import evidence_elements as el
from barecount.ledger.base import Chained
from barecount.ledger.cells import LOAD_ERRORS
from barecount.ledger.evidence_models import DecisionSignature
from barecount.ledger.governance_store import contract_versions
from barecount.ledger.models import KpiVersion, Publication
from barecount.ledger.rowcheck import verify_rows
from barecount.ledger.verify import Verification, verify
from barecount.ledger.views import EvidenceView, evidence_view


@dataclass
class Chain:
    """A chain of evidence: what it is about, its entries, and whether every row held."""

    subject: dict[str, Any]
    entries: list[dict[str, Any]]
    verification: Verification
    rows: int = 0

    @property
    def ok(self) -> bool:
        return self.verification.ok

    def to_json(self) -> dict[str, Any]:
        v = self.verification
        return {
            "subject": self.subject,
            "verified": v.ok,
            "rows_checked": self.rows,
            "problem": None if v.ok else {"row_id": v.row_id, "table": v.table, "text": v.problem},
            "entries": self.entries,
        }


@dataclass
class _Reader:
    """Reads chains in one session and keeps every row it shows, to verify them after."""

    session: Session
    rows: list[Chained] = field(default_factory=list)
    signatures: list[tuple[DecisionSignature, dict]] = field(default_factory=list)

    def keep(self, *rows: Chained | None) -> None:
        self.rows.extend(r for r in rows if r is not None)

    def token_chain(self, token: str, depth: int, seen: set[str]) -> dict[str, Any]:
        """Runs, attempts, gate checks, decisions, contract histories, sources and upstream
        links of one run token; upstream chains ``depth`` levels further."""
        seen = seen | {token}
        view = evidence_view(session=self.session, token=token)
        found = view.token
        ends = {s.run_id: s for s in found.summaries}
        upstream: dict[str, Any] = {}
        for attempt in found.attempts:
            upstream.update((attempt.lineage or {}).get("upstream_pipelines") or {})
        runs = []
        for run in found.runs:
            mine = [a for a in found.attempts if a.run_id == run.id]
            self.keep(run, ends.get(run.id), *mine)
            entry = el.pipeline_run(run, ends.get(run.id), upstream)
            entry["attempts"] = el.attempts(mine)
            entry["gate_checks"] = self._checks(view, run.id)
            runs.append(entry)
        return {
            "token": token,
            "runs": runs,
            "contracts": self._contracts(view),
            "sources": el.sources(found.attempts),
            "upstream": [
                self._upstream(name, up_token, depth, seen)
                for name, up_token in sorted(upstream.items())
            ],
        }

    def _checks(self, view: EvidenceView, run_id: int) -> list[dict[str, Any]]:
        items = [item for item in view.checks if item.check.run_id == run_id]
        ids = [d.id for item in items for d in item.decisions]
        signed: dict[int, DecisionSignature] = {}
        if ids:
            query = select(DecisionSignature).where(DecisionSignature.decision_id.in_(ids))
            signed = {s.decision_id: s for s in self.session.execute(query).scalars()}
        found = []
        for item in items:
            decided = []
            for decision in item.decisions:
                signature = signed.get(decision.id)
                self.keep(decision, signature)
                decided.append(el.decision(item.check, decision, signature))
                if signature is not None:
                    self.signatures.append((signature, decided[-1]["signature"]))
            self.keep(item.check)
            found.append(el.gate_check(item.check, item.status, decided))
        return found

    def _contracts(self, view: EvidenceView) -> list[dict[str, Any]]:
        """Each contract the token ran under: every version, marking those of this chain."""
        used: dict[str, set[str]] = {}
        for row in view.contracts:
            used.setdefault(row.contract, set()).add(row.version)
        for item in view.checks:
            used.setdefault(item.check.contract, set()).add(item.check.contract_version)
        found = []
        for name in sorted(used):
            history = contract_versions(session=self.session, contract=name)
            self.keep(*history)
            found.append(
                {
                    "contract": name,
                    "history": [el.contract_version(row, used[name]) for row in history],
                }
            )
        return found

    def _upstream(self, pipeline: str, token: str | None, depth: int, seen: set[str]) -> dict:
        link: dict[str, Any] = {"pipeline": pipeline, "token": token, "publications": []}
        if token is None:
            return link
        query = select(Publication).where(Publication.token == token).order_by(Publication.id)
        published = list(self.session.execute(query).scalars())
        self.keep(*published)
        link["publications"] = [el.publication(p, None) for p in published]
        if depth > 0 and token not in seen:
            link["chain"] = self.token_chain(token, depth - 1, seen)
        return link

    def verification(self) -> Verification:
        """Every row shown against its hash and place; then every signature, verified now."""
        result = verify_rows(self.session, self.rows)
        if not result.ok:
            return result
        for row, shown in self.signatures:
            if not shown["verified"]:
                return Verification(
                    rows=result.rows,
                    problem=f"row {row.id} in decision_signature: the signature of decision row "
                    f"{row.decision_id} by {row.approver!r} does not verify with the key it "
                    f"was accepted with ({row.key_fingerprint})",
                    row_id=row.id,
                    table=DecisionSignature.__tablename__,
                )
        return result


def _read(session: Session, build) -> Chain:
    """Build a chain; a row that cannot even be read is found by walking the whole chain."""
    reader = _Reader(session)
    try:
        subject, entries = build(reader)
    except BareCountError:
        raise
    except LOAD_ERRORS:
        found = verify(session)
        raise EvidenceBrokenError(
            f"the chain of evidence cannot be read: {found.problem or 'a row cannot be loaded'}"
        ) from None
    checked = reader.verification()
    return Chain(subject, entries, checked, rows=len({r.id for r in reader.rows}))


def pipeline_of(session: Session, *, kpi: str, partition: str) -> str:
    """The one pipeline that published ``kpi`` for ``partition``."""
    names: set[str] = set()
    for table in (KpiVersion, Publication):
        query = select(table.pipeline).where(table.kpi == kpi, table.partition == partition)
        names |= set(session.execute(query.distinct()).scalars())
        if names:
            break
    if not names:
        raise UnknownKpiError(
            f"no pipeline published {kpi!r} for partition {partition!r}; 'barecount runs' lists "
            "runs, 'barecount ledger show --token T' what a run published"
        )
    if len(names) > 1:
        raise UsageError(
            f"{kpi!r} for {partition!r} was published by {', '.join(sorted(names))}; "
            "choose one with --pipeline"
        )
    return names.pop()


def kpi_chain(
    session: Session,
    *,
    kpi: str,
    partition: str,
    pipeline: str | None = None,
    history: bool = False,
    depth: int = 0,
) -> Chain:
    """The chain of the KPI version in force (with ``history``, every version, in force first)."""
    pipeline = pipeline or pipeline_of(session, kpi=kpi, partition=partition)

    def build(reader: _Reader) -> tuple[dict, list]:
        versions = _versions(session, pipeline, kpi, partition)
        top = max(v.version for v, _ in versions)
        chosen = sorted(versions, key=lambda item: -item[0].version)
        entries = []
        for version, published in chosen if history else chosen[:1]:
            reader.keep(version if version.id else None, published)
            entries.append(
                {
                    "value": published.value,
                    "version": el.kpi_version(version, version.version == top),
                    "publication": el.publication(published, version if version.id else None),
                    "chain": reader.token_chain(published.token, depth, set()),
                }
            )
        return {"kpi": kpi, "partition": partition, "pipeline": pipeline}, entries

    return _read(session, build)


def _versions(
    session: Session, pipeline: str, kpi: str, partition: str
) -> list[tuple[KpiVersion, Publication]]:
    """Every version of a pipeline/KPI/partition with its publication (one published before
    versions were kept counts as version 1, without a version row)."""
    query = select(KpiVersion).where(
        KpiVersion.pipeline == pipeline, KpiVersion.kpi == kpi, KpiVersion.partition == partition
    )
    found = [
        (v, session.get(Publication, v.publication_id))
        for v in session.execute(query.order_by(KpiVersion.version)).scalars()
    ]
    found = [(v, p) for v, p in found if p is not None]
    if not found:
        legacy = select(Publication).where(
            Publication.pipeline == pipeline,
            Publication.kpi == kpi,
            Publication.partition == partition,
        )
        first = session.execute(legacy.order_by(Publication.id).limit(1)).scalar_one_or_none()
        if first is None:
            raise UnknownKpiError(f"{pipeline} never published {kpi!r} for {partition!r}")
        found = [(KpiVersion(pipeline=pipeline, kpi=kpi, partition=partition, version=1,
                             token=first.token, run_id=first.run_id, publication_id=first.id),
                  first)]  # fmt: skip
    return found


def token_chain(session: Session, *, token: str, depth: int = 0) -> Chain:
    """The chain of one run token: what it published, and everything behind it."""

    def build(reader: _Reader) -> tuple[dict, list]:
        query = select(Publication).where(Publication.token == token).order_by(Publication.id)
        published = list(session.execute(query).scalars())
        reader.keep(*published)
        entry = {
            "publications": [el.publication(p, None) for p in published],
            "chain": reader.token_chain(token, depth, set()),
        }
        return {"token": token}, [entry]

    return _read(session, build)
