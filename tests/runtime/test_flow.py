"""The governed flow on the session's real Prefect server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bc_test_stages import journal
from bc_testkit import write_pipeline
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.sorting import TaskRunSort

from barecount.runtime.flows import governed_pipeline

pytestmark = pytest.mark.usefixtures("prefect_api")


def task_states(flow_run_id: str) -> dict[str, str]:
    """Task run name -> state name, read back from the Prefect API."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            sort=TaskRunSort.EXPECTED_START_TIME_DESC,
        )
    return {run.name: run.state.name for run in runs}


def test_finance_example_runs_and_publishes_kpis(home: Path, manifests: Path) -> None:
    summary = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-26", manifests=str(manifests)
    )
    assert summary["partition"] == "2026-11-26"
    assert set(summary["kpis"]) == {"revenue_daily", "dso_days", "overdue_ratio"}
    assert summary["kpis"]["revenue_daily"] > 0
    assert summary["token"].startswith("rt-")
    states = task_states(summary["flow_run_id"])
    assert states == {
        "ingest-invoices-2026-11-26": "Completed",
        "gdp-invoices-2026-11-26": "Completed",
        "kpi-finance-2026-11-26": "Completed",
    }


def test_same_token_reuses_cached_stage_results(home: Path, manifests: Path) -> None:
    first = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-20", manifests=str(manifests)
    )
    second = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-20", manifests=str(manifests)
    )
    assert second["token"] == first["token"]
    assert second["kpis"] == first["kpis"]
    assert second["stages"] == first["stages"]
    assert set(task_states(second["flow_run_id"]).values()) == {"Cached"}


def test_token_changes_with_the_manifest(home: Path, manifests: Path) -> None:
    first = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-21", manifests=str(manifests)
    )
    path = manifests / "pipelines" / "finance-kpi.yaml"
    path.write_text(path.read_text().replace("invoices_per_day: 2000", "invoices_per_day: 1500"))
    second = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-21", manifests=str(manifests)
    )
    assert second["token"] != first["token"]
    assert "Cached" not in task_states(second["flow_run_id"]).values()


def test_independent_stages_run_concurrently(home: Path, manifests: Path) -> None:
    sleepy = {"kind": "transform", "run": "bc_test_stages:sleepy", "params": {"seconds": 1.5}}
    write_pipeline(
        manifests,
        "fan-out",
        [
            {
                "name": "extract",
                "kind": "ingestion",
                "run": "bc_test_stages:extract",
                "contract": "items",
            },
            {"name": "left", "needs": ["extract"], **sleepy},
            {"name": "right", "needs": ["extract"], **sleepy},
            {
                "name": "total",
                "kind": "kpi",
                "needs": ["left", "right"],
                "run": "bc_test_stages:combine",
                "publishes": ["total"],
            },
        ],
    )
    summary = governed_pipeline(
        pipeline="fan-out", partition="2026-11-26", manifests=str(manifests)
    )
    events = journal(home / "warehouse.db")
    at = {(e["stage"], e["event"]): e["at"] for e in events}
    # the two sleepers overlap, and the kpi stage starts only after both ended
    assert at[("left", "start")] < at[("right", "end")]
    assert at[("right", "start")] < at[("left", "end")]
    assert at[("total", "start")] >= max(at[("left", "end")], at[("right", "end")])
    assert at[("left", "start")] >= at[("extract", "end")]
    assert summary["stages"]["total"]["metadata"] == {"upstream": ["left", "right"]}


def test_failed_stage_stops_downstream_with_clear_message(home: Path, manifests: Path) -> None:
    write_pipeline(
        manifests,
        "fails",
        [
            {
                "name": "extract",
                "kind": "ingestion",
                "run": "bc_test_stages:extract",
                "contract": "items",
            },
            {
                "name": "bad",
                "kind": "transform",
                "needs": ["extract"],
                "run": "bc_test_stages:broken",
            },
            {
                "name": "total",
                "kind": "kpi",
                "needs": ["bad"],
                "run": "bc_test_stages:combine",
                "publishes": ["total"],
            },
        ],
        retries={"max": 2, "base_seconds": 0.1, "max_seconds": 1},
    )
    state = governed_pipeline(
        pipeline="fails", partition="2026-11-26", manifests=str(manifests), return_state=True
    )
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert str(error) == (
        "pipeline fails partition 2026-11-26 failed at bad (attempt 1): invoice amounts are "
        "not numbers (not run: total)"
    )
    starts = [e for e in journal(home / "warehouse.db") if e["stage"] == "bad"]
    assert len(starts) == 1  # a terminal error is attempted once, retries notwithstanding


def test_run_leaves_stage_table_and_summary_artifacts(home: Path, manifests: Path) -> None:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    summary = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-22", manifests=str(manifests)
    )
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[summary["flow_run_id"]])
            )
        )
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {"finance-kpi-2026-11-22-stages", "finance-kpi-2026-11-22-summary"}
    table = by_key["finance-kpi-2026-11-22-stages"].data
    rows = json.loads(table) if isinstance(table, str) else table
    assert [(r["stage"], r["attempts"], r["retries"], r["cache_hit"]) for r in rows] == [
        ("ingest-invoices", 1, 0, False),
        ("gdp-invoices", 1, 0, False),
        ("kpi-finance", 1, 0, False),
    ]
    assert rows[0]["rows"] > 0
    markdown = by_key["finance-kpi-2026-11-22-summary"].data
    assert f"run token: `{summary['token']}`" in markdown
    assert "| revenue_daily |" in markdown
    assert "published under this token" in markdown
    assert f"http://127.0.0.1:8787/evidence/{summary['token']}" in markdown  # console page
