"""Ledger cells read back raw and checked against their column's type.

SQLite keeps any value in any column, so a hand-edited cell can hold text where a date,
a number or JSON belongs. Loading such a row raises deep inside SQLAlchemy; ``verify`` asks
this module instead which row and column are malformed, and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
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


@dataclass(frozen=True)
class BadCell:
    """A cell whose stored value does not fit its column."""

    table: str
    row_id: Any
    column: str
    problem: str

    def describe(self) -> str:
        return f"row {self.row_id} in {self.table} has a malformed {self.column}: {self.problem}"


def cell_problem(column: SqlColumn, raw: Any, dialect: Dialect) -> str | None:
    """What is wrong with ``raw``, as the database returned it for ``column``; None if fine."""
    if raw is None:
        return None if column.nullable else "it is empty (NULL)"
    kind = column.type
    if isinstance(kind, TypeDecorator):  # SQLModel's AutoString, UTCDateTime
        kind = kind.impl_instance
    if isinstance(kind, Boolean):
        ok, expected = type(raw) in (bool, int) and raw in (0, 1), "a boolean (0 or 1)"
    elif isinstance(kind, Integer):
        ok, expected = type(raw) is int, "an integer"
    elif isinstance(kind, Float | Numeric):
        ok, expected = isinstance(raw, int | float) and not isinstance(raw, bool), "a number"
    elif isinstance(kind, DateTime | JSON):
        expected = "a date and time" if isinstance(kind, DateTime) else "JSON"
        ok = _loads(column.type, isinstance(kind, DateTime), raw, dialect)
    elif isinstance(kind, String):
        ok, expected = isinstance(raw, str), "text"
    else:
        return None
    return None if ok else f"{shown(raw)} is not {expected}"


def _loads(kind: Any, is_datetime: bool, raw: Any, dialect: Dialect) -> bool:
    """Whether SQLAlchemy turns ``raw`` into a value of ``kind`` (a datetime if it is one)."""
    process = kind.dialect_impl(dialect).result_processor(dialect, None)
    try:
        value = process(raw) if process is not None else raw
    except LOAD_ERRORS:
        return False
    return not is_datetime or isinstance(value, datetime)


def _raw_rows(session: Session, table: type[Chained], *, below: int | None, row_id: Any = None):
    """The table's rows as stored: every column without SQLAlchemy's conversion, by id."""
    columns = list(table.__table__.columns)
    query = select(*(type_coerce(c, NullType()).label(c.name) for c in columns))
    id_column = table.__table__.c.id
    if row_id is not None:
        query = query.where(id_column == row_id)
    elif below is not None:
        query = query.where(id_column < below)
    result = session.execute(query.order_by(id_column).execution_options(yield_per=500))
    for raw in result:
        yield columns, raw


def bad_cells(
    session: Session, table: type[Chained], *, below: int | None = None, row_id: Any = None
) -> Iterator[BadCell]:
    """The malformed cells of ``table`` (of one row, or of the rows below an id), by id."""
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":  # PostgreSQL keeps every column to its type
        return
    name = table.__tablename__
    for columns, raw in _raw_rows(session, table, below=below, row_id=row_id):
        for column, value in zip(columns, raw, strict=True):
            problem = cell_problem(column, value, dialect)
            if problem is not None:
                row_id = raw._mapping["id"]
                yield BadCell(table=name, row_id=row_id, column=column.name, problem=problem)


def first_bad_cell(
    session: Session, table: type[Chained], *, below: int | None = None
) -> BadCell | None:
    """The malformed cell with the lowest row id in ``table`` (below ``below``), if any."""
    return next(bad_cells(session, table, below=below), None)
