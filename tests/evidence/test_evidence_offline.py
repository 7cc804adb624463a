"""The evidence chain on a ledger written in this process (no Prefect): what verification
catches, and the command's answers to bad input."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from barecount.cli.main import main
from barecount.governance.demokeys import demo_private_key, demo_public_key
from barecount.governance.signing import approval_message, sign
from barecount.ledger import close_ledgers, get_ledger
from barecount.ledger.evidence_chain import kpi_chain
from barecount.ledger.hashformat import row_hash
from barecount.ledger.models import Decision, GateCheck, StageAttempt
from barecount.settings import get_settings

PARTITION = "2026-11-20"


@pytest.fixture
def ledger_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ledger with one published run: a retried attempt, a held drift approved with a
    signature, a KPI publication."""
    path = tmp_path / "ledger.db"
    monkeypatch.setenv("BARECOUNT_LEDGER_URL", f"sqlite:///{path}")
    monkeypatch.setenv("BARECOUNT_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    ledger = get_ledger()
    run = ledger.start_run(token="rt-1", pipeline="finance-kpi", partition=PARTITION,
                           manifest_digest="d", contract_versions={"invoices": "1.0.0"},
                           trigger="cli", flow_run_id="flow-1")  # fmt: skip
    now = datetime.now(UTC)
    for attempt, state in ((1, "retrying"), (2, "completed")):
        ledger.record_attempt(attempt=StageAttempt(
            run_id=run.id, token="rt-1", stage="ingest-invoices", attempt=attempt, state=state,
            started_at=now, ended_at=now, lineage={}))  # fmt: skip
    check = ledger.record_check(check=GateCheck(
        run_id=run.id, token="rt-1", pipeline="finance-kpi", partition=PARTITION,
        stage="ingest-invoices", contract="invoices", contract_version="1.0.0",
        flow_run_id="flow-1", schema_fingerprint="sha256:" + "a" * 64, outcome="hold",
        classification="breaking"))  # fmt: skip
    message = approval_message(flow_run_id="flow-1", contract="invoices", decision="approve",
                               fingerprint=check.schema_fingerprint)  # fmt: skip
    ledger.record_decision(
        decision=Decision(check_id=check.id, run_id=run.id, token="rt-1", contract="invoices",
                          decision="approve", approver="alice", reason="ok", signed=True,
                          accepted=True, verdict="accepted", new_version="2.0.0"),
        signed=(sign(demo_private_key("alice"), message), demo_public_key("alice")),
    )  # fmt: skip
    ledger.publish(run=run, stage="kpi-finance", kpis={"revenue_daily": 10.5}, fingerprint="f")
    ledger.finish_run(run=run, status="published")
    yield path
    close_ledgers()
    get_settings.cache_clear()


def chain() -> dict:
    with get_ledger().session() as session:
        return kpi_chain(session, kpi="revenue_daily", partition=PARTITION).to_json()


def edit(path: Path, sql: str, *args) -> None:
    close_ledgers()
    with sqlite3.connect(path) as conn:
        conn.execute(sql, args)


def test_an_untouched_chain_verifies(ledger_file: Path) -> None:
    found = chain()
    assert found["verified"] is True
    [entry] = found["entries"]
    [decision] = entry["chain"]["runs"][0]["gate_checks"][0]["decisions"]
    assert decision["signature"]["verified"] is True


def test_a_row_rewritten_with_a_fresh_hash_is_caught_by_the_row_after_it(
    ledger_file: Path,
) -> None:
    # the forger edits the decision and recomputes its hash: only the chain's next link shows it
    with get_ledger().session() as session:
        decision = session.get(Decision, 5)
        decision.approver = "mallory"
        forged = row_hash(decision)
    edit(
        ledger_file,
        "UPDATE governance_decision SET approver = 'mallory', hash = ? WHERE id = 5",
        forged,
    )
    found = chain()
    assert found["verified"] is False
    assert found["problem"] == {
        "row_id": 5,
        "table": "governance_decision",
        "text": "row 5 in governance_decision was rewritten: row 6 (decision_signature) follows "
        "a row with another hash",
    }


def test_a_deleted_row_is_named_by_its_neighbour(ledger_file: Path) -> None:
    edit(ledger_file, "DELETE FROM stage_attempt WHERE id = 2")  # the failed attempt, hidden
    found = chain()
    assert found["verified"] is False
    assert (found["problem"]["row_id"], found["problem"]["table"]) == (1, "pipeline_run")
    assert found["problem"]["text"] == "row 2 after row 1 in pipeline_run is missing (deleted?)"


def test_a_signature_that_no_longer_verifies_is_named(ledger_file: Path) -> None:
    # a signature replaced (and the row re-hashed, the chain re-linked: a consistent rewrite)
    other = sign(demo_private_key("alice"), b"something else")
    with get_ledger().session() as session:
        from barecount.ledger.evidence_models import DecisionSignature

        rows = [session.get(DecisionSignature, 6)]
        rows[0].signature = other
        new_hash = row_hash(rows[0])
    edit(
        ledger_file,
        "UPDATE decision_signature SET signature = ?, hash = ? WHERE id = 6",
        other,
        new_hash,
    )
    edit(ledger_file, "UPDATE publication SET prev_hash = ? WHERE id = 7", new_hash)
    with get_ledger().session() as session:
        from barecount.ledger.models import Publication

        publication = session.get(Publication, 7)
        relinked = row_hash(publication)
    edit(ledger_file, "UPDATE publication SET hash = ? WHERE id = 7", relinked)
    edit(ledger_file, "UPDATE kpi_version SET prev_hash = ? WHERE id = 8", relinked)
    with get_ledger().session() as session:
        from barecount.ledger.models import KpiVersion

        version = session.get(KpiVersion, 8)
        rehashed = row_hash(version)
    edit(ledger_file, "UPDATE kpi_version SET hash = ? WHERE id = 8", rehashed)
    edit(ledger_file, "UPDATE run_summary SET prev_hash = ? WHERE id = 9", rehashed)
    with get_ledger().session() as session:
        from barecount.ledger.models import RunSummary

        summary = session.get(RunSummary, 9)
        last = row_hash(summary)
    edit(ledger_file, "UPDATE run_summary SET hash = ? WHERE id = 9", last)
    edit(ledger_file, "UPDATE ledger_head SET last_hash = ?", last)
    found = chain()
    assert found["problem"]["table"] == "decision_signature"
    assert found["problem"]["text"].startswith(
        "row 6 in decision_signature: the signature of decision row 5 by 'alice' does not "
        "verify with the key it was accepted with (sha256:"
    )


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((), 2, "error: name a KPI with --partition, or give --token T (not both)"),
        (("revenue_daily",), 2, "error: which partition of revenue_daily? add --partition, e.g. "
         "--partition 2026-11-26"),
        (("rev[bold]x", "-p", PARTITION), 2, "error: Invalid value for 'kpi': 'rev[bold]x' is "
         "not a KPI name; KPI names are letters, digits, '_', '.' and '-', e.g. revenue_daily"),
        (("dso_days", "-p", "2026-11-21"), 1, "error: no pipeline published 'dso_days' for "
         "partition '2026-11-21'; 'barecount runs' lists runs, 'barecount ledger show --token T' "
         "what a run published"),
        (("--token", "rt-unknown"), 1, "error: unknown run token 'rt-unknown': the ledger has no "
         "run under it; 'barecount runs' lists recent runs and their tokens"),
    ],
)  # fmt: skip
def test_bad_questions_get_one_line(capsys, ledger_file: Path, args, code, message) -> None:
    found, out, err = run_cli(capsys, "evidence", *args)
    assert found == code, out + err
    assert " ".join(err.split()).startswith(message), err
    assert "Traceback" not in err


