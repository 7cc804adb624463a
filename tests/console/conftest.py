"""Fixtures for the console tests: governed manifests, a run paused at its contract gate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Nothing here imports Prefect or BareCount at module level: pytest loads this file before the
# root conftest's pytest_configure points Prefect at the session's server.


@pytest.fixture
def governed(manifests: Path, home: Path) -> Path:
    """Shipped manifests where finance-data requires signed approvals from alice and bob."""
    from bc_testkit import require_signed_approvals

    return require_signed_approvals(manifests)


def flow_state(flow_run_id: str) -> str:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state.name


class PausedRun:
    """A `barecount run` subprocess held at the invoices gate by a renamed column."""

    def __init__(self, process: subprocess.Popen, check):
        self.process = process
        self.check = check

    def state(self) -> str:
        """The Prefect state name of the paused flow run."""
        return flow_state(self.check.flow_run_id)


@pytest.fixture
def paused_run(governed: Path, home: Path) -> Iterator[callable]:
    from barecount.examples.finance import write_extract
    from barecount.ledger import get_ledger
    from barecount.ledger.governance_store import pending_holds

    started: list[subprocess.Popen] = []

    def start(partition: str) -> PausedRun:
        write_extract(home / "landing", "erp.invoices", partition, 300, drift="rename-column")
        command = [sys.executable, "-m", "barecount.cli.main", "run", "finance-kpi"]
        command += ["--partition", partition, "-m", str(governed)]
        process = subprocess.Popen(
            command,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with get_ledger().session() as session:
                for check, _ in pending_holds(session=session):
                    if check.partition == partition and flow_state(check.flow_run_id) == "Paused":
                        return PausedRun(process, check)
            if process.poll() is not None:
                raise AssertionError(f"run ended before pausing: {process.communicate()}")
            time.sleep(0.5)
        raise AssertionError(f"no pending hold for {partition} within 90 s")

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()
