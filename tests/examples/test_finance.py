"""The finance KPI example on real CSV extracts and a real SQLite warehouse."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from open_data_contract_standard.model import OpenDataContractStandard

from barecount.errors import PartitionError, TerminalError, TransientError
from barecount.examples.finance import (
    build_invoice_gdp,
    extract_path,
    ingest_invoices,
    materialize_kpis,
    write_extract,
)
from barecount.runtime.stage import StageContext, StageResult

DAY = "2026-11-26"
SOURCE = "erp.invoices"
CONTRACT = Path(__file__).resolve().parents[2] / "manifests" / "contracts" / "invoices.yaml"
# Written out again rather than imported: the test must not share the code it checks.
RATES = {
    "EUR": Decimal("1"),
    "USD": Decimal("0.92"),
    "GBP": Decimal("1.17"),
    "CHF": Decimal("1.05"),
}


def make_ctx(tmp_path: Path, stage: str, partition: str = DAY, **params) -> StageContext:
    return StageContext(
        pipeline="finance-kpi",
        stage=stage,
        partition=partition,
        token="t1",
        params=params,
        warehouse=tmp_path / "w.db",
        landing=tmp_path / "landing",
    )


def run_pipeline(tmp_path: Path, partition: str = DAY) -> tuple[StageResult, ...]:
    return (
        ingest_invoices(make_ctx(tmp_path, "ingest-invoices", partition)),
        build_invoice_gdp(make_ctx(tmp_path, "gdp-invoices", partition)),
        materialize_kpis(make_ctx(tmp_path, "kpi-finance", partition)),
    )


def query(tmp_path: Path, sql: str, *params) -> list[tuple]:
    with closing(sqlite3.connect(tmp_path / "w.db")) as conn:
        return conn.execute(sql, params).fetchall()


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def latest_versions(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Per invoice the version with the latest paid date; the last line among equals."""
    best: dict[str, tuple[tuple, dict[str, str]]] = {}
    for line, row in enumerate(rows):
        rank = (row["paid_date"] != "", row["paid_date"], line)
        if row["invoice_id"] not in best or rank > best[row["invoice_id"]][0]:
            best[row["invoice_id"]] = (rank, row)
    return {invoice: row for invoice, (_, row) in best.items()}


def half_up(value: Fraction, places: int) -> float:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def expected_kpis(path: Path, day: str) -> dict[str, float]:
    invoices = list(latest_versions(read_rows(path)).values())
    today = date.fromisoformat(day)
    revenue = sum(
        (Decimal(row["amount"]) * RATES[row["currency"]]).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        for row in invoices
        if row["issue_date"] == day
    )
    outstanding = [
        (
            (date.fromisoformat(row["paid_date"]) if row["paid_date"] else today)
            - date.fromisoformat(row["issue_date"])
        ).days
        for row in invoices
    ]
    overdue = sum(1 for row in invoices if not row["paid_date"] and row["due_date"] < day)
    return {
        "revenue_daily": float(revenue),
        "dso_days": half_up(Fraction(sum(outstanding), len(invoices)), 2),
        "overdue_ratio": half_up(Fraction(overdue, len(invoices)), 4),
    }


def test_generator_gives_identical_bytes_for_a_partition_and_differs_across_partitions(tmp_path):
    first = write_extract(tmp_path / "a", SOURCE, DAY).read_bytes()
    again = write_extract(tmp_path / "b", SOURCE, DAY).read_bytes()
    other = write_extract(tmp_path / "c", SOURCE, "2026-11-27").read_bytes()

    assert first == again
    assert first != other
    assert list((tmp_path / "a" / SOURCE).iterdir()) == [extract_path(tmp_path / "a", SOURCE, DAY)]


def test_generator_does_not_depend_on_the_interpreter_hash_seed(tmp_path):
    script = (
        "import sys; from pathlib import Path;"
        " from barecount.examples.finance import write_extract;"
        f" write_extract(Path(sys.argv[1]), {SOURCE!r}, {DAY!r}, 500, drift='add-column')"
    )
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(tmp_path / seed)], env=env, check=True)

    one, two = (extract_path(tmp_path / s, SOURCE, DAY).read_bytes() for s in ("1", "2"))
    assert (
        one
        == two
        == write_extract(tmp_path / "3", SOURCE, DAY, 500, drift="add-column").read_bytes()
    )


