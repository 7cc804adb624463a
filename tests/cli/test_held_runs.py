"""A run held for governance reads "held" everywhere, and deciding on a run that is not paused
says so in one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from barecount.cli.main import main
from barecount.console.app import create_app
from barecount.console.options import ConsoleOptions
from barecount.examples.finance import write_extract
from barecount.settings import get_settings

DAY = "2026-10-05"


def json_of(capsys, *args: str):
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def held_backfill(capsys, home: Path, manifests: Path) -> Path:
    """A one-day backfill of finance-kpi whose extract renamed a column: held at the gate."""
    write_extract(home / "landing", "erp.invoices", DAY, 50, drift="rename-column")
    main(["backfill", "finance-kpi", "--start", DAY, "--end", DAY, "-m", str(manifests)])
    return manifests


@pytest.mark.usefixtures("prefect_api")
def test_a_held_run_reads_held_in_runs_status_backfills_and_the_console(
    capsys, held_backfill: Path
) -> None:
    [run] = json_of(capsys, "runs", "finance-kpi")
    assert (run["partition"], run["status"]) == (DAY, "held")

    rows = {r["pipeline"]: r for r in json_of(capsys, "status", "-m", str(held_backfill))}
    assert rows["finance-kpi"]["state"] == "held"
    assert [h["partition"] for h in rows["finance-kpi"]["pending_approvals"]] == [DAY]

    [backfill] = json_of(capsys, "backfills")
    assert backfill["counts"]["held"] == 1
    assert backfill["status"] == "finished"

    public = ConsoleOptions(public=True)  # reads without logging in
    client = TestClient(
        create_app(get_settings(), manifests=held_backfill, options=public),
        base_url="http://127.0.0.1:8787",
    )
    page = client.get("/pipelines/finance-kpi").text
    assert re.search(r'<td class="status-held">held</td>', page), page


@pytest.mark.usefixtures("prefect_api")
def test_approving_a_run_not_yet_paused_is_one_line_and_exit_1(capsys, home: Path) -> None:
    from bc_testkit import pending_hold_for, scheduled_flow_run

    check = pending_hold_for(scheduled_flow_run())  # on its way to the gate, not paused
    assert main(["keys", "demo", "--force"]) == 0  # the shipped team requires signatures
    capsys.readouterr()
    code = main(["approve", check.token, "--as", "alice", "--wait", "1"])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.out + captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: flow run {check.flow_run_id} is not paused")
