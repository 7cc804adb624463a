"""Fixtures for the console tests: governed manifests, a run paused at its contract gate."""

from __future__ import annotations

import subprocess
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


class PausedRun:
    """A `barecount run` subprocess held at the invoices gate by a renamed column."""

    def __init__(self, process: subprocess.Popen, check):
        self.process = process
        self.check = check

    def state(self) -> str:
        """The Prefect state name of the paused flow run."""
        from bc_testkit import flow_state

        return flow_state(self.check.flow_run_id)


@pytest.fixture
def paused_run(governed: Path, home: Path) -> Iterator[callable]:
    from bc_testkit import spawn_run, wait_for_pause

    from barecount.examples.finance import write_extract

    started: list[subprocess.Popen] = []

    def start(partition: str) -> PausedRun:
        write_extract(home / "landing", "erp.invoices", partition, 300, drift="rename-column")
        process = spawn_run(governed, partition)
        started.append(process)
        return PausedRun(process, wait_for_pause(partition, process))

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()