def test_generator_writes_a_realistically_messy_export(tmp_path):
    rows = read_rows(write_extract(tmp_path, SOURCE, DAY))

    assert list(rows[0]) == [
        "invoice_id", "customer_id", "amount", "currency",
        "issue_date", "due_date", "paid_date",
    ]  # fmt: skip
    ids = Counter(row["invoice_id"] for row in rows)
    assert len(ids) == 2000
    assert 10 <= len(rows) - 2000 <= 40  # a few re-exported invoices
    assert {row["currency"] for row in rows} == set(RATES)
    assert all(len(row["amount"].split(".")[1]) == 2 for row in rows)
    assert 0.7 < sum(row["issue_date"] == DAY for row in rows) / len(rows) < 0.9
    assert 0.2 < sum(row["paid_date"] == "" for row in rows) / len(rows) < 0.3
    assert all(row["issue_date"] <= row["paid_date"] <= DAY for row in rows if row["paid_date"])
    terms = {
        (date.fromisoformat(row["due_date"]) - date.fromisoformat(row["issue_date"])).days
        for row in rows
    }
    assert terms == {14, 30, 60}


@pytest.mark.parametrize("key", ["2026-13-01", "20261126", "2026-11-26T00:00", "", "yesterday"])
def test_bad_partition_key_names_the_expected_form(tmp_path, key):
    with pytest.raises(PartitionError, match=r"expected the form 'YYYY-MM-DD'") as info:
        write_extract(tmp_path, SOURCE, key)
    assert repr(key) in str(info.value)

    with pytest.raises(PartitionError, match="YYYY-MM-DD"):
        ingest_invoices(make_ctx(tmp_path, "ingest-invoices", key))


def test_chained_stages_give_the_kpis_recomputed_from_the_csv(tmp_path):
    ingest, gdp, kpi = run_pipeline(tmp_path)

    expected = expected_kpis(extract_path(tmp_path / "landing", SOURCE, DAY), DAY)
    assert kpi.kpis == expected
    assert expected["overdue_ratio"] > 0 and expected["dso_days"] > 0  # the data exercises them
    assert kpi.tables == {"kpi_values": 3}
    assert ingest.tables == {"raw_invoices": 2020}
    assert gdp.tables == {"gdp_invoices": 2000}
    stored = query(tmp_path, "SELECT kpi, partition, value, token, pipeline FROM kpi_values")
    assert sorted(stored) == sorted((k, DAY, v, "t1", "finance-kpi") for k, v in expected.items())


def test_gdp_collapses_duplicate_invoices_to_their_latest_version(tmp_path):
    run_pipeline(tmp_path)
    rows = read_rows(extract_path(tmp_path / "landing", SOURCE, DAY))
    paid_later = {
        invoice
        for invoice, count in Counter(row["invoice_id"] for row in rows).items()
        if count > 1 and len({row["paid_date"] for row in rows if row["invoice_id"] == invoice}) > 1
    }
    assert paid_later  # the generator re-exports some invoices with news about their payment

    gdp = {
        invoice: paid or ""
        for invoice, paid in query(tmp_path, "SELECT invoice_id, paid_date FROM gdp_invoices")
    }
    assert len(gdp) == len({row["invoice_id"] for row in rows}) < len(rows)
    latest = latest_versions(rows)
    for invoice in paid_later:
        versions = [row["paid_date"] for row in rows if row["invoice_id"] == invoice]
        assert gdp[invoice] == latest[invoice]["paid_date"] == max(versions)


HAND_MADE = """\
invoice_id,customer_id,amount,currency,issue_date,due_date,paid_date
INV-1,C1,10.00,EUR,2026-11-20,2026-12-04,2026-11-25
INV-1,C1,10.00,EUR,2026-11-20,2026-12-04,
INV-2,C2,20.00,USD,2026-11-26,2026-12-10,
INV-2,C2,21.00,USD,2026-11-26,2026-12-10,
INV-3,C3,5.00,CHF,2026-11-01,2026-11-15,2026-11-24
INV-3,C3,5.00,CHF,2026-11-01,2026-11-15,2026-11-22
INV-4,C4,12.50,GBP,2026-11-26,2026-12-10,2026-11-26
INV-5,C5,100.00,EUR,2026-10-20,2026-11-19,
INV-6,C6,7.00,EUR,2026-11-12,2026-11-26,
"""


def test_hand_made_extract_gives_hand_computed_gdp_and_kpis(tmp_path):
    path = extract_path(tmp_path / "landing", SOURCE, DAY)
    path.parent.mkdir(parents=True)
    path.write_text(HAND_MADE)

    _, gdp, kpi = run_pipeline(tmp_path)

    assert query(
        tmp_path,
        "SELECT invoice_id, amount, amount_eur, paid_date, line_no FROM gdp_invoices"
        " ORDER BY invoice_id",
    ) == [
        ("INV-1", 10.0, 10.0, "2026-11-25", 2),  # a paid date beats a later unpaid re-export
        ("INV-2", 21.0, 19.32, None, 5),  # same payment state: the last line wins
        ("INV-3", 5.0, 5.25, "2026-11-24", 6),  # the later paid date wins, wherever it is
        ("INV-4", 12.5, 14.63, "2026-11-26", 8),  # 14.625 rounds half up
        ("INV-5", 100.0, 100.0, None, 9),
        ("INV-6", 7.0, 7.0, None, 10),
    ]
    assert gdp.tables == {"gdp_invoices": 6}
    # Issued on D: 19.32 + 14.63. Days outstanding: 5 + 0 + 23 + 0 + 37 + 14 = 79 over 6.
    # Overdue: only INV-5; INV-6 is due on D, which is not late yet.
    assert kpi.kpis == {"revenue_daily": 33.95, "dso_days": 13.17, "overdue_ratio": 0.1667}


