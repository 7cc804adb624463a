"""The finance example's stages: ingest ERP invoices, build the invoice GDP, compute KPIs."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from barecount import (
    ExtractedSchema,
    SchemaColumn,
    StageContext,
    StageResult,
    TerminalError,
    TransientError,
    fingerprint_query,
)
from barecount.examples.finance.generator import extract_path, parse_partition, write_extract

DEFAULT_SOURCE = "erp.invoices"
KPIS = ("revenue_daily", "dso_days", "overdue_ratio")
# Fixed reference rates rather than daily market rates, so a partition's KPIs never change.
FX_RATES_TO_EUR = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17, "CHF": 1.05}

# Raw layout: one fixed table, whatever the extract looks like. The columns of the invoices
# contract are TEXT slots, and every column the contract does not know goes into `extra`, a
# JSON object. A dropped or renamed column leaves its slot NULL while an empty value is '', so
# drift never needs an ALTER TABLE or loses data, and the GDP stage can tell "column missing"
# from "value empty" with one scan. (A table per schema fingerprint would scatter one source
# over many tables and make every downstream query guess which one to read.)
RAW_COLUMNS = (
    "invoice_id",
    "customer_id",
    "amount",
    "currency",
    "issue_date",
    "due_date",
    "paid_date",
)
# No KPI needs the customer: an extract without it (say, an approved rename) still builds a
# GDP, with customer_id NULL and the new column kept in raw_invoices.extra.
GDP_OPTIONAL = frozenset({"customer_id"})
_RAW_LAYOUT = ("source", "partition", "source_file", "line_no", *RAW_COLUMNS, "extra")
_RAW_DDL = f"""CREATE TABLE IF NOT EXISTS raw_invoices (
    source TEXT NOT NULL, partition TEXT NOT NULL, source_file TEXT NOT NULL,
    line_no INTEGER NOT NULL, {", ".join(f"{c} TEXT" for c in RAW_COLUMNS)}, extra TEXT,
    PRIMARY KEY (source, partition, line_no))"""
_RAW_WHERE = "source = ? AND partition = ?"

# SQLite has no DATE type: dates are ISO 'YYYY-MM-DD' TEXT, which also sorts correctly.
_GDP_COLUMNS = (
    "partition, invoice_id, customer_id, amount, currency, amount_eur,"
    " issue_date, due_date, paid_date, source_file, line_no"
)
_GDP_DDL = """CREATE TABLE IF NOT EXISTS gdp_invoices (
    partition TEXT NOT NULL, invoice_id TEXT NOT NULL, customer_id TEXT,
    amount REAL NOT NULL, currency TEXT NOT NULL, amount_eur REAL NOT NULL,
    issue_date TEXT NOT NULL, due_date TEXT NOT NULL, paid_date TEXT,
    source_file TEXT NOT NULL, line_no INTEGER NOT NULL,
    PRIMARY KEY (partition, invoice_id))"""
_FX_DDL = (
    "CREATE TABLE IF NOT EXISTS fx_rates (currency TEXT PRIMARY KEY, rate_to_eur REAL NOT NULL)"
)
_KPI_DDL = """CREATE TABLE IF NOT EXISTS kpi_values (
    pipeline TEXT NOT NULL, kpi TEXT NOT NULL, partition TEXT NOT NULL, value REAL,
    token TEXT NOT NULL, PRIMARY KEY (pipeline, kpi, partition))"""

# [0-9], not \d: \d also matches other scripts' digits, which SQLite does not read as numbers.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INTEGER = re.compile(r"[-+]?[0-9]+")
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _div_half_up(num: str, den: str) -> str:
    """SQL for num / den rounded half away from zero, in integers; den must be positive."""
    # SQLite's round() works on binary floats (it gives 0.15 for 0.145, Python gives 0.14) and
    # its digits changed between versions; integer arithmetic is exact everywhere.
    return (
        f"(CASE WHEN ({num}) >= 0 THEN (2 * ({num}) + ({den})) / (2 * ({den}))"
        f" ELSE -((-2 * ({num}) + ({den})) / (2 * ({den}))) END)"
    )


def _is_decimal(col: str) -> str:
    return (
        f"({col} GLOB '*[0-9]*' AND {col} NOT GLOB '*[^0-9.+-]*'"
        f" AND {col} NOT GLOB '?*[+-]*' AND {col} NOT GLOB '*.*.*')"
    )


def _is_iso_date(col: str) -> str:
    # The '+0 days' modifier normalises '2026-02-30' to March, so only real days compare equal.
    return f"coalesce(date({col}, '+0 days') = {col}, 0)"


# (column, problem, SQL condition true on a row that cannot be typed)
_TYPE_CHECKS = (
    ("invoice_id", "is empty", "invoice_id = ''"),
    ("customer_id", "is empty", "customer_id = ''"),
    ("amount", "is not a decimal number", f"NOT {_is_decimal('amount')}"),
    ("currency", "has no rate in fx_rates", "currency NOT IN (SELECT currency FROM fx_rates)"),
    ("issue_date", "is not a date YYYY-MM-DD", f"NOT {_is_iso_date('issue_date')}"),
    ("due_date", "is not a date YYYY-MM-DD", f"NOT {_is_iso_date('due_date')}"),
    ("paid_date", "is not empty or a date", f"paid_date <> '' AND NOT {_is_iso_date('paid_date')}"),
)

# Money is typed through integer cents so sums are exact and EUR conversion rounds each
# invoice half away from zero, as an accountant would.
_GDP_INSERT = f"""INSERT INTO gdp_invoices ({_GDP_COLUMNS})
SELECT r.partition, r.invoice_id, r.customer_id, r.cents / 100.0, r.currency,
       {_div_half_up("r.cents * f.ppm", "1000000")} / 100.0,
       r.issue_date, r.due_date, NULLIF(r.paid_date, ''), r.source_file, r.line_no
