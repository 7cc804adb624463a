"""Ledger database engines: SQLite by default, PostgreSQL with the same code."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlmodel import SQLModel, create_engine

from barecount.errors import LedgerUnavailableError
from barecount.ledger import models

GENESIS_HASH = "sha256:" + "0" * 64


def redact_url(url: str) -> str:
    """The URL with any password hidden, fit to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable ledger URL>"


def open_engine(url: str) -> Engine:
    """An engine for the ledger at ``url``, with its tables created on first use."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerUnavailableError(
            "BARECOUNT_LEDGER_URL is not a database URL; use e.g. sqlite:///path/ledger.db or "
            "postgresql://user@host/db"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _serialize_sqlite_writes(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    try:
        _init_schema(engine)
    except (OperationalError, ProgrammingError) as exc:
        engine.dispose()
        raise LedgerUnavailableError(
            f"cannot open the ledger at {redact_url(url)}: {reason(exc)}; check that the "
            "database is running and BARECOUNT_LEDGER_URL is right"
        ) from None
    return engine


def _init_schema(engine: Engine) -> None:
    """Create the tables and the chain head once, also when processes start together."""
    with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE already serializes this
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7243051)"))
        SQLModel.metadata.create_all(conn)
        head = conn.execute(select(models.ChainHead.id).where(models.ChainHead.id == 1)).first()
        if head is None:
            conn.execute(insert(models.ChainHead).values(id=1, last_id=0, last_hash=GENESIS_HASH))


def _serialize_sqlite_writes(engine: Engine) -> None:
    # pysqlite starts transactions lazily and deferred, so two writers can both read the
    # chain head and then collide. Take the write lock at BEGIN instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def reason(exc: Exception) -> str:
    """The first line of a database error, without SQLAlchemy's wrapping."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
