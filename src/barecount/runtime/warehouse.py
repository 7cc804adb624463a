"""The warehouse stages write to: one SQLAlchemy engine per URL per process, passwords hidden.

BARECOUNT_WAREHOUSE_URL names it (SQLite under BARECOUNT_HOME by default). Stage code reaches
it through ``StageContext``; this module keeps the engines and closes them at exit.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from barecount.errors import TransientError


def parse_warehouse_url(value: str | URL) -> URL:
    """``value`` as a SQLAlchemy URL; ValueError (without the URL's password) if it is not one."""
    if isinstance(value, URL):
        return value
    try:
        return make_url(str(value))
    except ArgumentError:
        raise ValueError(
            "the warehouse URL is not a SQLAlchemy URL; use e.g. sqlite:////path/warehouse.db "
            "or postgresql+psycopg://user@host:5432/warehouse"
        ) from None


def redact(url: str | URL) -> str:
    """The URL fit to print: its password shown as ***."""
    try:
        return parse_warehouse_url(url).render_as_string(hide_password=True)
    except ValueError:
        return "<not a database URL>"


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory SQLite."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _key(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def warehouse_engine(url: str | URL) -> Engine:
    """The process's engine for the warehouse at ``url``, created on first use."""
    parsed = parse_warehouse_url(url)
    with _engines_lock:
        engine = _engines.get(_key(parsed))
        if engine is None:
            engine = _engines[_key(parsed)] = _create_engine(parsed)
        return engine


def dispose_warehouse_engines(url: str | URL | None = None) -> None:
    """Close the pooled connections of the warehouse at ``url`` (default: of every one)."""
    with _engines_lock:
        keys = list(_engines) if url is None else [_key(parse_warehouse_url(url))]
        engines = [_engines.pop(key) for key in keys if key in _engines]
    for engine in engines:
        engine.dispose()


def _forget_engines_in_child() -> None:
    # A forked child must neither use its parent's pooled connections nor close them.
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


atexit.register(dispose_warehouse_engines)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_engines_in_child)


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    path = sqlite_file(url)
    if path is None:
        return create_engine(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A file is cheap to open: no pool, so nothing stays open between stages.
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"timeout": 60, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # transactions begin as below, not lazily
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=60000")

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # Concurrent stages write one file: take its write lock at BEGIN, so two deferred
        # transactions never both read and then collide.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def connect_errors(url: URL) -> Iterator[None]:
    """Turn a failure to reach the warehouse into a TransientError that hides the password."""
    try:
        yield
    except DBAPIError as exc:
        orig = str(getattr(exc, "orig", None) or exc).strip()
        reason = orig.splitlines()[0] if orig else type(exc).__name__
        raise TransientError(
            f"cannot connect to the warehouse at {redact(url)}: {reason}; "
            "check BARECOUNT_WAREHOUSE_URL and that the database is running"
        ) from None
