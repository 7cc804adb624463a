"""barecount serve: the compiled deployments served in one process react to events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
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


@pytest.mark.usefixtures("prefect_api")
def test_serve_runs_pipelines_on_their_triggers(capsys, home: Path, manifests: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "barecount.cli.main", "serve", "-m", str(manifests), "--replace"],
        env={**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Prefect UI:" in line:
                break
        text = "".join(lines)
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
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not published("finance-rollup", partition):
            assert server.poll() is None, "serve exited"
            time.sleep(1)
        if not published("finance-rollup", partition):
            server.send_signal(signal.SIGINT)
            rest = server.communicate(timeout=30)[0]
            pytest.fail(f"no publication for {partition}; serve printed:\n{text}{rest}")
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