FROM (
    SELECT *, CAST(round(CAST(amount AS REAL) * 100) AS INTEGER) AS cents,
           -- latest version of an invoice wins: a paid date beats none, a later paid date
           -- beats an earlier one, and among equals the last line of the file wins
           row_number() OVER (
               PARTITION BY invoice_id
               ORDER BY NULLIF(paid_date, '') DESC NULLS LAST, line_no DESC
           ) AS version
    FROM raw_invoices WHERE {_RAW_WHERE}
) AS r
JOIN (SELECT currency, CAST(round(rate_to_eur * 1000000) AS INTEGER) AS ppm FROM fx_rates) AS f
  ON f.currency = r.currency
WHERE r.version = 1"""

_KPI_TOTALS = """WITH totals AS (
    SELECT count(*) AS invoices,
           coalesce(sum(CASE WHEN issue_date = :day
                        THEN CAST(round(amount_eur * 100) AS INTEGER) END), 0) AS revenue_cents,
           sum(CAST(julianday(coalesce(paid_date, :day)) - julianday(issue_date) AS INTEGER))
               AS days_outstanding,
           sum(paid_date IS NULL AND due_date < :day) AS overdue
    FROM gdp_invoices WHERE partition = :day)"""
_KPI_EXPRESSIONS = {
    "revenue_daily": "revenue_cents / 100.0",
    "dso_days": f"CASE WHEN invoices > 0 THEN "
    f"{_div_half_up('100 * days_outstanding', 'invoices')} / 100.0 END",
    "overdue_ratio": f"CASE WHEN invoices > 0 THEN "
    f"{_div_half_up('10000 * overdue', 'invoices')} / 10000.0 END",
}


def ingest_invoices(ctx: StageContext) -> StageResult:
    """Load the partition's ERP invoice extract into ``raw_invoices`` and report its schema.

    Params: ``source`` (default 'erp.invoices'), ``invoices_per_day`` (2000) and
    ``generate_missing`` (default True: simulate the ERP landing a missing extract).

    Raises:
        TransientError: the extract has not landed and ``generate_missing`` is false.
        TerminalError: the extract is not a UTF-8 CSV file with a header line.
    """
    source = ctx.params.get("source", DEFAULT_SOURCE)
    path = extract_path(ctx.landing, source, ctx.partition)
    if ctx.params.get("generate_missing", True) and not path.exists():
        write_extract(
            ctx.landing, source, ctx.partition, int(ctx.params.get("invoices_per_day", 2000))
        )
    header, rows = _read_extract(path, ctx.partition)
    # Relative to the landing folder: the fingerprint must not depend on where that lives.
    source_file = f"{source}/{path.name}"
    to_raw = _raw_row(header)
    with ctx.connect() as conn:
        _ensure_raw_table(conn, ctx.warehouse)
        conn.execute(f"DELETE FROM raw_invoices WHERE {_RAW_WHERE}", (source, ctx.partition))
        conn.executemany(
            f"INSERT INTO raw_invoices VALUES ({', '.join('?' * len(_RAW_LAYOUT))})",
            ((source, ctx.partition, source_file, n, *to_raw(row)) for n, row in rows),
        )
        fingerprint = fingerprint_query(
            conn,
            f"SELECT {', '.join(_RAW_LAYOUT[3:])} FROM raw_invoices"
            f" WHERE {_RAW_WHERE} ORDER BY line_no",
            (source, ctx.partition),
        )
    ctx.logger.info("loaded %d rows of %s into raw_invoices", len(rows), source_file)
    return StageResult(
        tables={"raw_invoices": len(rows)},
        fingerprint=fingerprint,
        schema=ExtractedSchema(object="invoices", columns=_infer_columns(header, rows)),
        metadata={"source_file": source_file},
    )


def build_invoice_gdp(ctx: StageContext) -> StageResult:
    """Build the partition's ``gdp_invoices``: typed, one row per invoice, amounts in EUR.

    Params: ``source`` (default 'erp.invoices'), the raw rows to read.

    Raises:
        TerminalError: a column is missing or a value cannot be typed (schema drift).
    """
    source = ctx.params.get("source", DEFAULT_SOURCE)
    parse_partition(ctx.partition)
    with ctx.connect() as conn:
        for ddl in (_GDP_DDL, _FX_DDL):
            conn.execute(ddl)
        conn.executemany(
            "INSERT INTO fx_rates VALUES (?, ?)"
            " ON CONFLICT (currency) DO UPDATE SET rate_to_eur = excluded.rate_to_eur",
            FX_RATES_TO_EUR.items(),
        )
        _ensure_raw_table(conn, ctx.warehouse)
        _check_typeable(conn, source, ctx.partition)
        conn.execute("DELETE FROM gdp_invoices WHERE partition = ?", (ctx.partition,))
        rows = conn.execute(_GDP_INSERT, (source, ctx.partition)).rowcount
        fingerprint = fingerprint_query(
            conn,
            f"SELECT {_GDP_COLUMNS} FROM gdp_invoices WHERE partition = ? ORDER BY invoice_id",
            (ctx.partition,),
        )
    return StageResult(tables={"gdp_invoices": rows}, fingerprint=fingerprint)


def materialize_kpis(ctx: StageContext) -> StageResult:
    """Compute the partition's finance KPIs from ``gdp_invoices`` into ``kpi_values``.

    Over the invoices of the partition's export (one GDP row each), with D the partition day:

    - revenue_daily: sum of amount_eur of invoices with issue_date = D, to 2 decimals.
    - dso_days: mean over the invoices of the days from issue_date to paid_date, or to D when
      unpaid (days outstanding as known on D), to 2 decimals; None without invoices.
    - overdue_ratio: invoices unpaid with due_date < D (past due at the end of D; due on D is
      not late yet) divided by all invoices, to 4 decimals; None without invoices.

    Rounding is half away from zero on the exact value. Param ``kpis``: the names to compute
    (default all). Only the computed KPIs' rows of this pipeline and partition are replaced.
    """
    requested = ctx.params.get("kpis") or KPIS
    if isinstance(requested, str):
        requested = [requested]
    unknown = sorted(set(requested) - set(KPIS))
    if unknown:
        raise TerminalError(
            f"unknown KPI(s) {', '.join(unknown)} in params.kpis: known are {', '.join(KPIS)}"
        )
    selected = [kpi for kpi in KPIS if kpi in requested]
    parse_partition(ctx.partition)
    keys = (ctx.pipeline, ctx.partition, *selected)
    in_selected = f"kpi IN ({', '.join('?' * len(selected))})"
    with ctx.connect() as conn:
        for ddl in (_GDP_DDL, _KPI_DDL):
            conn.execute(ddl)
        values = conn.execute(
            f"{_KPI_TOTALS} SELECT {', '.join(_KPI_EXPRESSIONS[k] for k in selected)} FROM totals",
            {"day": ctx.partition},
        ).fetchone()
        kpis = dict(zip(selected, values, strict=True))
        conn.execute(
            f"DELETE FROM kpi_values WHERE pipeline = ? AND partition = ? AND {in_selected}", keys
        )
        conn.executemany(
            "INSERT INTO kpi_values (pipeline, kpi, partition, value, token)"
            " VALUES (?, ?, ?, ?, ?)",
            [(ctx.pipeline, kpi, ctx.partition, value, ctx.token) for kpi, value in kpis.items()],
        )
        fingerprint = fingerprint_query(
            conn,
            "SELECT kpi, partition, value FROM kpi_values"
            f" WHERE pipeline = ? AND partition = ? AND {in_selected} ORDER BY kpi",
            keys,
        )
    return StageResult(tables={"kpi_values": len(kpis)}, fingerprint=fingerprint, kpis=kpis)


def _read_extract(path: Path, partition: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, fields) of every non-blank data line."""
    cols = ",".join(RAW_COLUMNS)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, [])
            rows = [(reader.line_num, row) for row in reader if row]
    except FileNotFoundError:
        raise TransientError(
            f"extract {path} not landed yet for partition {partition}; it is retried, or set "
            "params.generate_missing: true to simulate the ERP export"
        ) from None
    except UnicodeDecodeError as exc:
        raise TerminalError(
            f"extract {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "the ERP export must be a UTF-8 CSV file"
        ) from exc
    except csv.Error as exc:
        raise TerminalError(
            f"extract {path} is not valid CSV at line {reader.line_num}: {exc}"
        ) from exc
    if not header:
        raise TerminalError(
            f"extract {path} has no header: it is empty or line 1 is blank; "
            f"line 1 must name the columns, e.g. {cols}"
        )
    bad = next((name for name in header if not _NAME.fullmatch(name)), None)
    if bad is not None:
        raise TerminalError(
            f"extract {path} has no header: line 1 must name the columns (e.g. {cols}), "
            f"but holds {bad!r}, which is not a column name"
        )
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise TerminalError(f"extract {path}: the header names {', '.join(twice)} twice")
    ragged = next(((n, row) for n, row in rows if len(row) != len(header)), None)
    if ragged is not None:
        raise TerminalError(
            f"extract {path}: line {ragged[0]} has {len(ragged[1])} fields, "
            f"the header has {len(header)}"
        )
    return header, rows


