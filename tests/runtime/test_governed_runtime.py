"""Issue 3 acceptance: retries on record, same token same output, exactly-once publication."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from bc_testkit import spawn_run, write_pipeline
from sqlalchemy import func, select

from barecount.ledger import ledger_at
from barecount.ledger.models import PipelineRun, Publication, StageAttempt
from barecount.ledger.store import evidence
from barecount.runtime.flows import governed_pipeline

pytestmark = pytest.mark.usefixtures("prefect_api")

EXTRACT = {
    "name": "extract",
    "kind": "ingestion",
    "run": "bc_test_stages:extract",
    "contract": "items",
}


def attempts_of(url: str, token: str, stage: str) -> list[StageAttempt]:
    with ledger_at(url).session() as session:
        rows = evidence(session=session, token=token).attempts
    return [a for a in rows if a.stage == stage]


def test_transient_failures_retry_on_the_exponential_schedule(
    home: Path, ledger_url: str, manifests: Path
) -> None:
    write_pipeline(
        manifests,
        "flaky",
        [
            EXTRACT,
            {
                "name": "load",
                "kind": "kpi",
                "needs": ["extract"],
                "run": "bc_test_stages:flaky",
                "publishes": ["total"],
                "params": {"fail_times": 2},
                "retries": {
                    "max": 3,
                    "backoff": "exponential",
                    "base_seconds": 0.5,
                    "max_seconds": 10,
                    "jitter": 0,
                },
            },
        ],
    )
    summary = governed_pipeline(pipeline="flaky", partition="2026-11-26", manifests=str(manifests))
    rows = attempts_of(ledger_url, summary["token"], "load")
    assert [(a.attempt, a.state) for a in rows] == [
        (1, "retrying"),
        (2, "retrying"),
        (3, "completed"),
    ]
    assert [a.error_class for a in rows] == ["TransientError", "TransientError", None]
    assert rows[0].error_message == "source busy (attempt 1)"
    assert len({a.task_run_id for a in rows}) == 1  # one Prefect task run, three attempts
    for a in rows:  # lineage tags on failed and successful attempts alike
        assert a.lineage["token"] == summary["token"]
        assert (
            a.lineage["upstream"]["extract"]["fingerprint"]
            == (summary["stages"]["extract"]["fingerprint"])
        )
    gaps = [
        (later.started_at - earlier.ended_at).total_seconds()
        for earlier, later in itertools.pairwise(rows)
    ]
    # configured delays 0.5 s then 1.0 s; Prefect adds scheduling latency, never less
    assert 0.45 <= gaps[0] <= 0.5 + 1.0
    assert 0.95 <= gaps[1] <= 1.0 + 1.0
    assert gaps[1] > gaps[0] + 0.3


def test_terminal_error_is_attempted_once(home: Path, ledger_url: str, manifests: Path) -> None:
    write_pipeline(
        manifests,
        "broken",
        [
            EXTRACT,
            {
                "name": "bad",
                "kind": "kpi",
                "needs": ["extract"],
                "run": "bc_test_stages:broken",
                "publishes": ["total"],
            },
        ],
        retries={"max": 3, "base_seconds": 0.1, "max_seconds": 1},
    )
    state = governed_pipeline(
        pipeline="broken", partition="2026-11-26", manifests=str(manifests), return_state=True
    )
    assert state.is_failed()
    with ledger_at(ledger_url).session() as session:
        run = session.execute(
            select(PipelineRun).where(PipelineRun.pipeline == "broken")
        ).scalar_one()
        found = evidence(session=session, token=run.token)
    bad = [a for a in found.attempts if a.stage == "bad"]
    assert [(a.attempt, a.state, a.transient) for a in bad] == [(1, "failed", False)]
    assert found.summaries[-1].status == "failed"
    assert found.publications == []


def test_same_token_twice_recomputes_nothing_and_publishes_once(
    home: Path, ledger_url: str, manifests: Path
) -> None:
    first = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-24", manifests=str(manifests)
    )
    second = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-24", manifests=str(manifests)
    )
    assert (first["status"], second["status"]) == ("published", "already-published")
    assert second["token"] == first["token"]
    assert second["kpis"] == first["kpis"]
    assert second["stages"] == first["stages"]
    with ledger_at(ledger_url).session() as session:
        found = evidence(session=session, token=first["token"])
    assert len(found.runs) == 2
    by_run = {run.id: [a for a in found.attempts if a.run_id == run.id] for run in found.runs}
    first_attempts, second_attempts = by_run[found.runs[0].id], by_run[found.runs[1].id]
    assert {a.state for a in first_attempts} == {"completed"}
    assert {a.state for a in second_attempts} == {"cached"}
    assert [(a.stage, a.lineage, a.output_fingerprint) for a in first_attempts] == [
        (a.stage, a.lineage, a.output_fingerprint) for a in second_attempts
    ]
    assert sorted((p.kpi, p.value) for p in found.publications) == sorted(first["kpis"].items())


def test_two_processes_with_one_token_publish_exactly_once(
    home: Path, ledger_url: str, manifests: Path, prefect_api: str
) -> None:
    assert os.environ["PREFECT_API_URL"] == prefect_api  # what the two processes inherit
    token = ("--token", "rt-race-1")
    processes = [spawn_run(manifests, "2026-11-23", "finance-kpi", *token) for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    with ledger_at(ledger_url).session() as session:
        runs = session.execute(
            select(func.count()).select_from(PipelineRun).where(PipelineRun.token == "rt-race-1")
        ).scalar_one()
        published = (
            session.execute(select(Publication.kpi).where(Publication.token == "rt-race-1"))
            .scalars()
            .all()
        )
    assert runs == 2
    assert sorted(published) == ["dso_days", "overdue_ratio", "revenue_daily"]
