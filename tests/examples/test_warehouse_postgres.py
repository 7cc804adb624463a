"""The finance example with its warehouse on PostgreSQL: the same KPIs as on SQLite, through
the real runtime, and the password in BARECOUNT_WAREHOUSE_URL never shown anywhere."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from bc_testkit import spawn_run

from barecount.runtime.flows import governed_pipeline
from barecount.runtime.warehouse import dispose_warehouse_engines
from barecount.settings import get_settings

PARTITIONS = ("2026-10-05", "2026-10-06", "2026-10-07")
# The test server trusts 127.0.0.1, so it ignores this password; it must still never show.
PASSWORD = "wh-S3cret-9f41"
PG_ADMIN = os.environ.get("BARECOUNT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
LIVE_ROW_VERSIONS = (
    "SELECT 'kpi', xmin::text, kpi || partition || value FROM kpi_values UNION ALL"
    " SELECT 'gdp', xmin::text, invoice_id FROM gdp_invoices UNION ALL"
    " SELECT 'raw', xmin::text, CAST(line_no AS TEXT) FROM raw_invoices"
)
SCRATCH_SCHEMAS = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'barecount_verify_%'"

pytestmark = pytest.mark.postgres  # the `home` fixture brings the session's Prefect server


@pytest.fixture
def pg_warehouse(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database (created via the `postgres` db, dropped after), as a
    psycopg 3 URL with a password."""
    import psycopg
    from sqlalchemy.engine import make_url

    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server answers at {PG_ADMIN}: {str(exc).strip()}")
    database = make_url(request.getfixturevalue("postgres_url"))  # conftest drops it after
    url = database.set(drivername="postgresql+psycopg", password=PASSWORD)
    yield url.render_as_string(hide_password=False)
    dispose_warehouse_engines()  # before conftest drops the database


