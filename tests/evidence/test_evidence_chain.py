"""Issue 15: the chain of evidence of a published KPI, on the real server, through real CLI
processes: the seed story (drift, signed approval, retry, cache, downstream pipeline), read
back element by element, and a tampered decision row caught."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from bc_openlineage import validate_event
from bc_testkit import spawn_cli, spawn_run, wait_for_pause, write_contract, write_pipeline
from sqlalchemy import select

from barecount.examples.finance import extract_path, write_extract
from barecount.governance.demokeys import demo_public_key
from barecount.governance.signing import key_fingerprint
from barecount.ledger import get_ledger
from barecount.ledger.models import CHAINED_TABLES

pytestmark = pytest.mark.usefixtures("prefect_api")
SUPPORT = Path(__file__).resolve().parents[1] / "support"
HASH = re.compile(r"sha256:[0-9a-f]{64}")
TABLES = {t.__tablename__: t for t in CHAINED_TABLES}


def cli(*args: str, timeout: float = 180) -> tuple[int, str, str]:
    process = spawn_cli(*args)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def elements(node: Any) -> list[dict]:
    """Every element of a chain: the dicts that name a ledger row."""
    found = []
    if isinstance(node, dict):
        if "table" in node and "row_id" in node:
            found.append(node)
        for value in node.values():
            found += elements(value)
    elif isinstance(node, list):
        for value in node:
            found += elements(value)
    return found


def assert_rows_are_the_ledgers(chain: dict) -> None:
    """Each element's row id and hash are those of the row in the ledger."""
    shown = elements(chain)
    assert shown
    with get_ledger().session() as session:
        for item in shown:
            assert HASH.fullmatch(item["hash"]), item
            table = TABLES[item["table"]]
            row = session.execute(select(table).where(table.id == item["row_id"])).scalar_one()
            assert row.hash == item["hash"]


def summary_artifact(flow_run_id: str, key: str) -> str:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return next(a.data for a in found if a.key == key)


