"""Sixteen pipelines run at once on one PostgreSQL ledger (issue 14): appends take lanes, not
one global lock, so no run waits out a lock timeout, the chain verifies, and a pipeline run
twice at once for the same partition still publishes once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bc_testkit import write_pipeline
from sqlalchemy import distinct, func, select

from barecount.ledger import ledger_at
from barecount.ledger.models import KpiVersion, PipelineRun, Publication

DAY = "2026-11-26"
PIPELINES = [f"concurrent-{n:02d}" for n in range(16)]
TWICE = PIPELINES[:4]  # also run a second time, at the same moment, for the same partition
SUPPORT = Path(__file__).resolve().parents[1] / "support"
LOCK_TROUBLE = ("lock timeout", "LockNotAvailable", "deadlock", "could not obtain lock")


def _pipelines(manifests: Path) -> None:
    for name in PIPELINES:
        write_pipeline(
            manifests,
            name,
            [
                {
                    "name": "extract",
                    "kind": "ingestion",
                    "run": "bc_test_stages:extract",
                    "contract": "items",
                },
                {
                    "name": "total",
                    "kind": "kpi",
                    "needs": ["extract"],
                    "run": "bc_test_stages:combine",
                    "params": {"kpis": ["total", "count"]},
                    "publishes": ["total", "count"],
                },
            ],
        )


@pytest.mark.postgres
@pytest.mark.usefixtures("prefect_api")
def test_sixteen_pipelines_at_once_on_postgres_publish_once_each(
    home: Path, manifests: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BARECOUNT_LEDGER_URL", postgres_url)
    monkeypatch.setenv("BARECOUNT_CHECKPOINT_FILE", "off")
    _pipelines(manifests)
    ledger = ledger_at(postgres_url)
    ledger.ping()  # schema and lanes made once, before the runs race to
    ledger.dispose()
    env = {**os.environ, "PYTHONPATH": str(SUPPORT)}  # the stages' module
    cli = [sys.executable, "-m", "barecount.cli.main", "run"]
    runs = [
        subprocess.Popen(
            [*cli, name, "-p", DAY, "-m", str(manifests), "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in PIPELINES + TWICE
    ]
    results = []
    for name, process in zip(PIPELINES + TWICE, runs, strict=True):
        out, err = process.communicate(timeout=240)
        results.append((name, process.returncode, out, err))
    for name, code, out, err in results:
        assert not any(trouble in out + err for trouble in LOCK_TROUBLE), f"{name}: {err}"
        assert code == 0, f"{name} exited {code}: {err[-2000:]}"
    statuses = sorted((name, json.loads(out)["status"]) for name, _, out, _ in results)
    published = [name for name, status in statuses if status == "published"]
    assert sorted(published) == PIPELINES, statuses  # each pipeline's partition published once
    others = [status for _, status in statuses if status != "published"]
    assert others == ["already-published"] * len(TWICE), statuses  # the second of each pair

    verification = ledger.verify()
    assert verification.ok, verification.problem
    with ledger.session() as session:
        once = session.execute(
            select(
                Publication.pipeline, Publication.kpi, Publication.partition, func.count()
            ).group_by(Publication.pipeline, Publication.kpi, Publication.partition)
        ).all()
        in_force = session.execute(
            select(KpiVersion.pipeline, KpiVersion.kpi, func.count()).group_by(
                KpiVersion.pipeline, KpiVersion.kpi
            )
        ).all()
        lanes = session.execute(select(func.count(distinct(PipelineRun.lane)))).scalar_one()
        started = session.execute(select(func.count()).select_from(PipelineRun)).scalar_one()
    expected = {(name, kpi, DAY) for name in PIPELINES for kpi in ("total", "count")}
    assert {(p, k, d) for p, k, d, _ in once} == expected
    assert {n for *_, n in once} == {1}, once  # exactly one publication per KPI partition
    assert {n for *_, n in in_force} == {1} and len(in_force) == len(expected)
    assert started == len(PIPELINES) + len(TWICE)
    assert lanes > 1, "every run appended to one lane: the appends were serialized"