def test_lineage_export_since_checks_its_argument(capsys, ledger_file: Path, tmp_path) -> None:
    code, _, err = run_cli(capsys, "lineage", "export", "--since", "yesterday")
    assert code == 2
    assert " ".join(err.split()) == (
        "error: --since 'yesterday' is not a date, a date-time or an age; write e.g. 2026-11-01, "
        "2026-11-01T06:00:00+01:00, 24h or 7d"
    )
    target = tmp_path / "events.jsonl"
    code, _, err = run_cli(capsys, "lineage", "export", "--since", "1d", "-o", str(target))
    assert code == 0, err
    assert f"exported 5 event(s) of 1 run(s) to {target}" in " ".join(err.split())
    events = [json.loads(line) for line in target.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "FAIL", "START", "COMPLETE", "OTHER"]


def test_history_shows_the_restatement_and_what_it_superseded(ledger_file: Path) -> None:
    from barecount.ledger.publish import Restatement

    ledger = get_ledger()
    run = ledger.start_run(token="rt-2", pipeline="finance-kpi", partition=PARTITION,
                           manifest_digest="d2", contract_versions={"invoices": "2.0.0"},
                           trigger="cli", flow_run_id="flow-2")  # fmt: skip
    why = Restatement(reason="late credit notes", requested_by="carol")
    ledger.publish(run=run, stage="kpi-finance", kpis={"revenue_daily": 9.5}, fingerprint="g",
                   restatement=why)  # fmt: skip
    with ledger.session() as session:
        found = kpi_chain(session, kpi="revenue_daily", partition=PARTITION, history=True)
    entries = found.to_json()["entries"]
    assert [(e["value"], e["version"]["version"], e["version"]["in_force"]) for e in entries] == [
        (9.5, 2, True),
        (10.5, 1, False),
    ]
    restated = entries[0]["publication"]["restatement"]
    assert restated == {
        "reason": "late credit notes",
        "requested_by": "carol",
        "supersedes": entries[1]["version"]["row_id"],
    }
    with ledger.session() as session:
        current = kpi_chain(session, kpi="revenue_daily", partition=PARTITION).to_json()
    assert [e["publication"]["token"] for e in current["entries"]] == ["rt-2"]  # in force only