@pytest.fixture
def seed(manifests: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped manifests (signed approvals, demo keys), with a flaky 'erp-ready' stage
    the ingestion needs (one transient failure, retried after 1 s)."""
    monkeypatch.setenv("PYTHONPATH", str(SUPPORT))  # the run processes import bc_test_stages
    code, _, err = cli("keys", "demo", "--force")
    assert code == 0, err
    pipeline = manifests / "pipelines" / "finance-kpi.yaml"
    text = pipeline.read_text().replace(
        "  stages:\n",
        "  governance: {approval_timeout_seconds: 300}\n  stages:\n"
        "    - {name: erp-ready, kind: transform, run: 'bc_test_stages:flaky',"
        " params: {fail_times: 1},"
        " retries: {max: 2, backoff: fixed, base_seconds: 1, max_seconds: 1, jitter: 0}}\n",
    )
    pipeline.write_text(
        text.replace(
            "      contract: invoices\n", "      contract: invoices\n      needs: [erp-ready]\n"
        )
    )
    return manifests


def test_the_seed_story_reads_back_as_one_verified_chain(
    seed: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partition = "2026-11-18"
    write_extract(home / "landing", "erp.invoices", partition, 200, drift="rename-column")
    process = spawn_run(seed, partition)
    check = wait_for_pause(partition, process, timeout=120)
    reason = "ERP renamed customer_id; KPIs do not need it"
    code, out, err = cli(
        "approve", check.flow_run_id, "--as", "alice", "--reason", reason, "-m", str(seed)
    )
    assert code == 0, out + err
    assert "sent approve by alice (signed)" in out
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stdout + stderr
    token = check.token
    code, out, err = cli("replay", token, "-m", str(seed))  # the same token: all from the cache
    assert code == 0, out + err
    code, out, err = cli("run", "finance-rollup", "-p", partition, "-m", str(seed))
    assert code == 0, out + err

    code, out, err = cli("evidence", "revenue_daily", "--partition", partition, "--json")
    assert code == 0, err
    chain = json.loads(out)
    assert chain["verified"] is True and chain["problem"] is None
    assert chain["subject"] == {
        "kpi": "revenue_daily",
        "partition": partition,
        "pipeline": "finance-kpi",
    }
    assert_rows_are_the_ledgers(chain)
    [entry] = chain["entries"]
    version, published = entry["version"], entry["publication"]
    assert (version["table"], version["version"], version["in_force"]) == ("kpi_version", 1, True)
    assert published["table"] == "publication" and published["token"] == token
    assert entry["value"] == published["value"] is not None
    assert published["published_at"] and published["restatement"] is None

    runs = entry["chain"]["runs"]
    assert [(r["trigger"]["kind"], r["trigger"]["replay"]) for r in runs] == [
        ("cli", False),
        ("replay", True),
    ]
    first, replay = runs
    assert (
        first["ended"]["status"] == "published" and replay["ended"]["status"] == "already-published"
    )
    attempts = [(a["stage"], a["attempt"], a["state"]) for a in first["attempts"]]
    assert attempts == [
        ("erp-ready", 1, "retrying"),
        ("erp-ready", 2, "completed"),
        ("ingest-invoices", 1, "completed"),
        ("gdp-invoices", 1, "completed"),
        ("kpi-finance", 1, "completed"),
    ]
    failed = first["attempts"][0]
    assert failed["error"] == {
        "class": "TransientError",
        "message": "source busy (attempt 1)",
        "transient": True,
    }
    assert failed["retry_delay_s"] >= 0.9  # the manifest's 1 s, observed
    assert all(a["task_run_id"] and a["started_at"] and a["ended_at"] for a in first["attempts"])
    assert {a["state"] for a in replay["attempts"]} == {"cached"}  # the second run hit the cache

    [gate] = first["gate_checks"]
    assert (gate["contract"], gate["contract_version"], gate["outcome"]) == (
        "invoices",
        "1.0.0",
        "hold",
    )
    assert gate["classification"] == "breaking" and HASH.fullmatch(gate["schema_fingerprint"])
    [decision] = gate["decisions"]
    assert (decision["approver"], decision["decision"], decision["reason"]) == (
        "alice",
        "approve",
        reason,
    )
    assert decision["accepted"] is True and decision["new_version"] == "2.0.0"
    signature = decision["signature"]
    assert (signature["table"], signature["signed"], signature["verified"]) == (
        "decision_signature",
        True,
        True,
    )
    assert signature["key_fingerprint"] == key_fingerprint(demo_public_key("alice"))
    [again] = replay["gate_checks"]
    assert (again["contract_version"], again["outcome"]) == ("2.0.0", "pass")

    [contract] = entry["chain"]["contracts"]
    history = [(v["version"], v["source"], v["approved_by"]) for v in contract["history"]]
    assert history == [("1.0.0", "manifest", None), ("2.0.0", "approval", "alice")]

    landed = extract_path(home / "landing", "erp.invoices", partition)
    sources = {(s["path"], s["size"], s["sha256"]) for s in entry["chain"]["sources"]}
    digest = "sha256:" + hashlib.sha256(landed.read_bytes()).hexdigest()
    assert sources == {(f"erp.invoices/{landed.name}", landed.stat().st_size, digest)}

    # the downstream KPI reaches the upstream's signed decision one level up
    code, out, err = cli(
        "evidence", "revenue_7d", "--partition", partition, "--depth", "1", "--json"
    )
    assert code == 0, err
    down = json.loads(out)
    assert down["verified"] is True
    [link] = down["entries"][0]["chain"]["upstream"]
    assert (link["pipeline"], link["token"]) == ("finance-kpi", token)
    assert {p["kpi"] for p in link["publications"]} == {
        "revenue_daily",
        "dso_days",
        "overdue_ratio",
    }
    upstream_decisions = [
        d for run in link["chain"]["runs"] for c in run["gate_checks"] for d in c["decisions"]
    ]
    assert [(d["approver"], d["signature"]["verified"]) for d in upstream_decisions] == [
        ("alice", True)
    ]
    code, out, _ = cli("evidence", "revenue_7d", "--partition", partition, "--json")
    assert "chain" not in json.loads(out)["entries"][0]["chain"]["upstream"][0]  # depth 0: a link

    monkeypatch.setenv("COLUMNS", "1000")  # no hash folded over two lines
    code, out, err = cli("evidence", "revenue_daily", "--partition", partition)
    assert code == 0, err
    tree = " ".join(out.split())
    assert f"revenue_daily = {entry['value']} (version 1, in force)" in tree
    assert (
        f"approve by alice (accepted, signed, verified now, key {signature['key_fingerprint']}"
        in tree
    )
    assert f"source erp.invoices/{landed.name}: {landed.stat().st_size} bytes, {digest}" in tree
    # the Prefect UI: the published run's summary links the commands and shows the chain
    markdown = summary_artifact(check.flow_run_id, f"finance-kpi-{partition}-summary")
    assert f"`barecount evidence --token {token}`" in markdown
    assert (
        f"`barecount evidence revenue_daily --partition {partition} --pipeline finance-kpi`"
        in markdown
    )
    assert f"/evidence/{token}" in markdown  # the console's page
    assert "## Chain of evidence" in markdown and "rows, every row verified" in markdown
    assert "- <- gate ingest-invoices: invoices@1.0.0 hold" in markdown
    assert "approve by alice (accepted, signed, verified)" in markdown
    assert (
        f"- <- source erp.invoices/{landed.name} ({landed.stat().st_size} bytes, {digest})"
        in markdown
    )

    code, out, err = cli("evidence", "--token", token, "--format", "openlineage")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert {e["eventType"] for e in events} == {"START", "COMPLETE", "FAIL", "OTHER"}
    for event in events:
        validate_event(event)


def test_an_edited_decision_row_fails_the_chain_naming_the_row(
    manifests: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(SUPPORT))
    assert cli("keys", "demo", "--force")[0] == 0
    write_contract(manifests, "items", [("id", "integer", True)])
    write_pipeline(
        manifests,
        "drifty",
        [
            {
                "name": "extract",
                "kind": "ingestion",
                "run": "bc_test_stages:drift_with",
                "contract": "items",
                "params": {"column": "note"},
            },
            {
                "name": "total",
                "kind": "kpi",
                "needs": ["extract"],
                "run": "bc_test_stages:combine",
                "publishes": ["total"],
            },
        ],
    )
    partition = "2026-11-17"
    process = spawn_run(manifests, partition, "drifty")
    check = wait_for_pause(partition, process, timeout=120)
    code, out, err = cli(
        "approve",
        check.flow_run_id,
        "--as",
        "bob",
        "--reason",
        "a note column",
        "-m",
        str(manifests),
    )
    assert code == 0, out + err
    assert process.communicate(timeout=120) and process.returncode == 0
    code, out, err = cli("evidence", "total", "--partition", partition)
    assert code == 0, err
    [decision] = get_ledger().decisions_for(check_id=check.id)

    database = home / "ledger.db"
    with sqlite3.connect(database) as conn:  # someone rewrites who approved, in SQL
        conn.execute(
            "UPDATE governance_decision SET approver = 'alice' WHERE id = ?", (decision.id,)
        )
    code, out, err = cli("evidence", "total", "--partition", partition)
    assert code == 1
    assert "Traceback" not in err
    assert err.strip() == (
        f"error: evidence NOT verified: row {decision.id} in governance_decision was changed after "
        "it was written: its content does not match its hash"
    )
    code, out, _ = cli("evidence", "total", "--partition", partition, "--json")
    assert code == 1
    assert json.loads(out)["problem"]["row_id"] == decision.id
    assert json.loads(out)["problem"]["table"] == "governance_decision"