def pg_rows(url: str, sql: str) -> list[tuple]:
    import psycopg
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    with psycopg.connect(
        host=parts.host, port=parts.port, user=parts.username, dbname=parts.database
    ) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def sqlite_rows(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def use_state(monkeypatch: pytest.MonkeyPatch, state: Path, warehouse_url: str | None) -> None:
    """Own landing, ledger, results cache and warehouse under ``state`` for what runs next."""
    monkeypatch.setenv("BARECOUNT_WAREHOUSE", str(state / "warehouse.db"))
    monkeypatch.setenv("BARECOUNT_LANDING", str(state / "landing"))
    monkeypatch.setenv("BARECOUNT_LEDGER_URL", f"sqlite:///{state / 'ledger.db'}")
    monkeypatch.setenv("BARECOUNT_RESULTS", str(state / "results"))
    if warehouse_url is None:
        monkeypatch.delenv("BARECOUNT_WAREHOUSE_URL", raising=False)
    else:
        monkeypatch.setenv("BARECOUNT_WAREHOUSE_URL", warehouse_url)
    get_settings.cache_clear()


def run_finance(manifests: Path) -> dict[str, dict]:
    return {
        partition: governed_pipeline(
            pipeline="finance-kpi", partition=partition, manifests=str(manifests)
        )
        for partition in PARTITIONS
    }


KPI_ROWS = "SELECT pipeline, kpi, partition, value, token FROM kpi_values"
GDP_ROWS = (
    "SELECT partition, invoice_id, customer_id, amount, currency, amount_eur, issue_date,"
    " due_date, paid_date, source_file, line_no FROM gdp_invoices"
)


def test_finance_kpis_on_postgresql_equal_those_on_sqlite_for_three_partitions(
    home: Path, manifests: Path, tmp_path: Path, monkeypatch, pg_warehouse: str
) -> None:
    use_state(monkeypatch, tmp_path / "on-sqlite", None)
    on_sqlite = run_finance(manifests)
    use_state(monkeypatch, tmp_path / "on-postgres", pg_warehouse)
    on_postgres = run_finance(manifests)

    for partition in PARTITIONS:
        sqlite_run, pg_run = on_sqlite[partition], on_postgres[partition]
        assert pg_run["status"] == sqlite_run["status"] == "published"
        assert pg_run["kpis"] == sqlite_run["kpis"]
        assert pg_run["kpis"]["revenue_daily"] > 0 and pg_run["kpis"]["overdue_ratio"] > 0
        assert pg_run["token"] == sqlite_run["token"]
        # the same rows at every stage: the output fingerprints agree
        fingerprints = {name: stage["fingerprint"] for name, stage in pg_run["stages"].items()}
        assert fingerprints == {
            name: stage["fingerprint"] for name, stage in sqlite_run["stages"].items()
        }
    kpis_sqlite = sqlite_rows(tmp_path / "on-sqlite" / "warehouse.db", KPI_ROWS)
    kpis_pg = pg_rows(pg_warehouse, KPI_ROWS)
    assert len(kpis_pg) == 3 * len(PARTITIONS)
    assert sorted(kpis_pg) == sorted(kpis_sqlite)
    cents = {(kpi, day): round(value * 100) for _, kpi, day, value, _ in kpis_pg}
    assert cents == {(kpi, day): round(value * 100) for _, kpi, day, value, _ in kpis_sqlite}
    gdp_pg = pg_rows(pg_warehouse, GDP_ROWS)
    assert len(gdp_pg) == 2000 * len(PARTITIONS)
    assert sorted(gdp_pg) == sorted(sqlite_rows(tmp_path / "on-sqlite" / "warehouse.db", GDP_ROWS))
    # the PostgreSQL run wrote to PostgreSQL only
    assert not (tmp_path / "on-postgres" / "warehouse.db").exists()


def test_replay_verify_recomputes_a_postgresql_partition_in_a_scratch_schema(
    capsys, home: Path, manifests: Path, monkeypatch, pg_warehouse: str
) -> None:
    from barecount.cli.main import main

    monkeypatch.setenv("BARECOUNT_WAREHOUSE_URL", pg_warehouse)
    get_settings.cache_clear()
    run = governed_pipeline(
        pipeline="finance-kpi", partition=PARTITIONS[0], manifests=str(manifests)
    )
    # xmin is the transaction that wrote a row version: a rewrite of the same values shows
    before = pg_rows(pg_warehouse, f"{LIVE_ROW_VERSIONS} ORDER BY 1, 2")
    capsys.readouterr()

    code = main(["replay", run["token"], "--verify", "-m", str(manifests)])

    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count(": same (recorded") == 3
    assert pg_rows(pg_warehouse, f"{LIVE_ROW_VERSIONS} ORDER BY 1, 2") == before
    assert pg_rows(pg_warehouse, SCRATCH_SCHEMAS) == []  # the scratch copy is gone


def ledger_text(state: Path) -> str:
    """Everything the SQLite ledger holds, as SQL text (rows, WAL included)."""
    with closing(sqlite3.connect(state / "ledger.db")) as conn:
        return "\n".join(conn.iterdump())


def prefect_text(flow_run_id: str) -> str:
    """The flow run, its task runs, logs and artifacts as the Prefect API returns them."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    with get_client(sync_client=True) as client:
        parts = [
            client.read_flow_run(flow_run_id),
            *client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            ),
            *client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))),
            *client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
                )
            ),
        ]
    return "\n".join(part.model_dump_json() for part in parts)


def test_warehouse_password_never_shows_in_run_output_prefect_or_ledger(
    home: Path, manifests: Path, monkeypatch, pg_warehouse: str
) -> None:
    monkeypatch.setenv("BARECOUNT_WAREHOUSE_URL", pg_warehouse)
    get_settings.cache_clear()

    process = spawn_run(manifests, "2026-10-12", "finance-kpi", "--json")
    out, err = process.communicate(timeout=240)

    assert process.returncode == 0, err
    summary = json.loads(out)
    assert summary["status"] == "published"
    assert len(pg_rows(pg_warehouse, KPI_ROWS)) == 3  # it did write to PostgreSQL
    assert PASSWORD not in out + err
    assert PASSWORD not in ledger_text(home)
    assert "2026-10-12" in prefect_text(summary["flow_run_id"])
    assert PASSWORD not in prefect_text(summary["flow_run_id"])
    for path in (home / "results").rglob("*"):
        assert not path.is_file() or PASSWORD.encode() not in path.read_bytes(), path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_warehouse_fails_the_run_naming_it_without_the_password(
    home: Path, manifests: Path, monkeypatch
) -> None:
    pipeline = manifests / "pipelines" / "finance-kpi.yaml"
    pipeline.write_text(pipeline.read_text().replace("retries: {max: 3,", "retries: {max: 0,"))
    url = f"postgresql+psycopg://bc:{PASSWORD}@127.0.0.1:{free_port()}/warehouse"
    monkeypatch.setenv("BARECOUNT_WAREHOUSE_URL", url)
    get_settings.cache_clear()

    process = spawn_run(manifests, "2026-10-13")
    out, err = process.communicate(timeout=240)

    assert process.returncode != 0
    shown = url.replace(PASSWORD, "***")
    assert f"cannot connect to the warehouse at {shown}" in out + err
    assert PASSWORD not in out + err
    assert f"cannot connect to the warehouse at {shown}" in ledger_text(home)
    assert PASSWORD not in ledger_text(home)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("pg_warehouse")


def test_stage_context_offers_engine_connection_and_raw_dbapi_connection(
    any_warehouse: str, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from barecount import StageContext, fingerprint_query, fingerprint_rows

    def context() -> StageContext:
        return StageContext(
            pipeline="p",
            stage="s",
            partition=PARTITIONS[0],
            token="t",
            warehouse_url=any_warehouse,
            landing=tmp_path / "landing",
        )

    ctx = context()
    sqlite = ctx.warehouse_url.get_backend_name() == "sqlite"
    assert ctx.engine is context().engine  # one engine per URL per process
    assert ctx.warehouse == (tmp_path / "warehouse.db" if sqlite else None)
    assert PASSWORD not in repr(ctx) + str(ctx.warehouse_url)
    with ctx.connection() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        conn.execute(text("INSERT INTO t (n) VALUES (:n)"), [{"n": 1}, {"n": 2}])
    with pytest.raises(ZeroDivisionError), ctx.connection() as conn:
        conn.execute(text("INSERT INTO t (n) VALUES (3)"))
        _ = 1 / 0  # rolled back
    with ctx.connect() as raw:
        assert type(raw).__module__.split(".")[0] == ("sqlite3" if sqlite else "psycopg")
        raw.cursor().execute(f"INSERT INTO t (n) VALUES ({'?' if sqlite else '%s'})", (4,))
    with pytest.raises(RuntimeError), ctx.connect() as raw:
        raw.cursor().execute("INSERT INTO t (n) VALUES (5)")
        raise RuntimeError("rolled back")

    expected = fingerprint_rows([(1,), (2,), (4,)])
    with ctx.connection() as conn:
        top = {"top": 9}
        assert fingerprint_query(conn, "SELECT n FROM t WHERE n < :top ORDER BY n", top) == expected
        assert fingerprint_query(conn, "SELECT n FROM t ORDER BY n") == expected
    with ctx.connect() as raw:
        assert fingerprint_query(raw, "SELECT n FROM t ORDER BY n") == expected