def test_rerunning_a_partition_gives_the_same_fingerprints_and_no_extra_rows(tmp_path):
    first = run_pipeline(tmp_path)
    other = run_pipeline(tmp_path, "2026-11-27")
    counts = {
        table: query(tmp_path, f"SELECT partition, count(*) FROM {table} GROUP BY partition")
        for table in ("raw_invoices", "gdp_invoices", "kpi_values")
    }

    second = run_pipeline(tmp_path)

    assert [r.fingerprint for r in second] == [r.fingerprint for r in first]
    assert [r.tables for r in second] == [r.tables for r in first]
    assert [r.fingerprint for r in other] != [r.fingerprint for r in first]
    for table, before in counts.items():
        after = query(tmp_path, f"SELECT partition, count(*) FROM {table} GROUP BY partition")
        assert after == before, table


def test_fingerprints_do_not_depend_on_where_the_warehouse_lives(tmp_path):
    here = run_pipeline(tmp_path / "one")
    there = run_pipeline(tmp_path / "two")

    assert [r.fingerprint for r in here] == [r.fingerprint for r in there]


def columns(result: StageResult) -> list[tuple[str, str, bool]]:
    return [(c.name, c.logical_type, c.required) for c in result.schema_.columns]


@pytest.mark.parametrize(
    ("drift", "change"),
    [
        ("drop-column", lambda cols: [c for c in cols if c[0] != "due_date"]),
        (
            "rename-column",
            lambda cols: [("client_id", *c[1:]) if c[0] == "customer_id" else c for c in cols],
        ),
        ("add-column", lambda cols: [*cols, ("po_number", "string", False)]),
        (
            "type-change",
            lambda cols: [("amount", "string", True) if c[0] == "amount" else c for c in cols],
        ),
    ],
)
def test_each_drift_changes_the_extracted_schema_as_expected(tmp_path, drift, change):
    clean = ingest_invoices(make_ctx(tmp_path / "clean", "ingest-invoices"))
    write_extract(tmp_path / "landing", SOURCE, DAY, drift=drift)

    drifted = ingest_invoices(make_ctx(tmp_path, "ingest-invoices"))

    assert columns(drifted) == change(columns(clean))
    assert drifted.schema_.fingerprint != clean.schema_.fingerprint
    assert drifted.tables == clean.tables


def test_clean_extract_schema_matches_the_contract(tmp_path):
    contract = OpenDataContractStandard.from_file(str(CONTRACT))
    inferred = ingest_invoices(make_ctx(tmp_path, "ingest-invoices"))

    assert (contract.apiVersion, contract.kind, contract.name) == (
        "v3.0.2",
        "DataContract",
        "invoices",
    )
    (obj,) = contract.schema_
    assert obj.name == inferred.schema_.object
    assert [(p.name, p.logicalType, bool(p.required)) for p in obj.properties] == columns(inferred)
    settings = {p.property: p.value for p in contract.customProperties}
    assert settings == {"barecount.owner": "finance-data", "barecount.autoApprove": "none"}


def test_added_column_is_kept_in_raw_extra_and_the_gdp_is_unchanged(tmp_path):
    clean_gdp = run_pipeline(tmp_path / "clean")[1]
    write_extract(tmp_path / "landing", SOURCE, DAY, drift="add-column")

    _, gdp, _ = run_pipeline(tmp_path)

    extras = [json.loads(e) for (e,) in query(tmp_path, "SELECT extra FROM raw_invoices")]
    assert all(list(e) == ["po_number"] for e in extras)
    assert any(e["po_number"].startswith("PO-") for e in extras)
    assert gdp.fingerprint == clean_gdp.fingerprint


def test_type_change_makes_the_gdp_fail_naming_column_line_and_value(tmp_path):
    good = run_pipeline(tmp_path)[1]
    path = write_extract(tmp_path / "landing", SOURCE, DAY, drift="type-change")
    ingest_invoices(make_ctx(tmp_path, "ingest-invoices"))
    first = read_rows(path)[0]["amount"]

    with pytest.raises(TerminalError) as info:
        build_invoice_gdp(make_ctx(tmp_path, "gdp-invoices"))

    message = str(info.value)
    assert "cannot type raw_invoices of erp.invoices/2026-11-26.csv" in message
    assert f"amount is not a decimal number on 2020 of 2020 rows (line 2: {first!r})" in message
    # The failed stage rolled back: the partition keeps its last good GDP rows.
    assert query(tmp_path, "SELECT count(*) FROM gdp_invoices") == [(good.tables["gdp_invoices"],)]


