"""The finance example's stages: ingest ERP invoices, build the invoice GDP, compute KPIs.

The same code runs on a SQLite and a PostgreSQL warehouse and gives the same rows: its SQL
goes through SQLAlchemy (``ctx.connection()``) with bound parameters, and tables.py says how
it stays portable.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, text

from barecount import (
    ExtractedSchema,
    SchemaColumn,
    StageContext,
    StageResult,
    TerminalError,
    TransientError,
    fingerprint_file,
    fingerprint_query,
    fingerprint_rows,
)
from barecount.examples.finance.generator import extract_path, parse_partition, write_extract
from barecount.examples.finance.tables import (
    GDP_LAYOUT,
    RAW_COLUMNS,
    RAW_LAYOUT,
    create_tables,
    day_number,
    div_half_up,
    fx_rates,
    gdp_invoices,
    half_up,
    kpi_values,
    raw_invoices,
)

DEFAULT_SOURCE = "erp.invoices"
KPIS = ("revenue_daily", "dso_days", "overdue_ratio")
# Fixed reference rates rather than daily market rates, so a partition's KPIs never change.
FX_RATES_TO_EUR = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17, "CHF": 1.05}
# No KPI needs the customer: an extract without it (say, an approved rename) still builds a
# GDP, with customer_id NULL and the new column kept in raw_invoices.extra.
GDP_OPTIONAL = frozenset({"customer_id"})

# [0-9], not \d: \d also matches other scripts' digits, which no database reads as numbers.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INTEGER = re.compile(r"[-+]?[0-9]+")
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _is_day(value: str) -> bool:
    """A real calendar day written 'YYYY-MM-DD' (so '2026-02-30' is not one)."""
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


# (column, problem, test true on a value that cannot be typed; NULL is a missing column,
# checked apart). Checked in Python: SQLite and PostgreSQL share no pattern matching.
_TYPE_CHECKS: tuple[tuple[str, str, Callable[[str, frozenset[str]], bool]], ...] = (
    ("invoice_id", "is empty", lambda v, _: v == ""),
    ("customer_id", "is empty", lambda v, _: v == ""),
    ("amount", "is not a decimal number", lambda v, _: not _NUMBER.fullmatch(v)),
    ("currency", "has no rate in fx_rates", lambda v, rates: v not in rates),
    ("issue_date", "is not a date YYYY-MM-DD", lambda v, _: not _is_day(v)),
    ("due_date", "is not a date YYYY-MM-DD", lambda v, _: not _is_day(v)),
    ("paid_date", "is not empty or a date", lambda v, _: v != "" and not _is_day(v)),
)

# One row of totals per partition, in integers: days from issue to payment (or to D when
# unpaid) come from day numbers, revenue from each invoice's EUR cents (amount_eur * 100 is a
# whole number up to float error, so round() has no tie to break on either database).
_KPI_TOTALS = f"""WITH invoices AS (
    SELECT issue_date, due_date, paid_date, amount_eur, coalesce(paid_date, :day) AS until
    FROM gdp_invoices WHERE partition = :day
), totals AS (
    SELECT count(*) AS invoices,
           coalesce(sum(CASE WHEN issue_date = :day
                        THEN CAST(round(amount_eur * 100) AS BIGINT) END), 0) AS revenue_cents,
           coalesce(sum({day_number("until")} - {day_number("issue_date")}), 0)
               AS days_outstanding,
           coalesce(sum(CASE WHEN paid_date IS NULL AND due_date < :day THEN 1 ELSE 0 END), 0)
               AS overdue
    FROM invoices)"""
_KPI_EXPRESSIONS = {
    "revenue_daily": "CAST(revenue_cents AS DOUBLE PRECISION) / 100",
    "dso_days": "CASE WHEN invoices > 0 THEN CAST("
    f"{div_half_up('100 * days_outstanding', 'invoices')} AS DOUBLE PRECISION) / 100 END",
    "overdue_ratio": "CASE WHEN invoices > 0 THEN CAST("
    f"{div_half_up('10000 * overdue', 'invoices')} AS DOUBLE PRECISION) / 10000 END",
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
    create_tables(ctx, raw_invoices)
    mine = _raw_of(source, ctx.partition)
    with ctx.connection() as conn:
        conn.execute(delete(raw_invoices).where(mine))
        if rows:
            conn.execute(
                insert(raw_invoices),
                [
                    dict(
                        zip(
                            RAW_LAYOUT,
                            (source, ctx.partition, source_file, n, *to_raw(row)),
                            strict=True,
                        )
                    )
                    for n, row in rows
                ],
            )
        fingerprint = fingerprint_query(
            conn,
            select(*(raw_invoices.c[name] for name in RAW_LAYOUT[3:]))
            .where(mine)
            .order_by(raw_invoices.c.line_no),
        )
    ctx.logger.info("loaded %d rows of %s into raw_invoices", len(rows), source_file)
    return StageResult(
        tables={"raw_invoices": len(rows)},
        fingerprint=fingerprint,
        schema=ExtractedSchema(object="invoices", columns=_infer_columns(header, rows)),
        metadata={"source_file": source_file},
        sources=[fingerprint_file(path, root=ctx.landing)],  # the chain of evidence starts here
    )


def build_invoice_gdp(ctx: StageContext) -> StageResult:
    """Build the partition's ``gdp_invoices``: typed, one row per invoice, amounts in EUR.

    Params: ``source`` (default 'erp.invoices'), the raw rows to read.

    Raises:
        TerminalError: a column is missing or a value cannot be typed (schema drift).
    """
    source = ctx.params.get("source", DEFAULT_SOURCE)
    parse_partition(ctx.partition)
    create_tables(ctx, raw_invoices, gdp_invoices, fx_rates)
    with ctx.connection() as conn:
        # ON CONFLICT is spelled alike by SQLite and PostgreSQL, and unlike delete-then-insert
        # it cannot collide with another partition's GDP stage writing the same rates.
        conn.execute(
            text(
                "INSERT INTO fx_rates (currency, rate_to_eur) VALUES (:currency, :rate)"
                " ON CONFLICT (currency) DO UPDATE SET rate_to_eur = excluded.rate_to_eur"
            ),
            [{"currency": code, "rate": rate} for code, rate in FX_RATES_TO_EUR.items()],
        )
        ppm = {code: _ppm(rate) for code, rate in conn.execute(select(fx_rates))}
        raw = conn.execute(
            select(raw_invoices)
            .where(_raw_of(source, ctx.partition))
            .order_by(raw_invoices.c.line_no)
        ).all()
        _check_typeable(raw, frozenset(ppm), source, ctx.partition)
        typed = _gdp_rows(raw, ppm)
        conn.execute(delete(gdp_invoices).where(gdp_invoices.c.partition == ctx.partition))
        if typed:
            conn.execute(insert(gdp_invoices), typed)
        stored = conn.execute(
            select(*(gdp_invoices.c[name] for name in GDP_LAYOUT)).where(
                gdp_invoices.c.partition == ctx.partition
            )
        )
        # By invoice_id, sorted here: ORDER BY on text follows the database's collation.
        fingerprint = fingerprint_rows(sorted(tuple(row) for row in stored))
    return StageResult(tables={"gdp_invoices": len(typed)}, fingerprint=fingerprint)


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
    create_tables(ctx, gdp_invoices, kpi_values)
    mine = (
        (kpi_values.c.pipeline == ctx.pipeline)
        & (kpi_values.c.partition == ctx.partition)
        & kpi_values.c.kpi.in_(selected)
    )
    with ctx.connection() as conn:
        values = conn.execute(
            text(
                f"{_KPI_TOTALS} SELECT {', '.join(_KPI_EXPRESSIONS[k] for k in selected)}"
                " FROM totals"
            ),
            {"day": ctx.partition},
        ).one()
        kpis = dict(zip(selected, values, strict=True))
        conn.execute(delete(kpi_values).where(mine))
        conn.execute(
            insert(kpi_values),
            [
                {
                    "pipeline": ctx.pipeline,
                    "kpi": kpi,
                    "partition": ctx.partition,
                    "value": value,
                    "token": ctx.token,
                }
                for kpi, value in kpis.items()
            ],
        )
        stored = conn.execute(
            select(kpi_values.c.kpi, kpi_values.c.partition, kpi_values.c.value).where(mine)
        )
        fingerprint = fingerprint_rows(sorted(tuple(row) for row in stored))  # by kpi
    return StageResult(tables={"kpi_values": len(kpis)}, fingerprint=fingerprint, kpis=kpis)


def _raw_of(source: str, partition: str) -> Any:
    return (raw_invoices.c.source == source) & (raw_invoices.c.partition == partition)


def _ppm(rate: float) -> int:
    """A rate to EUR in exact millionths (0.92 -> 920000)."""
    return int((Decimal(repr(rate)) * 1_000_000).to_integral_value(ROUND_HALF_UP))


def _gdp_rows(raw: Sequence[Any], ppm: dict[str, int]) -> list[dict[str, Any]]:
    """One typed row per invoice, from its latest version in the raw rows (in line order).

    The latest version wins: a paid date beats none, a later paid date beats an earlier one,
    and among equals the last line of the file wins. Money is typed through integer cents, so
    sums are exact and the EUR conversion rounds each invoice half away from zero, as an
    accountant would.
    """
    latest: dict[str, tuple[tuple[str, int], Any]] = {}
    for row in raw:
        rank = (row.paid_date or "", row.line_no)
        if row.invoice_id not in latest or rank > latest[row.invoice_id][0]:
            latest[row.invoice_id] = (rank, row)
    typed = []
    for _, row in latest.values():
        cents = int((Decimal(row.amount) * 100).to_integral_value(ROUND_HALF_UP))
        eur_cents = half_up(cents * ppm[row.currency], 1_000_000)
        typed.append(
            {
                "partition": row.partition,
                "invoice_id": row.invoice_id,
                "customer_id": row.customer_id,
                "amount": cents / 100,
                "currency": row.currency,
                "amount_eur": eur_cents / 100,
                "issue_date": row.issue_date,
                "due_date": row.due_date,
                "paid_date": row.paid_date or None,
                "source_file": row.source_file,
                "line_no": row.line_no,
            }
        )
    return typed


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
    if all(_is_day(v) for v in values):
        return "date"
    return "string"


def _check_typeable(
    raw: Sequence[Any], currencies: frozenset[str], source: str, partition: str
) -> None:
    """Raise TerminalError naming every column the GDP cannot type, with a first example."""
    if not raw:
        return
    fix = "fix the extract, or approve a new contract version and adapt build_invoice_gdp to it"
    missing = [
        column
        for column in RAW_COLUMNS
        if column not in GDP_OPTIONAL and all(getattr(row, column) is None for row in raw)
    ]
    if missing:
        unknown = sorted({key for row in raw if row.extra for key in json.loads(row.extra)})
        also = (
            f", but has column {', '.join(unknown)} the contract does not know" if unknown else ""
        )
        raise TerminalError(
            f"cannot build gdp_invoices for partition {partition}: the {source} extract has no "
            f"column {', '.join(missing)}{also}; {fix}"
        )
    problems = []
    for column, problem, untypeable in _TYPE_CHECKS:
        bad = [
            row
            for row in raw
            if getattr(row, column) is not None and untypeable(getattr(row, column), currencies)
        ]
        if bad:
            problems.append(
                f"{column} {problem} on {len(bad)} of {len(raw)} rows "
                f"(line {bad[0].line_no}: {getattr(bad[0], column)!r})"
            )
    if problems:
        raise TerminalError(
            f"cannot type raw_invoices of {min(row.source_file for row in raw)} "
            f"(partition {partition}): {'; '.join(problems)}; {fix}"
        )
