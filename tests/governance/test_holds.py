"""A hold is a record, not a process (issue 11): decisions apply to orphaned holds, approved
holds queue the partitions they stopped through the deployment, a worker runs them."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from bc_testkit import (
    ProcessWorker,
    cli,
    deploy_project,
    published,
    require_signed_approvals,
    spawn_run,
    wait_for,
    wait_for_pause,
)
from sqlalchemy import select

from barecount.examples.finance import write_extract
from barecount.ledger import get_ledger
from barecount.ledger.models import (
    ContractVersion,
    PipelineRun,
    RequeuedRun,
    RunSummary,
)

pytestmark = [
    pytest.mark.usefixtures("prefect_api"),
    # a worker on the 'barecount' pool and finance-kpi's deployment: shared server state
    pytest.mark.xdist_group("finance-kpi-deployment"),
]
DAYS = ("2026-08-03", "2026-08-04", "2026-08-05")


def published_or_why(partition: str):
    """The partition's publications; while there are none, fail fast if its requeued run
    failed (with the reason), so a broken run is not mistaken for a slow worker."""
    from barecount.runtime.orphans import flow_run_state

    found = published(partition)
    row = requeued(partition)
    if not found and row is not None:
        assert row.flow_run_id, f"not queued again: {row.error}"
        state = flow_run_state(row.flow_run_id)
        assert state not in ("Failed", "Crashed", "Cancelled"), f"requeued run {state}"
    return found


def requeued(partition: str) -> RequeuedRun | None:
    with get_ledger().session() as session:
        return session.execute(
            select(RequeuedRun).where(RequeuedRun.partition == partition)
        ).scalar_one_or_none()


def runs_of(partition: str) -> list[tuple[str, str | None]]:
    """(trigger, how it ended) of each run of the partition, oldest first."""
    with get_ledger().session() as session:
        runs = session.execute(
            select(PipelineRun).where(PipelineRun.partition == partition).order_by(PipelineRun.id)
        ).scalars()
        found = []
        for run in runs:
            ends = (
                session.execute(
                    select(RunSummary.status)
                    .where(RunSummary.run_id == run.id)
                    .order_by(RunSummary.id)
                )
                .scalars()
                .all()
            )
            found.append((run.trigger, ends[-1] if ends else None))
    return found


@pytest.fixture
def project(manifests: Path, home: Path, tmp_path: Path) -> Path:
    """Signed approvals, small extracts, finance-kpi applied to the server: its manifests."""
    require_signed_approvals(manifests)
    pipeline = manifests / "pipelines" / "finance-kpi.yaml"
    text = pipeline.read_text().replace("invoices_per_day: 2000", "invoices_per_day: 60")
    # no event triggers: other tests' approvals and extracts (same server, same contract
    # name) would start runs of this deployment in this test's ledger and hold it
    triggers = (
        "  triggers:\n    - {on: source-updated, source: erp.invoices}\n"
        "    - {on: contract-approved, contract: invoices}\n"
    )
    assert triggers in text
    pipeline.write_text(text.replace(triggers, ""))
    return deploy_project(manifests, tmp_path / "project", "finance-kpi")


def pending_rows(capsys) -> list[dict]:
    code, out, err = cli(capsys, "pending", "--json")
    assert code == 0, err
    return json.loads(out)


def test_approval_queues_the_partitions_the_hold_blocked(
    capsys, project: Path, home: Path, tmp_path: Path
) -> None:
    first, second = DAYS[:2]
    for day in (first, second):  # both extracts renamed the column; the first run holds it
        write_extract(home / "landing", "erp.invoices", day, 60, drift="rename-column")
    paused = spawn_run(project, first)
    check = wait_for_pause(first, paused)
    code, _, err = cli(capsys, "run", "finance-kpi", "-p", second, "-m", str(project))
    assert code == 3 and "blocked: drift on invoices awaiting governance" in err
    with ProcessWorker(tmp_path / "project"):
        code, out, err = cli(capsys, "approve", check.token, "--as", "alice", "-m", str(project))
        assert code == 0, err
        assert "the run continues; it queues again the partitions its hold blocked" in out
        _, stderr = paused.communicate(timeout=120)
        assert paused.returncode == 0, stderr
        wait_for(
            lambda: published_or_why(second), timeout=90, what=f"{second} published by a worker"
        )
    assert requeued(second).hold_check_id == check.id
    assert (f"hold-approved:{check.id}", "published") in runs_of(second)
    assert pending_rows(capsys) == []


def test_an_orphaned_backfill_hold_is_approved_and_its_day_runs_again(
    capsys, project: Path, home: Path, tmp_path: Path
) -> None:
    write_extract(home / "landing", "erp.invoices", DAYS[1], 60, drift="rename-column")
    code, _, err = cli(
        capsys, "backfill", "finance-kpi", "--start", DAYS[0], "--end", DAYS[2], "-m", str(project)
    )
    assert code == 1 and f"{DAYS[1]} (held)" in err
    assert [bool(published(day)) for day in DAYS] == [True, False, True]
    [hold] = pending_rows(capsys)
    assert (hold["partition"], hold["waiting"]) == (DAYS[1], "orphaned")

    with ProcessWorker(tmp_path / "project"):
        code, out, err = cli(capsys, "approve", hold["token"], "--as", "alice", "-m", str(project))
        assert code == 0, err
        assert "Traceback" not in out + err
        assert "to the orphaned hold of finance-kpi 2026-08-04" in out
        assert "contract invoices is now version 2.0.0" in out
        wait_for(lambda: published_or_why(DAYS[1]), timeout=90, what="the held day published")
    with get_ledger().session() as session:
        version = session.execute(
            select(ContractVersion).where(ContractVersion.version == "2.0.0")
        ).scalar_one()
    assert (version.source, version.approved_by) == ("approval", "alice")
    assert (f"hold-approved:{hold['hold']}", "published") in runs_of(DAYS[1])
    assert pending_rows(capsys) == []
    # nothing is blocked any more: the held day under its new token is already published
    code, out, err = cli(capsys, "run", "finance-kpi", "-p", DAYS[1], "-m", str(project))
    assert code == 0 and "already published" in out, err


def test_a_killed_paused_run_leaves_an_orphan_that_a_rejection_closes(
    capsys, project: Path, home: Path
) -> None:
    day, other = DAYS[2], DAYS[0]
    write_extract(home / "landing", "erp.invoices", day, 60, drift="drop-column")
    paused = spawn_run(project, day)
    check = wait_for_pause(day, paused)
    os.killpg(paused.pid, signal.SIGKILL)
    paused.wait()
    [hold] = pending_rows(capsys)
    assert (hold["hold"], hold["waiting"]) == (check.id, "orphaned")
    code, out, err = cli(
        capsys,
        "reject",
        check.token,
        "--as",
        "bob",
        "--reason",
        "due dates are needed",
        "-m",
        str(project),
    )
    assert code == 0, err
    assert "accepted: reject" in out
    assert runs_of(day)[-1] == ("cli", "rejected")
    assert pending_rows(capsys) == []
    # the contract is not blocked: another day runs and publishes
    code, out, err = cli(capsys, "run", "finance-kpi", "-p", other, "-m", str(project))
    assert code == 0, err
    assert published(other)


def test_a_killed_paused_run_is_approved_and_its_day_runs_again(
    capsys, project: Path, home: Path, tmp_path: Path
) -> None:
    day = DAYS[0]
    write_extract(home / "landing", "erp.invoices", day, 60, drift="rename-column")
    paused = spawn_run(project, day)
    check = wait_for_pause(day, paused)
    os.killpg(paused.pid, signal.SIGKILL)
    paused.wait()
    [hold] = pending_rows(capsys)
    assert (hold["hold"], hold["waiting"]) == (check.id, "orphaned")
    with ProcessWorker(tmp_path / "project"):
        code, out, err = cli(capsys, "approve", check.token, "--as", "bob", "-m", str(project))
        assert code == 0, err
        assert "contract invoices is now version 2.0.0" in out
        assert f"queued again: finance-kpi {day} (flow run " in out
        wait_for(lambda: published_or_why(day), timeout=90, what="the killed run's day published")
    assert (f"hold-approved:{check.id}", "published") in runs_of(day)
    from barecount.runtime.orphans import flow_run_state

    assert flow_run_state(check.flow_run_id) == "Cancelled"  # not left Paused for ever
