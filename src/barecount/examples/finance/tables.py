"""The finance example's warehouse tables and the SQL that SQLite and PostgreSQL compute alike.

Written once for both: the tables are SQLAlchemy Core, so each database gets its own DDL;
dates are ISO 'YYYY-MM-DD' TEXT (SQLite has no DATE type, and ISO text sorts and compares
like dates everywhere); money is exact integer cents until a KPI leaves as DOUBLE PRECISION
(8-byte IEEE floats on both: SQLite's REAL, never PostgreSQL's 4-byte REAL); arithmetic that
must round is done on integers, which both databases divide the same way (truncating).
"""

from __future__ import annotations

from sqlalchemy import Column, Double, Integer, MetaData, Table, Text, inspect
from sqlalchemy.exc import DBAPIError

from barecount import StageContext, TerminalError

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
RAW_LAYOUT = ("source", "partition", "source_file", "line_no", *RAW_COLUMNS, "extra")
GDP_LAYOUT = (
    "partition",
    "invoice_id",
    "customer_id",
    "amount",
    "currency",
    "amount_eur",
    "issue_date",
    "due_date",
    "paid_date",
    "source_file",
    "line_no",
)

metadata = MetaData()

raw_invoices = Table(
    "raw_invoices",
    metadata,
    Column("source", Text, primary_key=True),
    Column("partition", Text, primary_key=True),
    Column("source_file", Text, nullable=False),
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    *(Column(name, Text) for name in RAW_COLUMNS),
    Column("extra", Text),
)

gdp_invoices = Table(
    "gdp_invoices",
    metadata,
    Column("partition", Text, primary_key=True),
    Column("invoice_id", Text, primary_key=True),
    Column("customer_id", Text),
    Column("amount", Double, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount_eur", Double, nullable=False),
    Column("issue_date", Text, nullable=False),
    Column("due_date", Text, nullable=False),
    Column("paid_date", Text),
    Column("source_file", Text, nullable=False),
    Column("line_no", Integer, nullable=False),
)

fx_rates = Table(
    "fx_rates",
    metadata,
    Column("currency", Text, primary_key=True),
    Column("rate_to_eur", Double, nullable=False),
)

kpi_values = Table(
    "kpi_values",
    metadata,
    Column("pipeline", Text, primary_key=True),
    Column("kpi", Text, primary_key=True),
    Column("partition", Text, primary_key=True),
    Column("value", Double),
    Column("token", Text, nullable=False),
)


def create_tables(ctx: StageContext, *tables: Table) -> None:
    """Create those of ``tables`` the warehouse lacks, and check raw_invoices' layout.

    Partitions run concurrently: on PostgreSQL two stages may both find a table missing and
    both create it; the loser's error is harmless once the table exists.
    """
    try:
        with ctx.connection() as conn:
            metadata.create_all(conn, tables=tables)
    except DBAPIError:
        with ctx.connection() as conn:
            if not all(inspect(conn).has_table(table.name) for table in tables):
                raise
    if raw_invoices in tables:
        with ctx.connection() as conn:
            found = tuple(c["name"] for c in inspect(conn).get_columns("raw_invoices"))
        if found != RAW_LAYOUT:
            raise TerminalError(
                f"table raw_invoices in {ctx.warehouse_url} has columns ({', '.join(found)}), "
                f"expected ({', '.join(RAW_LAYOUT)}); something else created it: "
                "rename or drop it"
            )


def half_up(num: int, den: int) -> int:
    """``num / den`` rounded half away from zero, exactly; ``den`` must be positive."""
    quotient = (2 * abs(num) + den) // (2 * den)
    return quotient if num >= 0 else -quotient


def div_half_up(num: str, den: str) -> str:
    """SQL for ``half_up``: num / den rounded half away from zero, in BIGINT arithmetic.

    Both operands are cast to BIGINT: PostgreSQL's sum() of BIGINT is NUMERIC, which would
    divide with a fraction where SQLite truncates.
    """
    num, den = f"CAST({num} AS BIGINT)", f"CAST({den} AS BIGINT)"
    return (
        f"(CASE WHEN {num} >= 0 THEN (2 * {num} + {den}) / (2 * {den})"
        f" ELSE -((-2 * {num} + {den}) / (2 * {den})) END)"
    )


def day_number(iso: str) -> str:
    """SQL for the day number (Julian Day Number) of an ISO 'YYYY-MM-DD' text.

    SQLite and PostgreSQL share no date arithmetic (julianday() against DATE subtraction),
    so this is the Fliegel-Van Flandern formula in integers: every operand is positive and
    both databases truncate integer division, so both give the same exact day.
    """
    year, month, day = (
        f"CAST(substr({iso}, {start}, {length}) AS INTEGER)"
        for start, length in ((1, 4), (6, 2), (9, 2))
    )
    early = f"((14 - {month}) / 12)"  # 1 in January and February: they count with last year
    y = f"({year} + 4800 - {early})"
    m = f"({month} + 12 * {early} - 3)"
    return f"({day} + (153 * {m} + 2) / 5 + 365 * {y} + {y} / 4 - {y} / 100 + {y} / 400 - 32045)"
