"""Bringing a ledger database to the schema this release writes (Alembic).

``upgrade`` runs under a lock, so processes that open a new or old ledger at the same time
migrate it once: PostgreSQL's advisory lock, SQLite's ``BEGIN IMMEDIATE``. A ledger created
before migrations existed (tables, no ``alembic_version``) is stamped revision 0001 first:
that revision is exactly the schema ``create_all`` made then.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

HEAD = "0003"  # the newest revision in migrations/versions (a test checks they agree)
FIRST = "0001"
MIGRATION_LOCK = 7243051  # PostgreSQL advisory lock key, shared with every ledger opener
_SCRIPTS = Path(__file__).with_name("migrations")


def revision(engine: Engine) -> str | None:
    """The ledger's revision; None for an empty database; FIRST for a ledger made before
    migrations (its tables, no alembic_version)."""
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    try:
        with conn.begin_nested() if conn.in_transaction() else conn.begin():
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):
        found = None
    if found is None and inspect(conn).has_table("pipeline_run"):
        return FIRST
    return found


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate the ledger to HEAD; returns (revision before, revision after)."""
    from alembic import command
    from alembic.config import Config

    with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE serializes the openers
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        before = _revision(conn)
        if before == HEAD:
            return before, HEAD
        config = Config()
        config.set_main_option("script_location", str(_SCRIPTS))
        config.attributes["connection"] = conn
        if before == FIRST and not _stamped(conn):
            command.stamp(config, FIRST)
        command.upgrade(config, "head")
        return before, _revision(conn) or HEAD


def _stamped(conn: Connection) -> bool:
    return inspect(conn).has_table("alembic_version")
