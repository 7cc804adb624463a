"""Issue 5 acceptance: barecount apply, then an event starts the finance pipeline on a worker;
its publication starts the downstream pipeline for the same partition; prefect deployment run
works too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bc_testkit import deploy_project, wait_for
from sqlalchemy import select

from barecount.cli.main import main
from barecount.ledger import get_ledger
from barecount.ledger.models import PipelineRun, Publication
from barecount.names import WORK_POOL

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")


def published(pipeline: str, partition: str) -> Publication | None:
    with get_ledger().session() as session:
        return session.execute(
            select(Publication)
            .where(Publication.pipeline == pipeline, Publication.partition == partition)
            .limit(1)
        ).scalar_one_or_none()


def first_run(pipeline: str, partition: str) -> PipelineRun | None:
    with get_ledger().session() as session:
        return session.execute(
            select(PipelineRun)
            .where(PipelineRun.pipeline == pipeline, PipelineRun.partition == partition)
            .order_by(PipelineRun.id)
            .limit(1)
        ).scalar_one_or_none()


@pytest.mark.xdist_group("finance-kpi-deployment")  # tests/conftest.py: SHARED_DEPLOYMENTS
@pytest.mark.usefixtures("prefect_api")
def test_source_event_runs_finance_then_downstream_on_a_worker(
    capsys, home: Path, manifests: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    deploy_project(manifests, project)
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", WORK_POOL, "--type", "process"],
        cwd=tmp_path,
        env={
            **os.environ,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        partition = "2026-11-26"
        code = main(
            [
                "emit",
                "source-updated",
                "erp.invoices",
                "--partition",
                partition,
                "-m",
                str(project / "manifests"),
            ]
        )
        assert code == 0
        assert "triggers: finance-kpi" in capsys.readouterr().out
        wait_for(
            lambda: published("finance-rollup", partition),
            timeout=150,
            what=f"a finance-rollup publication for {partition} after the event",
            process=worker,
        )
        upstream = published("finance-kpi", partition)
        downstream = published("finance-rollup", partition)
        assert upstream is not None, "finance-kpi did not publish after the event"
        assert downstream is not None, "finance-rollup did not publish after finance-kpi"
        finance_run = first_run("finance-kpi", partition)
        rollup_run = first_run("finance-rollup", partition)
        assert finance_run.trigger == "source-updated:erp.invoices"
        assert rollup_run.trigger == "pipeline-published:finance-kpi"
        latency = (rollup_run.recorded_at - upstream.recorded_at).total_seconds()
        assert 0 < latency < 60, f"downstream started {latency:.1f} s after the publication"
        print(f"event->downstream start latency: {latency:.1f} s")

        # and what a user types: prefect deployment run, executed by the worker
        other = "2026-11-09"
        result = subprocess.run(
            [
                PREFECT,
                "deployment",
                "run",
                "governed-pipeline/finance-kpi",
                "--param",
                f"partition={other}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ),
        )
        assert result.returncode == 0, result.stdout + result.stderr
        wait_for(
            lambda: published("finance-kpi", other),
            timeout=120,
            what=f"a finance-kpi publication for {other} after prefect deployment run",
            process=worker,
        )
        assert first_run("finance-kpi", other).trigger == "manual"
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
