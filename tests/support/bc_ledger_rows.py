"""Ledger rows written through the real Ledger API, for the ledger's integrity tests.

Kept to the API that the ledger had before migrations too (commit 76a9e5f), so the migration
test runs ``write_rows`` with that old code in a subprocess, and the tamper and independent
verifier tests with today's. The values cover every kind the hash encoding knows: nulls,
booleans, floats that are not short in binary, whole-second datetimes, JSON lists and
objects, non-ASCII text.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # whole seconds: ".000000" must be hashed


def write_run(ledger, token: str, partition: str, value: float, *, pipeline: str = "kpi-a"):
    """One run: started, a failed and a completed attempt, two KPIs published (a publication
    and a version each), finished: 8 rows."""
    from barecount.ledger.models import StageAttempt

    run = ledger.start_run(
        token=token,
        pipeline=pipeline,
        partition=partition,
        manifest_digest="sha256:" + "ab" * 32,
        contract_versions={"invoices": "1.0.0", "fx": "2.1.0"},
        trigger="schedule",
        flow_run_id=None,
    )
    for attempt, state in ((1, "failed"), (2, "completed")):
        ledger.record_attempt(
            attempt=StageAttempt(
                run_id=run.id,
                token=token,
                stage="kpi",
                attempt=attempt,
                state=state,
                started_at=START + timedelta(minutes=attempt),
                ended_at=START + timedelta(minutes=attempt, microseconds=1500),
                error_class="TimeoutError" if state == "failed" else None,
                error_message="warehouse slow — retrying" if state == "failed" else None,
                transient=state == "failed",
                output_fingerprint=None if state == "failed" else "sha256:" + "cd" * 32,
                rows=None if state == "failed" else 3,
                lineage={"inputs": ["gdp.invoices", 0.1 + 0.2, None, True], "ran_on": "h:1"},
            )
        )
    ledger.publish(
        run=run,
        stage="kpi",
        kpis={"revenue_daily": value, "orders_daily": 3.0},
        fingerprint="sha256:" + "cd" * 32,
    )
    ledger.finish_run(
        run=run,
        status="published",
        detail="ok, café ✓",
        kpis={"revenue_daily": value, "orders_daily": 3.0},
        stages={"kpi": "completed"},
    )
    return run


def write_governance(ledger, token: str) -> None:
    """A contract version and a gate check of it (2 rows)."""
    from barecount.governance.registry import NewVersion
    from barecount.ledger.models import GateCheck

    columns = [{"name": "id", "type": "integer", "required": True}]
    version = NewVersion(
        contract="invoices",
        version="1.0.0",
        fingerprint="sha256:" + "ef" * 32,
        object_name="invoices",
        columns=columns,
        source="manifest",
        document={"id": "invoices", "version": "1.0.0", "schema": [{"properties": columns}]},
    )
    ledger.register_contract_version(version=version)
    ledger.record_check(
        check=GateCheck(
            run_id=1,
            token=token,
            pipeline="kpi-a",
            partition="2026-11-01",
            stage="ingest",
            contract="invoices",
            contract_version="1.0.0",
            schema_fingerprint="sha256:" + "ef" * 32,
            extracted=columns,
            outcome="pass",
            classification="none",
            diff=[],
        )
    )


def write_rows(ledger, runs: int = 3, *, prefix: str = "t", pipeline: str = "kpi-a") -> int:
    """``runs`` runs and the governance rows; returns how many rows were written."""
    for n in range(runs):
        partition = f"2026-11-{n + 1:02d}"
        write_run(ledger, f"{prefix}-{n}", partition, 1234.5 + n / 10, pipeline=pipeline)
    write_governance(ledger, f"{prefix}-0")
    return runs * 8 + 2


@contextmanager
def lane_held(url: str, lane: int):
    """Hold lane ``lane``'s head locked from another connection (PostgreSQL), as a
    concurrent writer would: this process's appends then take another lane."""
    import psycopg2

    conn = psycopg2.connect(dsn(url))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM ledger_head WHERE id = %s FOR UPDATE", (lane,))
            assert cur.fetchone() == (lane,), f"lane {lane} has no head"
        yield
    finally:
        conn.rollback()
        conn.close()


def spread_ledger(url: str, runs: int = 5):
    """Today's Ledger at ``url`` with ``runs`` runs and the governance rows. On PostgreSQL
    (4 lanes) they spread over two lanes: the middle runs are written while another
    connection holds this process's own lane. Returns (ledger, lanes used)."""
    import os

    from barecount.ledger import Ledger

    ledger = Ledger(url, lanes=4)
    own = os.getpid() % 4 + 1
    postgres = url.startswith("postgresql")
    for n in range(runs):
        held = lane_held(url, own) if postgres and 0 < n < runs - 1 else nullcontext()
        with held:
            write_run(ledger, f"t-{n}", f"2026-11-{n + 1:02d}", 1234.5 + n / 10)
    write_governance(ledger, "t-0")
    lanes = [own, own % 4 + 1] if postgres else [1]
    return ledger, lanes


def dsn(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg2 takes it."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)
