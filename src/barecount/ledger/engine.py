"""Ledger database engines: SQLite by default, PostgreSQL with the same code."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlmodel import create_engine

from barecount.errors import LedgerUnavailableError
from barecount.ledger import migrate


def redact_url(url: str) -> str:
    """The URL with any password hidden, fit to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable ledger URL>"


def open_engine(url: str, *, auto_upgrade: bool = True, check: bool = True) -> Engine:
    """An engine for the ledger at ``url``, its schema created or migrated on first use
    (``auto_upgrade``; otherwise a ledger behind this release is refused). ``check=False``:
    the engine only (``upgrade_ledger``)."""
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
        if check:
            _init_schema(engine, auto_upgrade)
    except LedgerUnavailableError:
        engine.dispose()
        raise
    except (OperationalError, ProgrammingError) as exc:
        engine.dispose()
        raise LedgerUnavailableError(
            f"cannot open the ledger at {redact_url(url)}: {reason(exc)}; check that the "
            "database is running and BARECOUNT_LEDGER_URL is right"
        ) from None
    return engine


def upgrade_ledger(url: str) -> tuple[str | None, str]:
    """Migrate the ledger at ``url`` to this release's schema: (revision before, after)."""
    engine = open_engine(url, auto_upgrade=False, check=False)
    try:
        return migrate.upgrade(engine)
    except (OperationalError, ProgrammingError) as exc:
        raise LedgerUnavailableError(
            f"cannot upgrade the ledger at {redact_url(url)}: {reason(exc)}"
        ) from None
    finally:
        engine.dispose()


def _init_schema(engine: Engine, auto_upgrade: bool) -> None:
    """Bring the schema to this release's revision once, also when processes start together."""
    found = migrate.revision(engine)
    if found == migrate.HEAD:
        return
    if not auto_upgrade:
        raise LedgerUnavailableError(
            f"the ledger at {redact_url(engine.url.render_as_string())} is at schema revision "
            f"{found or 'none (empty)'}, this release needs {migrate.HEAD}; run 'barecount "
            "ledger upgrade' (BARECOUNT_LEDGER_AUTO_UPGRADE=false turned the automatic "
            "upgrade off)"
        )
    migrate.upgrade(engine)


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