def _raw_row(header: Sequence[str]) -> Callable[[list[str]], tuple[str | None, ...]]:
    """Maps an extract row onto the raw slots of RAW_COLUMNS plus the JSON ``extra``."""
    slots = [header.index(name) if name in header else None for name in RAW_COLUMNS]
    extras = [(at, name) for at, name in enumerate(header) if name not in RAW_COLUMNS]

    def to_raw(row: list[str]) -> tuple[str | None, ...]:
        extra = json.dumps({name: row[at] for at, name in extras}) if extras else None
        return (*(None if at is None else row[at] for at in slots), extra)

    return to_raw


def _ensure_raw_table(conn: sqlite3.Connection, warehouse: Path) -> None:
    conn.execute(_RAW_DDL)
    found = tuple(row[1] for row in conn.execute("PRAGMA table_info(raw_invoices)"))
    if found != _RAW_LAYOUT:
        raise TerminalError(
            f"table raw_invoices in {warehouse} has columns ({', '.join(found)}), expected "
            f"({', '.join(_RAW_LAYOUT)}); something else created it: rename or drop it"
        )


def _infer_columns(
    header: list[str], rows: list[tuple[int, list[str]]]
) -> tuple[SchemaColumn, ...]:
    columns = zip(*(row for _, row in rows), strict=True) if rows else ([] for _ in header)
    inferred = []
    for name, values in zip(header, columns, strict=True):
        distinct = set(values)
        inferred.append(
            SchemaColumn(
                name=name,
                logical_type=_logical_type(distinct - {""}),
                required="" not in distinct,
            )
        )
    return tuple(inferred)


