"""The console's pages over a real ledger filled by real flow runs on the session's server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bc_testkit import write_pipeline
from fastapi.testclient import TestClient

from barecount.console.app import create_app
from barecount.console.options import ConsoleOptions
from barecount.console.svg import STATE_STYLE
from barecount.ledger import ledger_at
from barecount.ledger.chain import append
from barecount.ledger.models import Backfill, BackfillEnd, BackfillOutcome
from barecount.runtime.flows import governed_pipeline
from barecount.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_api")

GREEN, RED, ORANGE, AMBER, GREY = (
    STATE_STYLE[s][0] for s in ("completed", "failed", "retrying", "held", "not-run")
)


def boxes(html: str) -> dict[str, tuple[str, str]]:
    """Stage -> (fill, state) of every box in the page's SVG graphs."""
    found = {}
    for rect in re.findall(r"<rect [^>]*data-stage=[^>]*>", html):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', rect))
        found[attrs["data-stage"]] = (attrs["fill"], attrs["data-state"])
    return found


def client_for(manifests: Path) -> TestClient:
    app = create_app(get_settings(), manifests=manifests, options=ConsoleOptions(public=True))
    return TestClient(app, base_url="http://127.0.0.1:8787")


def failing_pipeline(manifests: Path) -> None:
    write_pipeline(
        manifests,
        "wobbly",
        [
            {"name": "extract", "kind": "ingestion", "run": "bc_test_stages:extract",
             "contract": "items"},
            {"name": "retry-me", "kind": "transform", "needs": ["extract"],
             "run": "bc_test_stages:flaky", "params": {"fail_times": 1}},
            {"name": "bad", "kind": "transform", "needs": ["retry-me"],
             "run": "bc_test_stages:broken"},
            {"name": "total", "kind": "kpi", "needs": ["bad"], "run": "bc_test_stages:combine",
             "publishes": ["total"]},
        ],
        retries={"max": 2, "base_seconds": 0.1, "max_seconds": 1},
    )  # fmt: skip


def test_graph_colours_stages_by_the_last_runs_states(home: Path, manifests: Path):
    failing_pipeline(manifests)
    ok = governed_pipeline(pipeline="finance-kpi", partition="2026-11-26", manifests=str(manifests))
    failed = governed_pipeline(
        pipeline="wobbly", partition="2026-11-26", manifests=str(manifests), return_state=True
    )
    assert failed.is_failed()
    client = client_for(manifests)

    page = client.get("/")
    assert page.status_code == 200
    found = boxes(page.text)
    assert found["ingest-invoices"] == (GREEN, "completed")
    assert found["gdp-invoices"] == (GREEN, "completed")
    assert found["kpi-finance"] == (GREEN, "completed")
    assert found["extract"] == (GREEN, "completed")
    assert found["retry-me"] == (GREEN, "completed")  # retried once, then succeeded
    assert found["bad"] == (RED, "failed")
    assert found["total"] == (GREY, "not-run")
    assert ok["token"][:20] in page.text
    assert "<script" not in page.text

    detail = client.get("/pipelines/wobbly")
    assert detail.status_code == 200
    row = re.search(r"<h3>2026-11-26</h3>.*?</table>", detail.text, re.S).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    # partition, status, attempts (extract, retry-me x2, bad), retries
    assert cells[:4] == ["2026-11-26", "failed", "4", "1"]
    assert boxes(detail.text)["bad"] == (RED, "failed")
    assert client.get("/pipelines/nope").status_code == 404


def test_evidence_page_chains_kpis_to_attempts_contracts_and_prefect(
    home: Path, manifests: Path, prefect_api: str
):
    summary = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-24", manifests=str(manifests)
    )
    client = client_for(manifests)
    page = client.get(f"/evidence/{summary['token']}")
    assert page.status_code == 200
    text = page.text
    for kpi in ("revenue_daily", "dso_days", "overdue_ratio"):
        assert f"<td>{kpi}</td>" in text
    for stage in ("ingest-invoices", "gdp-invoices", "kpi-finance"):
        assert f"<td>{stage}</td>" in text
    assert "<td>invoices</td><td>1.0.0</td><td>manifest</td>" in text
    ui = prefect_api.removesuffix("/api")
    assert f'href="{ui}/runs/flow-run/{summary["flow_run_id"]}"' in text
    missing = client.get("/evidence/rt-unknown")
    assert missing.status_code == 404
    assert "unknown run token" in missing.text


def test_backfills_page_counts_outcomes_and_tells_finished_from_interrupted(
    home: Path, manifests: Path
):
    url = get_settings().ledger_url
    plan = [{"partition": f"2026-10-0{d}", "action": "run"} for d in (1, 2, 3)]
    with ledger_at(url).session() as session:
        done = append(session, Backfill(pipeline="finance-kpi", start="2026-10-01",
                                        end="2026-10-03", mode="missing", requested_by="carol",
                                        plan=plan))  # fmt: skip
        cut = append(session, Backfill(pipeline="finance-kpi", start="2026-09-01",
                                       end="2026-09-03", mode="all", requested_by="dave",
                                       plan=plan))  # fmt: skip
        for i, outcome in enumerate(("published", "published", "failed")):
            append(session, BackfillOutcome(backfill_id=done.id, partition=plan[i]["partition"],
                                            outcome=outcome))  # fmt: skip
        append(session, BackfillEnd(backfill_id=done.id, counts={"published": 2, "failed": 1}))
        append(session, BackfillOutcome(backfill_id=cut.id, partition="2026-09-01",
                                        outcome="published"))  # fmt: skip
    page = client_for(manifests).get("/backfills")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="backfill">(.*?)</tr>', page.text, re.S)
    assert len(rows) == 2
    assert (
        "dave" in rows[0]
        and "1 / 3" in rows[0]
        and "unfinished (running or interrupted)" in rows[0]
    )
    assert "carol" in rows[1] and "3 / 3" in rows[1] and "failed: 1, published: 2" in rows[1]
    assert ">finished<" in rows[1]
