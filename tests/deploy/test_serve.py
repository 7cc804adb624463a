"""barecount serve: the compiled deployments served in one process react to events."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from bc_testkit import spawn_cli, wait_for, wait_for_line
from sqlalchemy import select

from barecount.cli.main import main
from barecount.ledger import get_ledger
from barecount.ledger.models import PipelineRun, Publication


def published(pipeline: str, partition: str) -> bool:
    with get_ledger().session() as session:
        return (
            session.execute(
                select(Publication.id)
                .where(Publication.pipeline == pipeline, Publication.partition == partition)
                .limit(1)
            ).first()
            is not None
        )


@pytest.mark.xdist_group("finance-kpi-deployment")  # tests/conftest.py: SHARED_DEPLOYMENTS
@pytest.mark.usefixtures("prefect_api")
def test_serve_runs_pipelines_on_their_triggers(
    capsys, home: Path, manifests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_RUNNER_POLL_FREQUENCY", "1")  # for the serve process
    server = spawn_cli("serve", "-m", str(manifests), "--replace")
    try:
        text = wait_for_line(server, "Prefect UI:", timeout=60)
        assert (
            "serving governed-pipeline/finance-kpi: cron '0 0 * * *' Europe/Berlin, "
            "on source-updated, on contract-approved" in text
        )
        assert "serving governed-pipeline/finance-rollup: on pipeline-published" in text
        time.sleep(3)  # let the runner register its deployments and start polling
        partition = "2026-11-11"
        assert (
            main(["emit", "source-updated", "erp.invoices", "-p", partition, "-m", str(manifests)])
            == 0
        )
        try:
            wait_for(
                lambda: published("finance-rollup", partition),
                timeout=120,
                what=f"a finance-rollup publication for {partition}",
                process=server,
            )
        except AssertionError as exc:
            server.send_signal(signal.SIGINT)
            rest = "\n".join(part for part in server.communicate(timeout=30) if part)
            pytest.fail(f"{exc}; serve printed:\n{text}{rest}")
        assert published("finance-kpi", partition)
        with get_ledger().session() as session:
            triggers = session.execute(
                select(PipelineRun.pipeline, PipelineRun.trigger)
                .where(PipelineRun.partition == partition)
                .order_by(PipelineRun.id)
            ).all()
        assert triggers == [
            ("finance-kpi", "source-updated:erp.invoices"),
            ("finance-rollup", "pipeline-published:finance-kpi"),
        ]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
