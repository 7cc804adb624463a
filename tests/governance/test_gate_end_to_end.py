"""Issue 4 acceptance on a real Prefect server: drift pauses the run until governance decides."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from bc_testkit import cli, paused_again, spawn_run, wait_for, wait_for_pause
from prefect.flow_runs import resume_flow_run
from sqlalchemy import select

from barecount.examples.finance import write_extract
from barecount.governance.signing import approval_message, load_private_key, sign
from barecount.ledger import get_ledger
from barecount.ledger.governance_store import decisions_for
from barecount.ledger.models import ContractVersion, GateCheck, Publication, RunSummary
from barecount.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def governed(manifests: Path, home: Path) -> Path:
    """Shipped manifests with signed approvals: alice and bob hold keys, mallory is no one."""
    from bc_testkit import require_signed_approvals

    return require_signed_approvals(manifests)


def warehouse_rows(home: Path, table: str, partition: str) -> int:
    with sqlite3.connect(home / "warehouse.db") as conn:
        exists = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()[0]
        if not exists:
            return 0
        return conn.execute(
            f"SELECT count(*) FROM {table} WHERE partition = ?", (partition,)
        ).fetchone()[0]


def test_seed_scenario_drift_pauses_until_signed_approval(capsys, governed: Path, home: Path):
    partition = "2026-11-20"
    write_extract(home / "landing", "erp.invoices", partition, 500, drift="rename-column")
    process = spawn_run(governed, partition)
    check = wait_for_pause(partition, process)
    assert check.classification == "breaking"
    assert [(c["kind"], c["column"]) for c in check.diff] == [("renamed", "customer_id")]
    # held: nothing downstream of the gate exists for this partition
    assert warehouse_rows(home, "gdp_invoices", partition) == 0
    assert warehouse_rows(home, "kpi_values", partition) == 0

    code, out, _ = cli(capsys, "pending", "--json")
    assert code == 0
    assert [(p["flow_run_id"], p["contract"], p["partition"]) for p in json.loads(out)] == [
        (check.flow_run_id, "invoices@1.0.0", partition)
    ]
    assert json.loads(out)[0]["drift"] == "breaking: customer_id renamed"

    code, out, err = cli(
        capsys,
        "approve",
        check.flow_run_id,
        "--as",
        "alice",
        "--reason",
        "ERP renamed the column; customers are not needed for KPIs",
    )
    assert code == 0, err
    assert "sent approve by alice (signed)" in out
    assert "accepted: approve; contract invoices is now version 2.0.0" in out
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "revenue_daily" in stdout

    assert warehouse_rows(home, "gdp_invoices", partition) > 0  # the GDP was recomputed
    with get_ledger().session() as session:
        decisions = decisions_for(session=session, check_id=check.id)
        version = session.execute(
            select(ContractVersion).where(ContractVersion.version == "2.0.0")
        ).scalar_one()
        published = (
            session.execute(select(Publication).where(Publication.token == check.token))
            .scalars()
            .all()
        )
        summary = session.execute(
            select(RunSummary).where(RunSummary.token == check.token)
        ).scalar_one()
    assert [(d.approver, d.accepted, d.signed, d.new_version) for d in decisions] == [
        ("alice", True, True, "2.0.0")
    ]
    assert (version.source, version.approved_by, version.token) == (
        "approval",
        "alice",
        check.token,
    )
    assert "client_id" in [c["name"] for c in version.columns]
    assert sorted(p.kpi for p in published) == ["dso_days", "overdue_ratio", "revenue_daily"]
    assert summary.status == "published"
    code, out, _ = cli(capsys, "pending")
    assert "nothing waits for governance" in out


def test_rejection_fails_the_run_without_publishing(capsys, governed: Path, home: Path):
    partition = "2026-11-19"
    write_extract(home / "landing", "erp.invoices", partition, 500, drift="drop-column")
    process = spawn_run(governed, partition)
    check = wait_for_pause(partition, process)
    code, _, err = cli(
        capsys,
        "reject",
        check.token,
        "--as",
        "bob",
        "--reason",
        "due dates are required for the overdue ratio",
    )
    assert code == 0, err
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert (
        "drift on invoices rejected by bob: due dates are required for the overdue ratio" in stderr
    )
    with get_ledger().session() as session:
        decisions = decisions_for(session=session, check_id=check.id)
        summary = session.execute(
            select(RunSummary).where(RunSummary.token == check.token)
        ).scalar_one()
        published = (
            session.execute(select(Publication).where(Publication.token == check.token))
            .scalars()
            .all()
        )
    assert [(d.decision, d.approver, d.accepted) for d in decisions] == [("reject", "bob", True)]
    assert summary.status == "rejected"
    assert published == []
    assert warehouse_rows(home, "gdp_invoices", partition) == 0


def test_unauthorised_decisions_are_refused_recorded_and_the_run_stays_paused(
    capsys, governed: Path, home: Path
):
    partition = "2026-11-18"
    write_extract(home / "landing", "erp.invoices", partition, 500, drift="drop-column")
    process = spawn_run(governed, partition)
    check = wait_for_pause(partition, process)
    alice = load_private_key(get_settings().home, "alice")

    def sign_for(flow_run_id: str) -> str:
        return sign(
            alice,
            approval_message(
                flow_run_id=flow_run_id,
                contract="invoices",
                fingerprint=check.schema_fingerprint,
                decision="approve",
            ),
        )

    # what the Prefect UI sends: a filled form, through resume_flow_run
    forms = [
        {"decision": "approve", "approver": "mallory", "reason": "", "signature": ""},
        {"decision": "approve", "approver": "alice", "reason": "looks fine", "signature": ""},
        {
            "decision": "approve",
            "approver": "alice",
            "reason": "",
            "signature": sign_for("00000000-0000-0000-0000-000000000000"),
        },
    ]
    for count, form in enumerate(forms, start=1):
        resume_flow_run(check.flow_run_id, run_input=form)
        decisions = paused_again(check, count, process)
    assert [(d.approver, d.accepted, d.signed) for d in decisions] == [
        ("mallory", False, False),
        ("alice", False, False),
        ("alice", False, False),  # a real signature, of another run: not signed for this one
    ]
    assert decisions[0].verdict.startswith("'mallory' is not an approver of team 'finance-data'")
    assert decisions[1].verdict.startswith("team 'finance-data' requires signed decisions")
    assert decisions[2].verdict.startswith("the signature does not verify for 'alice'")
    assert warehouse_rows(home, "gdp_invoices", partition) == 0

    code, _, err = cli(capsys, "approve", check.flow_run_id, "--as", "mallory")
    assert code == 1
    assert "refused: 'mallory' is not an approver" in err
    code, _, _ = cli(capsys, "reject", check.flow_run_id, "--as", "alice", "--reason", "cleanup")
    assert code == 0
    process.communicate(timeout=120)
    assert process.returncode == 1


def test_non_breaking_drift_is_auto_approved_when_the_contract_allows(manifests: Path, home: Path):
    from barecount.runtime.flows import governed_pipeline

    contract = manifests / "contracts" / "invoices.yaml"
    contract.write_text(contract.read_text().replace("value: none", "value: non-breaking"))
    assert "non-breaking" in contract.read_text()
    partition = "2026-11-17"
    write_extract(home / "landing", "erp.invoices", partition, 300, drift="add-column")
    summary = governed_pipeline(
        pipeline="finance-kpi", partition=partition, manifests=str(manifests)
    )
    assert summary["status"] == "published"
    assert summary["contracts"] == {"invoices": "1.1.0"}
    with get_ledger().session() as session:
        check = session.execute(
            select(GateCheck).where(GateCheck.partition == partition)
        ).scalar_one()
        version = session.execute(
            select(ContractVersion).where(ContractVersion.version == "1.1.0")
        ).scalar_one()
        decisions = decisions_for(session=session, check_id=check.id)
    assert (check.outcome, check.classification) == ("auto-approved", "non-breaking")
    assert (version.source, version.approved_by) == ("auto-approval", "auto")
    assert [(d.approver, d.accepted) for d in decisions] == [("auto", True)]


def test_second_run_on_a_held_contract_is_blocked_at_its_gate(capsys, governed: Path, home):
    from barecount.runtime.flows import governed_pipeline

    held = "2026-11-16"
    write_extract(home / "landing", "erp.invoices", held, 300, drift="drop-column")
    process = spawn_run(governed, held)
    check = wait_for_pause(held, process)

    state = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-15", manifests=str(governed), return_state=True
    )
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert message == (
        f"blocked: drift on invoices awaiting governance (run {check.flow_run_id}, "
        f"finance-kpi {held}); it runs again when the hold is approved ('barecount pending' "
        "lists it)"
    )
    assert warehouse_rows(home, "gdp_invoices", "2026-11-15") == 0
    with get_ledger().session() as session:
        blocked = session.execute(
            select(GateCheck).where(GateCheck.partition == "2026-11-15")
        ).scalar_one()
    assert (blocked.outcome, blocked.detail) == ("blocked", message)

    assert cli(capsys, "reject", check.flow_run_id, "--as", "bob", "--reason", "x")[0] == 0
    process.communicate(timeout=120)


def test_a_hold_older_than_the_team_limit_alerts_the_team(capsys, governed: Path, home: Path):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from barecount.ledger.models import Alert

    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    team = governed / "teams" / "finance-data.yaml"
    team.write_text(
        team.read_text()
        .replace("  alerts: []", f'  alerts: ["json://127.0.0.1:{server.server_address[1]}/hook"]')
        .replace("  escalation: []", "  escalation: []\n  hold_alert_hours: 0.001")
    )
    partition = "2026-11-14"
    write_extract(home / "landing", "erp.invoices", partition, 300, drift="drop-column")
    process = spawn_run(governed, partition)
    try:
        check = wait_for_pause(partition, process)
        wait_for(lambda: received, timeout=30, what="the hold alert at the team's webhook")
        assert len(received) == 1
        assert "waits for governance" in received[0]["title"]
        assert check.flow_run_id in received[0]["message"]
        with get_ledger().session() as session:
            kinds = session.execute(select(Alert.kind)).scalars().all()
        assert kinds == ["hold"]
    finally:
        cli(capsys, "reject", check.flow_run_id, "--as", "bob", "--reason", "done")
        process.communicate(timeout=120)
        server.shutdown()
