"""Ledger database engines: SQLite by default, PostgreSQL with the same code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlmodel import Session, SQLModel, create_engine

from barecount.errors import BareCountError
from barecount.ledger import models

GENESIS_HASH = "sha256:" + "0" * 64
_engines: dict[str, Engine] = {}
_writers: dict[str, threading.Lock] = {}
_lock = threading.Lock()


class LedgerUnavailableError(BareCountError, ConnectionError):
    """The ledger database cannot be reached or opened."""


def redact_url(url: str) -> str:
    """The URL with any password hidden, fit to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable ledger URL>"


def get_engine(url: str) -> Engine:
    """A shared engine per URL, with the tables created on first use."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create(url)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _create(url: str) -> Engine:
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
            f"cannot open the ledger at {redact_url(url)}: {_reason(exc)}; check that the "
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


def _reason(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error.

    On SQLite, transactions of one process queue on a lock here instead of inside
    SQLite, whose busy handler sleeps in growing steps: with stages running in
    threads that doubled the ledger's share of a run (bench/overhead.py).
    """
    engine = get_engine(url)
    writer = _writers.setdefault(url, threading.Lock()) if engine.dialect.name == "sqlite" else None
    try:
        with writer or nullcontext(), Session(engine, expire_on_commit=False) as session:
            with session.begin():
                yield session
    except OperationalError as exc:
        raise LedgerUnavailableError(
            f"the ledger at {redact_url(url)} failed: {_reason(exc)}"
        ) from None


def ping(url: str) -> None:
    """Raise LedgerUnavailableError unless the ledger answers."""
    with session_scope(url) as session:
        session.exec(text("SELECT 1"))
