"""Publishing KPI values: exactly one version in force per pipeline/KPI/partition.

A run publishes a partition the first time (version 1). A run under another token for a
published partition publishes nothing unless it is an explicit restatement, which puts the
next version in force and links the one it supersedes. The database's unique constraints
(``uq_publication_once``, ``uq_kpi_version``) enforce both rules under concurrent writers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session

from barecount.ledger.chain import append, lock_key
from barecount.ledger.models import KpiVersion, PipelineRun, Publication


@dataclass(frozen=True)
class Restatement:
    """Why and by whom a published partition is published again."""

    reason: str
    requested_by: str


@dataclass(frozen=True)
class InForce:
    """The version of a pipeline/KPI/partition in force."""

    version: int
    token: str
    row_id: int | None  # the kpi_version row; None for a publication older than versions


@dataclass
class PublishOutcome:
    """What publishing a run's KPIs did."""

    published: list[Publication] = field(default_factory=list)
    already: list[Publication] = field(default_factory=list)  # under this token, earlier
    in_force: dict[str, InForce] = field(default_factory=dict)  # another token's, kept
    version: int | None = None  # the version this run put in force

    @property
    def first_time(self) -> bool:
        return bool(self.published)

    @property
    def needs_restatement(self) -> bool:
        return not self.published and not self.already and bool(self.in_force)


def in_force(*, session: Session, pipeline: str, partition: str) -> dict[str, InForce]:
    """KPI -> the version in force for a pipeline partition (publications before kpi_version
    rows existed count as version 1)."""
    found: dict[str, InForce] = {}
    legacy = select(Publication).where(
        Publication.pipeline == pipeline, Publication.partition == partition
    )
    for row in session.execute(legacy.order_by(Publication.id)).scalars():
        found.setdefault(row.kpi, InForce(1, row.token, None))
    latest = (
        select(KpiVersion)
        .where(KpiVersion.pipeline == pipeline, KpiVersion.partition == partition)
        .order_by(KpiVersion.version)
    )
    for row in session.execute(latest).scalars():
        found[row.kpi] = InForce(row.version, row.token, row.id)
    return found


def history(*, session: Session, pipeline: str, partition: str) -> list[KpiVersion]:
    """Every version of a pipeline partition's KPIs, oldest first."""
    query = select(KpiVersion).where(
        KpiVersion.pipeline == pipeline, KpiVersion.partition == partition
    )
    return list(session.execute(query.order_by(KpiVersion.id)).scalars())


def publish(
    *,
    session: Session,
    run: PipelineRun,
    stage: str,
    kpis: Mapping[str, float | None],
    fingerprint: str,
    restatement: Restatement | None = None,
) -> PublishOutcome:
    """Publish a run's KPI values, or say why not. Call inside a transaction."""
    lock_key(
        session, "publish", run.pipeline, run.partition
    )  # check-then-append, also between processes
    before = list(
        session.execute(
            select(Publication)
            .where(
                Publication.pipeline == run.pipeline,
                Publication.partition == run.partition,
                Publication.kpi.in_(list(kpis)),
            )
            .order_by(Publication.id)
        ).scalars()
    )
    mine = [p for p in before if p.token == run.token]
    if mine:
        return PublishOutcome(already=mine)
    current = {}
    if before:  # published before (a first publication skips these reads)
        current = in_force(session=session, pipeline=run.pipeline, partition=run.partition)
        current = {k: v for k, v in current.items() if k in kpis}
    if current and restatement is None:
        return PublishOutcome(in_force=current)
    version = 1 + max((v.version for v in current.values()), default=0)
    published = [
        _append_version(session, run, stage, kpi, value, fingerprint, version, current, restatement)
        for kpi, value in sorted(kpis.items())
    ]
    return PublishOutcome(published=published, version=version)


def _append_version(session, run, stage, kpi, value, fingerprint, version, current, restatement):
    """One KPI's publication and the version it puts in force, superseding the current one."""
    row = append(
        session,
        Publication(
            run_id=run.id,
            token=run.token,
            pipeline=run.pipeline,
            kpi=kpi,
            partition=run.partition,
            value=value,
            stage=stage,
            output_fingerprint=fingerprint,
        ),
    )
    append(
        session,
        KpiVersion(
            pipeline=run.pipeline,
            kpi=kpi,
            partition=run.partition,
            version=version,
            token=run.token,
            run_id=run.id,
            publication_id=row.id,
            supersedes=current[kpi].row_id if kpi in current else None,
            reason=restatement.reason if restatement else "",
            requested_by=restatement.requested_by if restatement else None,
        ),
    )
    return row


def versions_count(*, session: Session, pipeline: str, partition: str) -> int:
    """How many versions of a pipeline partition's KPIs were ever put in force."""
    query = select(func.count(func.distinct(KpiVersion.version))).where(
        KpiVersion.pipeline == pipeline, KpiVersion.partition == partition
    )
    return session.execute(query).scalar_one()
