"""Keyword-only functions that write and read the ledger. Writes append; nothing updates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from barecount.errors import UnknownTokenError
from barecount.ledger.chain import append
from barecount.ledger.models import PipelineRun, Publication, RunSummary, StageAttempt


def start_run(
    *,
    session: Session,
    token: str,
    pipeline: str,
    partition: str,
    manifest_digest: str,
    contract_versions: Mapping[str, str],
    trigger: str,
    flow_run_id: str | None,
    backfill_id: int | None = None,
) -> PipelineRun:
    """Record that a run of ``pipeline`` for ``partition`` started under ``token``."""
    return append(
        session,
        PipelineRun(
            token=token,
            pipeline=pipeline,
            partition=partition,
            manifest_digest=manifest_digest,
            contract_versions=dict(contract_versions),
            trigger=trigger,
            flow_run_id=flow_run_id,
            backfill_id=backfill_id,
        ),
    )


def record_attempt(*, session: Session, attempt: StageAttempt) -> StageAttempt:
    """Record one stage attempt (failed, completed or cached)."""
    return append(session, attempt)


def finish_run(
    *,
    session: Session,
    run: PipelineRun,
    status: str,
    detail: str = "",
    kpis: Mapping[str, Any] | None = None,
    stages: Mapping[str, Any] | None = None,
) -> RunSummary:
    """Record how a run ended."""
    return append(
        session,
        RunSummary(
            run_id=run.id,
            token=run.token,
            status=status,
            detail=detail,
            kpis=dict(kpis or {}),
            stages=dict(stages or {}),
        ),
    )


def publications(*, session: Session, token: str) -> list[Publication]:
    query = select(Publication).where(Publication.token == token).order_by(Publication.id)
    return list(session.execute(query).scalars())


def runs(*, session: Session, pipeline: str | None = None, limit: int = 50) -> list[PipelineRun]:
    """Most recent runs first."""
    query = select(PipelineRun).order_by(PipelineRun.id.desc()).limit(limit)
    if pipeline:
        query = query.where(PipelineRun.pipeline == pipeline)
    return list(session.execute(query).scalars())


def summaries(*, session: Session, run_ids: list[int]) -> dict[int, RunSummary]:
    if not run_ids:
        return {}
    query = select(RunSummary).where(RunSummary.run_id.in_(run_ids)).order_by(RunSummary.id)
    return {row.run_id: row for row in session.execute(query).scalars()}


@dataclass
class TokenEvidence:
    """Everything the ledger holds about one run token."""

    token: str
    runs: list[PipelineRun]
    attempts: list[StageAttempt]
    publications: list[Publication]
    summaries: list[RunSummary]


def evidence(*, session: Session, token: str) -> TokenEvidence:
    """All rows of a token, or UnknownTokenError."""
    found_runs = list(
        session.execute(
            select(PipelineRun).where(PipelineRun.token == token).order_by(PipelineRun.id)
        ).scalars()
    )
    if not found_runs:
        raise UnknownTokenError(
            f"unknown run token {token!r}: the ledger has no run under it; "
            "'barecount runs' lists recent runs and their tokens"
        )
    attempts = list(
        session.execute(
            select(StageAttempt).where(StageAttempt.token == token).order_by(StageAttempt.id)
        ).scalars()
    )
    found_summaries = list(
        session.execute(
            select(RunSummary).where(RunSummary.token == token).order_by(RunSummary.id)
        ).scalars()
    )
    return TokenEvidence(
        token=token,
        runs=found_runs,
        attempts=attempts,
        publications=publications(session=session, token=token),
        summaries=found_summaries,
    )


def published_tokens(
    *, session: Session, pipelines: list[str], partition: str
) -> dict[str, str | None]:
    """Each pipeline's latest publication token for a partition (None: not published)."""
    found: dict[str, str | None] = {}
    for pipeline in pipelines:
        query = (
            select(Publication.token)
            .where(Publication.pipeline == pipeline, Publication.partition == partition)
            .order_by(Publication.id.desc())
            .limit(1)
        )
        found[pipeline] = session.execute(query).scalar_one_or_none()
    return found