@pytest.mark.parametrize(
    ("drift", "problem"),
    [
        ("drop-column", "extract has no column due_date; fix the extract"),
    ],
)
def test_missing_column_makes_the_gdp_fail_naming_it(tmp_path, drift, problem):
    write_extract(tmp_path / "landing", SOURCE, DAY, drift=drift)
    ingest_invoices(make_ctx(tmp_path, "ingest-invoices"))

    with pytest.raises(TerminalError) as info:
        build_invoice_gdp(make_ctx(tmp_path, "gdp-invoices"))

    assert "cannot build gdp_invoices for partition 2026-11-26" in str(info.value)
    assert problem in str(info.value)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not UTF-8 text"),
        (b"", "has no header: it is empty"),
        (
            b"INV-1,C00001,10.00,EUR,2026-11-26,2026-12-10,\n",
            "has no header: line 1 must name the columns",
        ),
        (b'{"invoices": []}\n', "has no header"),
        (b"invoice_id,amount\nINV-1,10.00\nINV-2\n", "line 3 has 1 fields, the header has 2"),
        (b"invoice_id,amount,amount\nINV-1,1,2\n", "the header names amount twice"),
        (b'invoice_id,amount\n"INV-1"x,2\n', "is not valid CSV at line 2"),
    ],
)
def test_corrupt_extract_is_terminal_and_names_the_file(tmp_path, content, reason):
    path = extract_path(tmp_path / "landing", SOURCE, DAY)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)

    with pytest.raises(TerminalError) as info:
        ingest_invoices(make_ctx(tmp_path, "ingest-invoices"))

    assert str(path) in str(info.value)
    assert reason in str(info.value)


def test_missing_extract_is_transient_when_generation_is_off(tmp_path):
    ctx = make_ctx(tmp_path, "ingest-invoices", generate_missing=False)

    with pytest.raises(TransientError) as info:
        ingest_invoices(ctx)

    path = extract_path(tmp_path / "landing", SOURCE, DAY)
    assert str(info.value).startswith(f"extract {path} not landed yet")
    assert info.value.transient
    assert not path.exists()


def test_missing_extract_is_generated_by_default_with_the_configured_size(tmp_path):
    result = ingest_invoices(
        make_ctx(tmp_path, "ingest-invoices", source="erp.eu", invoices_per_day=300)
    )

    assert extract_path(tmp_path / "landing", "erp.eu", DAY).exists()
    assert result.tables == {"raw_invoices": 303}
    assert result.metadata == {"source_file": "erp.eu/2026-11-26.csv"}


def test_kpis_param_limits_what_is_computed_and_replaced(tmp_path):
    _, _, everything = run_pipeline(tmp_path)

    only = materialize_kpis(make_ctx(tmp_path, "kpi-finance", kpis=["dso_days"]))

    assert only.kpis == {"dso_days": everything.kpis["dso_days"]}
    assert only.tables == {"kpi_values": 1}
    assert query(tmp_path, "SELECT count(*) FROM kpi_values") == [(3,)]
    with pytest.raises(TerminalError, match=r"unknown KPI\(s\) margin in params\.kpis: known are"):
        materialize_kpis(make_ctx(tmp_path, "kpi-finance", kpis=["dso_days", "margin"]))


def test_gdp_without_customer_column_keeps_kpis(tmp_path):
    """An approved rename of customer_id: the GDP builds, customers unknown, KPIs unchanged."""
    clean_dir = tmp_path / "clean"
    ingest_invoices(make_ctx(clean_dir, "ingest-invoices"))
    build_invoice_gdp(make_ctx(clean_dir, "gdp-invoices"))
    clean = materialize_kpis(make_ctx(clean_dir, "kpi-finance"))

    write_extract(tmp_path / "landing", SOURCE, DAY, drift="rename-column")
    ingest_invoices(make_ctx(tmp_path, "ingest-invoices"))
    gdp = build_invoice_gdp(make_ctx(tmp_path, "gdp-invoices"))
    kpis = materialize_kpis(make_ctx(tmp_path, "kpi-finance"))

    assert gdp.tables["gdp_invoices"] > 0
    assert query(tmp_path, "SELECT count(*) FROM gdp_invoices WHERE customer_id IS NOT NULL") == [
        (0,)
    ]
    assert kpis.kpis == clean.kpis
