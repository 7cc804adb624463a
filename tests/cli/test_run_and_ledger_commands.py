"""barecount run, runs, ledger show and ledger verify against the session's Prefect server."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from barecount.cli.main import main

pytestmark = pytest.mark.usefixtures("prefect_api")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_twice_prints_kpis_then_already_published(capsys, home: Path, manifests: Path):
    code, out, err = run(capsys, "run", "finance-kpi", "-p", "2026-11-26", "-m", str(manifests))
    assert code == 0, err
    assert "revenue_daily" in out and "dso_days" in out and "overdue_ratio" in out
    assert "0 cache hit(s); published 3 KPI(s) under this token" in out
    assert "Prefect run: http://127.0.0.1:" in out
    code, out, err = run(capsys, "run", "finance-kpi", "-p", "2026-11-26", "-m", str(manifests))
    assert code == 0, err
    assert "3 cache hit(s); already published under this token: nothing published again" in out


def test_ledger_show_runs_and_verify(capsys, home: Path, manifests: Path) -> None:
    code, out, _ = run(
        capsys, "run", "finance-kpi", "-p", "2026-11-25", "-m", str(manifests), "--json"
    )
    assert code == 0
    summary = json.loads(out)
    token = summary["token"]

    code, out, _ = run(capsys, "runs", "--json")
    assert code == 0
    assert [(r["token"], r["status"]) for r in json.loads(out)] == [(token, "published")]

    code, out, _ = run(capsys, "ledger", "show", "--token", token, "--json")
    shown = json.loads(out)
    assert [a["stage"] for a in shown["attempts"]] == [
        "ingest-invoices",
        "gdp-invoices",
        "kpi-finance",
    ]
    assert {p["kpi"]: p["value"] for p in shown["publications"]} == summary["kpis"]

    code, out, _ = run(capsys, "ledger", "verify")
    assert code == 0
    # run, contract version, 3 attempts, gate check, 3 publications, summary
    assert "ledger verified: 13 rows, chain intact" in out

    publication_id = shown["publications"][0]["id"]
    with sqlite3.connect(home / "ledger.db") as conn:
        conn.execute("UPDATE publication SET value = value + 1 WHERE id = ?", (publication_id,))
    code, out, _ = run(capsys, "ledger", "verify")
    assert code == 1
    assert (
        f"ledger NOT verified: row {publication_id} in publication was changed after it was "
        "written" in out.replace("\n", " ")
    )


def test_unknown_token_is_a_clean_error(capsys, home: Path) -> None:
    code, out, err = run(capsys, "ledger", "show", "--token", "rt-nope")
    assert code == 1
    assert "unknown run token 'rt-nope'" in err
    assert "Traceback" not in out + err


def test_ledger_database_down_is_a_clean_error(capsys, monkeypatch) -> None:
    from barecount.settings import get_settings

    monkeypatch.setenv("BARECOUNT_LEDGER_URL", "postgresql+psycopg2://bc:pw@127.0.0.1:9/x")
    get_settings.cache_clear()
    code, _, err = run(capsys, "runs")
    get_settings.cache_clear()
    assert code == 4  # the ledger cannot be reached (README "Exit codes")
    assert "cannot open the ledger at postgresql+psycopg2://bc:***@127.0.0.1:9/x" in err
    assert "pw@" not in err


@pytest.mark.xdist_group("finance-kpi-deployment")  # tests/conftest.py: SHARED_DEPLOYMENTS
def test_submitting_twice_with_one_token_creates_one_flow_run(capsys, home, manifests):
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from barecount.names import ENTRYPOINT, FLOW_NAME, OWNED_TAG, WORK_POOL

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
        except ObjectAlreadyExists:
            pass
        flow_id = client.create_flow_from_name(FLOW_NAME)
        deployment_id = client.create_deployment(
            flow_id=flow_id,
            name="finance-kpi",
            entrypoint=ENTRYPOINT,
            work_pool_name=WORK_POOL,
            parameters={"pipeline": "finance-kpi"},
            tags=[OWNED_TAG],
        )
    try:
        submit_twice(capsys, manifests)
    finally:  # the deployment and its run are the session server's shared state
        with get_client(sync_client=True) as client:
            for flow_run in client.read_flow_runs():
                if flow_run.deployment_id == deployment_id:
                    client.delete_flow_run(flow_run.id)
            client.delete_deployment(deployment_id)


def submit_twice(capsys, manifests) -> None:
    from prefect import get_client

    args = [
        "run",
        "finance-kpi",
        "-p",
        "2026-10-01",
        "-m",
        str(manifests),
        "--deployment",
        "--json",
    ]
    first = json.loads(run(capsys, *args)[1])
    second = json.loads(run(capsys, *args)[1])
    assert first["state"] == "Scheduled"
    assert second["flow_run_id"] == first["flow_run_id"]
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(first["flow_run_id"])
    assert flow_run.idempotency_key == first["token"]
    assert flow_run.parameters["run_token"] == first["token"]
    assert flow_run.parameters["partition"] == "2026-10-01"
