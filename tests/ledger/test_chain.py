"""The hash chain: appends in order, and 'verify' names the first row someone changed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from barecount.errors import LedgerUnavailableError
from barecount.ledger import ledger_at
from barecount.ledger.chain import GENESIS
from barecount.ledger.store import evidence, finish_run, start_run
from barecount.ledger.verify import place, verify


def add_run(url: str, token: str = "t-1", partition: str = "2026-11-26"):
    with ledger_at(url).session() as session:
        run = start_run(
            session=session,
            token=token,
            pipeline="finance-kpi",
            partition=partition,
            manifest_digest="sha256:abc",
            contract_versions={"invoices": "1.0.0"},
            trigger="test",
            flow_run_id=None,
        )
        finish_run(session=session, run=run, status="published", kpis={"revenue_daily": 12.5})
    return run


def test_rows_are_chained_in_order(ledger_url: str) -> None:
    first = add_run(ledger_url, "t-1")
    second = add_run(ledger_url, "t-2")
    assert (first.id, second.id) == (1, 3)
    assert first.prev_hash == GENESIS
    with ledger_at(ledger_url).session() as session:
        result = verify(session)
        found = evidence(session=session, token="t-2")
    assert result.ok and result.rows == 4
    assert found.runs[0].prev_hash == first_summary_hash(ledger_url)
    assert found.summaries[0].prev_hash == found.runs[0].hash


def first_summary_hash(url: str) -> str:
    with ledger_at(url).engine.connect() as conn:
        return conn.execute(text("SELECT hash FROM run_summary WHERE id = 2")).scalar_one()


def test_verify_names_a_row_edited_by_sql(ledger_url: str) -> None:
    for i in range(3):
        add_run(ledger_url, f"t-{i}")
    with ledger_at(ledger_url).engine.begin() as conn:
        conn.execute(text("UPDATE run_summary SET kpis = '{\"revenue_daily\": 99.0}' WHERE id = 4"))
    with ledger_at(ledger_url).session() as session:
        result = verify(session)
    assert not result.ok
    assert result.row_id == 4
    assert result.problem.startswith("row 4 in run_summary")  # (lane L position 4) on PostgreSQL
    assert result.problem.endswith(
        "was changed after it was written: its content does not match its hash"
    )


def test_verify_names_a_deleted_row(ledger_url: str) -> None:
    for i in range(3):
        add_run(ledger_url, f"t-{i}")
    with ledger_at(ledger_url).engine.begin() as conn:
        conn.execute(text("DELETE FROM pipeline_run WHERE id = 3"))
    with ledger_at(ledger_url).session() as session:
        result = verify(session)
    assert (result.seq, result.table) == (3, "run_summary")
    assert result.problem.startswith(f"{place(result.lane, 3)} is missing (deleted?)")


def test_verify_notices_rows_cut_from_the_end(ledger_url: str) -> None:
    add_run(ledger_url)
    with ledger_at(ledger_url).engine.begin() as conn:
        conn.execute(text("DELETE FROM run_summary WHERE id = 2"))
    with ledger_at(ledger_url).session() as session:
        result = verify(session)
    assert result.problem == (
        f"the chain ends at {place(result.lane, 1)} but {place(result.lane, 2)} was written "
        "(rows deleted from the end?)"
    )


def test_unknown_token_is_a_clear_error(ledger_url: str) -> None:
    add_run(ledger_url)
    with ledger_at(ledger_url).session() as session, pytest.raises(LookupError) as info:
        evidence(session=session, token="nope")
    assert str(info.value) == (
        "unknown run token 'nope': the ledger has no run under it; 'barecount runs' lists "
        "recent runs and their tokens"
    )


def test_database_that_is_down_is_a_clear_error() -> None:
    url = "postgresql+psycopg2://bc:secret-pw@127.0.0.1:9/ledger"
    with pytest.raises(LedgerUnavailableError) as info:
        ledger_at(url).ping()
    message = str(info.value)
    assert message.startswith("cannot open the ledger at postgresql+psycopg2://bc:***@127.0.0.1:9")
    assert "secret-pw" not in message
