"""Ledger cells read back raw and checked against their column's type.

SQLite keeps any value in any column, so a hand-edited cell can hold text where a date,
a number or JSON belongs. Loading such a row raises deep inside SQLAlchemy, or (a boolean
column reads 'garbage' as True) loads a value that still hashes right. ``verify`` reads the
cells as stored first and names the first row, table and column whose value does not fit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, Numeric, String, select
from sqlalchemy import Column as SqlColumn
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import type_coerce
from sqlalchemy.types import NullType, TypeDecorator
from sqlmodel import Session

from barecount.ledger.base import Chained
from barecount.manifest.limits import shown

# what SQLAlchemy raises while turning a stored value into a Python one
LOAD_ERRORS = (ValueError, TypeError, OverflowError, UnicodeError)
Check = Callable[[Any], bool]


@dataclass(frozen=True)
class BadCell:
    """A cell whose stored value does not fit its column (``row_id`` None: a whole table
    could not be read, and ``problem`` says why)."""

    table: str
    row_id: Any
    column: str
    problem: str

    def describe(self) -> str:
        return f"row {self.row_id} in {self.table} has a malformed {self.column}: {self.problem}"


def _is_bool(raw: Any) -> bool:
    return type(raw) in (bool, int) and raw in (0, 1)


def _is_int(raw: Any) -> bool:
    return type(raw) is int


def _is_number(raw: Any) -> bool:
    return type(raw) in (int, float)


def _is_text(raw: Any) -> bool:
    return type(raw) is str


def _loads_as(column: SqlColumn, dialect: Dialect, want: type) -> Check:
    """Whether SQLAlchemy turns a stored value into a ``want`` (the way it loads the row)."""
    process = column.type.dialect_impl(dialect).result_processor(dialect, None)

    def check(raw: Any) -> bool:
        try:
            value = process(raw) if process is not None else raw
        except LOAD_ERRORS:
            return False
        return isinstance(value, want)

    return check


def column_check(column: SqlColumn, dialect: Dialect) -> tuple[Check, str] | None:
    """How to tell a stored value of ``column`` fits, and what it should be; None: anything."""
    kind = column.type
    if isinstance(kind, TypeDecorator):  # SQLModel's AutoString, UTCDateTime
        kind = kind.impl_instance
    if isinstance(kind, Boolean):
        return _is_bool, "a boolean (0 or 1)"
    if isinstance(kind, Integer):
        return _is_int, "an integer"
    if isinstance(kind, Float | Numeric):
        return _is_number, "a number"
    if isinstance(kind, DateTime):
        return _loads_as(column, dialect, datetime), "a date and time"
    if isinstance(kind, JSON):
        return _loads_as(column, dialect, object), "JSON"
    if isinstance(kind, String):
        return _is_text, "text"
    return None


def bad_cells(
    session: Session, table: type[Chained], *, below: int | None = None
) -> Iterator[BadCell]:
    """The malformed cells of ``table`` (in the rows below the id ``below``), by row id.

    Only on SQLite: PostgreSQL keeps every column to its type.
    """
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        return
    columns = list(table.__table__.columns)
    checks = [(c.name, c.nullable, column_check(c, dialect)) for c in columns]
    query = select(*(type_coerce(c, NullType()).label(c.name) for c in columns))
    id_column = table.__table__.c.id
    if below is not None:
        query = query.where(id_column < below)
    query = query.order_by(id_column).execution_options(yield_per=1000)
    for raw in session.execute(query):
        for (name, nullable, check), value in zip(checks, raw, strict=True):
            if value is None:
                fits, expected = nullable, "empty (NULL)"
            elif check is None:
                continue
            else:
                fits, expected = check[0](value), check[1]
            if not fits:
                problem = f"{shown(value)} is not {expected}" if value is not None else expected
                yield BadCell(table.__tablename__, raw._mapping["id"], name, problem)


def first_bad_cell(
    session: Session, tables: list[type[Chained]], *, below: int | None = None
) -> BadCell | None:
    """The malformed cell with the lowest row id in ``tables`` (below ``below``), if any."""
    found = [bad for t in tables if (bad := next(bad_cells(session, t, below=below), None))]
    return min(found, key=lambda bad: bad.row_id, default=None)