def _logical_type(values: set[str]) -> str:
    """The narrowest ODCS logical type all values fit; a column without values is a string."""
    if not values:
        return "string"
    if all(_INTEGER.fullmatch(v) for v in values):
        return "integer"
    if all(_NUMBER.fullmatch(v) for v in values):
        return "number"
    if all(_DATE.fullmatch(v) and _is_day(v) for v in values):
        return "date"
    return "string"


def _is_day(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _check_typeable(conn: sqlite3.Connection, source: str, partition: str) -> None:
    """Raise TerminalError naming every column the GDP cannot type, with a first example."""
    where = (source, partition)
    counts = ", ".join(f"count({c})" for c in RAW_COLUMNS)
    total, *present = conn.execute(
        f"SELECT count(*), {counts} FROM raw_invoices WHERE {_RAW_WHERE}", where
    ).fetchone()
    if total == 0:
        return
    fix = "fix the extract, or approve a new contract version and adapt build_invoice_gdp to it"
    missing = [
        c for c, n in zip(RAW_COLUMNS, present, strict=True) if n == 0 and c not in GDP_OPTIONAL
    ]
    if missing:
        unknown = [
            key
            for (key,) in conn.execute(
                "SELECT DISTINCT key FROM raw_invoices, json_each(raw_invoices.extra)"
                f" WHERE {_RAW_WHERE} ORDER BY key",
                where,
            )
        ]
        also = (
            f", but has column {', '.join(unknown)} the contract does not know" if unknown else ""
        )
        raise TerminalError(
            f"cannot build gdp_invoices for partition {partition}: the {source} extract has no "
            f"column {', '.join(missing)}{also}; {fix}"
        )
    probes = ", ".join(
        f"sum({cond}), min(CASE WHEN {cond} THEN line_no END)" for _, _, cond in _TYPE_CHECKS
    )
    found = conn.execute(
        f"SELECT min(source_file), {probes} FROM raw_invoices WHERE {_RAW_WHERE}", where
    ).fetchone()
    problems = []
    for index, (column, problem, _) in enumerate(_TYPE_CHECKS):
        bad, line = found[1 + 2 * index], found[2 + 2 * index]
        if bad:
            (value,) = conn.execute(
                f"SELECT {column} FROM raw_invoices WHERE {_RAW_WHERE} AND line_no = ?",
                (*where, line),
            ).fetchone()
            problems.append(f"{column} {problem} on {bad} of {total} rows (line {line}: {value!r})")
    if problems:
        raise TerminalError(
            f"cannot type raw_invoices of {found[0]} (partition {partition}): "
            f"{'; '.join(problems)}; {fix}"
        )
