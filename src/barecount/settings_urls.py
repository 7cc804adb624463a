"""The URL checks of barecount.settings: which database drivers the ledger and warehouse run
on, and what an http(s) URL must look like; one line naming the variable when it does not."""

from __future__ import annotations

import importlib.util
import re
from urllib.parse import urlsplit

from barecount.errors import SettingsError

# Ledger URL drivers we test and ship (SQLAlchemy 'dialect+driver'), and the module each needs.
LEDGER_DRIVERS = {
    "sqlite": "sqlite3",
    "sqlite+pysqlite": "sqlite3",
    "postgresql": "psycopg2",
    "postgresql+psycopg2": "psycopg2",
    "postgresql+psycopg": "psycopg",
}
# Warehouse drivers: SQLAlchemy 2.1 reads a plain postgresql:// with psycopg (3).
WAREHOUSE_DRIVERS = {
    "sqlite": "sqlite3",
    "sqlite+pysqlite": "sqlite3",
    "postgresql": "psycopg",
    "postgresql+psycopg": "psycopg",
    "postgresql+psycopg2": "psycopg2",
}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
SHOWN = 200  # characters of a bad value quoted in a message (paths stay whole)


def shown(value: str) -> str:
    return repr(value) if len(value) <= SHOWN else f"{value[:SHOWN]!r}... ({len(value)} chars)"


def bad(name: str, value: str, problem: str) -> SettingsError:
    return SettingsError(f"{name}={shown(value)} {problem}")


def check_ledger_url(url: str, name: str = "BARECOUNT_LEDGER_URL") -> str:
    """A ledger URL with a driver we support and whose module is installed.

    Raises:
        SettingsError: naming ``name``, the variable (or block) the URL came from.
    """
    found = _SCHEME.match(url)
    if found is None:
        raise SettingsError(  # the value is not shown: it may carry a password
            f"{name} is not a database URL; use e.g. sqlite:////var/lib/barecount/ledger.db "
            "or postgresql://user@host/db"
        )
    driver = found[1].lower()
    if driver not in LEDGER_DRIVERS:
        raise SettingsError(
            f"{name}: unsupported database driver {shown(driver)}; the ledger runs on "
            f"{', '.join(LEDGER_DRIVERS)}"
        )
    module = LEDGER_DRIVERS[driver]
    if importlib.util.find_spec(module) is None:
        raise SettingsError(
            f"{name}: driver {driver} needs the {module} package, which is not installed; "
            "pip install 'barecount[postgres]'"
        )
    return url


def check_http_url(name: str, url: str) -> str:
    parts = urlsplit(url) if url.isprintable() else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad(name, url, "is not an http(s) URL; use e.g. http://127.0.0.1:4200/api")
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number or out of range)
    except ValueError:
        raise bad(name, url, "has a port that is not a number from 1 to 65535") from None
    return url


def check_warehouse_url(url: str) -> str:
    """A warehouse URL with a driver we support and can load."""
    name = "BARECOUNT_WAREHOUSE_URL"
    found = _SCHEME.match(url)
    driver = found[1].lower() if found else None
    if driver not in WAREHOUSE_DRIVERS:  # the value is not shown: it may carry a password
        problem = f"unsupported database driver {shown(driver)}" if driver else "not a URL"
        raise SettingsError(
            f"{name}: {problem}; the warehouse runs on SQLite or PostgreSQL, e.g. "
            "sqlite:////path/warehouse.db or postgresql+psycopg://user:password@host:5432/db"
        )
    if driver.startswith("sqlite") and url.partition("://")[2] in ("", "/", "/:memory:"):
        raise SettingsError(f"{name}: a SQLite warehouse must be a file, not in memory")
    if importlib.util.find_spec(WAREHOUSE_DRIVERS[driver]) is None:
        raise SettingsError(
            f"{name}: driver {driver} needs the {WAREHOUSE_DRIVERS[driver]} package, which is "
            "not installed; pip install 'barecount[postgres]'"
        )
    return url
