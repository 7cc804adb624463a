"""'ledger verify' names the row, table and column of a malformed cell (issue 13, item 11).

SQLite keeps whatever is written into any column: text where a date, an integer, a boolean
or JSON belongs. The audit wrote 'garbage' into such cells with raw sqlite3 and verify
crashed while loading the row; now the real CLI says which row holds what, and exits 1.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bc_testkit import spawn_cli

from barecount.ledger import ledger_at
from barecount.ledger.models import StageAttempt
from barecount.ledger.store import finish_run, record_attempt, start_run
from barecount.ledger.verify import verify

# rows 1-3: run, attempt, summary of t-1; rows 4-6: the same of t-2
CASES = [
    ("stage_attempt", 5, "started_at", "'garbage'", "'garbage' is not a date and time"),
    (
        "stage_attempt",
        5,
        "ended_at",
        "'2026-02-30 00:00:00'",
        "'2026-02-30 00:00:00' is not a date and time",
    ),
    ("stage_attempt", 5, "attempt", "'garbage'", "'garbage' is not an integer"),
    ("stage_attempt", 5, "lineage", "'garbage'", "'garbage' is not JSON"),
    ("stage_attempt", 5, "transient", "'garbage'", "'garbage' is not a boolean (0 or 1)"),
    ("stage_attempt", 5, "error_message", "x'00ff'", "b'\\x00\\xff' is not text"),
    ("pipeline_run", 4, "recorded_at", "'garbage'", "'garbage' is not a date and time"),
    ("run_summary", 6, "kpis", "'{\"revenue_daily\": '", "'{\"revenue_daily\": ' is not JSON"),
]


@pytest.fixture
def ledger_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite ledger with two runs of one attempt each; BARECOUNT_LEDGER_URL names it."""
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    for token in ("t-1", "t-2"):
        with ledger_at(url).session() as session:
            run = start_run(
                session=session,
                token=token,
                pipeline="finance-kpi",
                partition="2026-11-26",
                manifest_digest="sha256:abc",
                contract_versions={"invoices": "1.0.0"},
                trigger="test",
                flow_run_id=None,
            )
            now = datetime.now(UTC)
            record_attempt(
                session=session,
                attempt=StageAttempt(
                    run_id=run.id,
                    token=token,
                    stage="ingest-invoices",
                    attempt=1,
                    state="failed",
                    started_at=now,
                    ended_at=now,
                    error_class="TransientError",
                    error_message="source busy",
                    transient=True,
                    lineage={"token": token},
                ),
            )
            finish_run(session=session, run=run, status="failed", kpis={"revenue_daily": 1.0})
    monkeypatch.setenv("BARECOUNT_LEDGER_URL", url)
    return path


def write_raw(path: Path, sql: str) -> None:
    with sqlite3.connect(path) as conn:  # what anyone with the file can do
        conn.execute(sql)


def ledger_verify(*extra: str) -> tuple[int, str, str]:
    process = spawn_cli("ledger", "verify", *extra)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_an_untouched_ledger_verifies(ledger_file: Path) -> None:
    code, out, err = ledger_verify()
    assert (code, out.strip(), err) == (0, "ledger verified: 6 rows, chain intact", "")


@pytest.mark.parametrize(("table", "row", "column", "value", "problem"), CASES)
def test_a_malformed_cell_is_named_with_its_row_table_and_column(
    ledger_file: Path, table: str, row: int, column: str, value: str, problem: str
) -> None:
    write_raw(ledger_file, f"UPDATE {table} SET {column} = {value} WHERE id = {row}")

    code, out, err = ledger_verify()
    assert "Traceback" not in out + err, err
    assert code == 1, out + err
    assert err == ""
    [line] = out.splitlines()
    assert line == (
        f"ledger NOT verified: row {row} in {table} has a malformed {column}: {problem}; it "
        "was changed after it was written"
    )

    code, out, _ = ledger_verify("--json")
    found = json.loads(out)
    assert code == 1
    assert (found["ok"], found["row_id"], found["table"], found["rows"]) == (
        False,
        row,
        table,
        row - 1,
    )
    assert f"malformed {column}" in found["problem"]


def test_the_first_problem_in_chain_order_wins(ledger_file: Path) -> None:
    write_raw(ledger_file, "UPDATE stage_attempt SET started_at = 'garbage' WHERE id = 5")
    write_raw(ledger_file, "UPDATE stage_attempt SET stage = 'edited' WHERE id = 2")
    with ledger_at(f"sqlite:///{ledger_file}").session() as session:
        result = verify(session)
    assert (result.row_id, result.table, result.rows) == (2, "stage_attempt", 1)
    assert result.problem == (
        "row 2 in stage_attempt was changed after it was written: its content does not match "
        "its hash"
    )


def test_a_row_missing_before_a_malformed_one_is_named_first(ledger_file: Path) -> None:
    write_raw(ledger_file, "UPDATE stage_attempt SET started_at = 'garbage' WHERE id = 5")
    write_raw(ledger_file, "DELETE FROM pipeline_run WHERE id = 4")
    with ledger_at(f"sqlite:///{ledger_file}").session() as session:
        result = verify(session)
    assert (result.row_id, result.rows) == (4, 3)
    assert result.problem == (
        "row 4 is missing (deleted?); the chain jumps to row 5 in stage_attempt"
    )
