"""Configuration from ``BARECOUNT_*`` environment variables, read once per process.

Every value is checked when it is read, so a bad variable stops a command in one line that
names it (``SettingsError``) before any work starts, never deep inside a flow run.
"""

from __future__ import annotations

import importlib.util
import os
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

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
_HOST = re.compile(r"[A-Za-z0-9._:-]{1,253}")  # a host name, IPv4 or IPv6 address
_BLOCK_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")  # Prefect block document names
SHOWN = 200  # characters of a bad value quoted in a message (paths stay whole)


class Settings(BaseModel):
    """Where BareCount keeps its state and which Prefect API it talks to."""

    model_config = ConfigDict(frozen=True)

    home: Path = Field(description="State folder: local Prefect server, ledger, warehouse, keys.")
    manifests: Path = Field(description="Folder holding pipelines/, contracts/ and teams/.")
    ledger_url: str | None = Field(
        description="SQLAlchemy URL of the Evidence Ledger; None: the LedgerDatabase block "
        "named by ledger_block, else SQLite under home (barecount.ledger.get_ledger decides)."
    )
    ledger_block: str | None = Field(description="Name of a LedgerDatabase Prefect block.")
    warehouse: Path = Field(description="SQLite warehouse file the example stages write to.")
    warehouse_url: str = Field(
        repr=False,  # it may carry a password
        description="SQLAlchemy URL of the warehouse stages write to (SQLite or PostgreSQL); "
        "default: the SQLite file `warehouse`.",
    )
    landing: Path = Field(description="Folder where source extracts (ERP exports) land.")
    results: Path = Field(
        description="Where stage results are persisted (the run-token cache); kept beside "
        "the warehouse because a cached result is only valid while its tables exist."
    )
    prefect_api_url: str | None = Field(
        description="Prefect API to use; None starts the local server under home."
    )
    console_url: str = Field(description="Where 'barecount console' is reached; for links.")
    server_host: str = Field(description="Host the local Prefect server binds to.")
    server_port: int = Field(ge=1, le=65535, description="Port of the local Prefect server.")
    ledger_lanes: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Lanes of the ledger's chain on PostgreSQL: "
        "how many transactions append at once without waiting (1: one global lock).",
    )
    ledger_auto_upgrade: bool = Field(
        default=True,
        description="Migrate an old ledger on first use (else: exit 4 until "
        "'barecount ledger upgrade').",
    )
    checkpoint_key: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) that signs ledger checkpoints; "
        "kept outside the ledger database. Default: home/keys/ledger-checkpoint.pem.",
    )
    checkpoint_file: Path | None = Field(
        default=None,
        description="Append-only JSONL file checkpoints are published to, "
        "besides Prefect; None: home/checkpoints.jsonl.",
    )
    checkpoint_every_rows: int = Field(
        default=1000, ge=1, le=10_000_000, description="Write a checkpoint after this many rows."
    )
    checkpoint_every_minutes: int = Field(
        default=60, ge=1, le=100_000, description="...or after this many minutes."
    )

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def local_api_url(self) -> str:
        return f"http://{self.server_host}:{self.server_port}/api"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _shown(value: str) -> str:
    return repr(value) if len(value) <= SHOWN else f"{value[:SHOWN]!r}... ({len(value)} chars)"


def _bad(name: str, value: str, problem: str) -> SettingsError:
    return SettingsError(f"{name}={_shown(value)} {problem}")


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
            f"{name}: unsupported database driver {_shown(driver)}; the ledger runs on "
            f"{', '.join(LEDGER_DRIVERS)}"
        )
    module = LEDGER_DRIVERS[driver]
    if importlib.util.find_spec(module) is None:
        raise SettingsError(
            f"{name}: driver {driver} needs the {module} package, which is not installed; "
            "pip install 'barecount[postgres]'"
        )
    return url


def _check_http_url(name: str, url: str) -> str:
    parts = urlsplit(url) if url.isprintable() else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(name, url, "is not an http(s) URL; use e.g. http://127.0.0.1:4200/api")
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number or out of range)
    except ValueError:
        raise _bad(name, url, "has a port that is not a number from 1 to 65535") from None
    return url


def _port(name: str) -> int:
    value = _env(name)
    if value is None:
        return 4280
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 65535:
        raise _bad(name, value, "is not a port number; use a whole number from 1 to 65535")
    return int(value)


def _int(name: str, default: int, low: int, high: int) -> int:
    value = _env(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise _bad(name, value, f"is not a whole number from {low} to {high}")
    return int(value)


def _bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise _bad(name, value, "is not true or false")
    return value.lower() in ("true", "1", "yes")


def _host(name: str) -> str:
    value = _env(name) or "127.0.0.1"
    if not _HOST.fullmatch(value):
        raise _bad(name, value, "is not a host name or IP address; use e.g. 127.0.0.1")
    return value


def _folder(name: str, default: Path) -> Path:
    path = Path(_env(name) or default).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise _bad(name, str(path), "is a file, not a folder; name a folder")
    return path


def _file(name: str, default: Path) -> Path:
    path = Path(_env(name) or default).expanduser().absolute()
    if path.is_dir():
        raise _bad(name, str(path), "is a folder, not a file; name a file")
    return path


def _optional(name: str, check) -> str | None:
    value = _env(name)
    return None if value is None else check(value)


def _block(value: str) -> str:
    if not _BLOCK_NAME.fullmatch(value):
        raise _bad(
            "BARECOUNT_LEDGER_BLOCK",
            value,
            "is not a block name; use lower-case letters, digits and dashes",
        )
    return value


def _api_url() -> str | None:
    for name in ("BARECOUNT_PREFECT_API_URL", "PREFECT_API_URL"):
        value = _env(name)
        if value is not None:
            return _check_http_url(name, value)
    return None


def _warehouse_url(default: Path) -> str:
    """BARECOUNT_WAREHOUSE_URL with a driver we support and can load; else the SQLite file."""
    name, url = "BARECOUNT_WAREHOUSE_URL", _env("BARECOUNT_WAREHOUSE_URL")
    if url is None:
        return f"sqlite:///{default}"
    found = _SCHEME.match(url)
    driver = found[1].lower() if found else None
    if driver not in WAREHOUSE_DRIVERS:  # the value is not shown: it may carry a password
        problem = f"unsupported database driver {_shown(driver)}" if driver else "not a URL"
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment; ``get_settings.cache_clear()`` re-reads it.

    Raises:
        SettingsError: a variable holds a value BareCount cannot use; the message names it.
    """
    home = _folder("BARECOUNT_HOME", Path.home() / ".barecount")
    console_url = _check_http_url(
        "BARECOUNT_CONSOLE_URL", _env("BARECOUNT_CONSOLE_URL") or "http://127.0.0.1:8787"
    )
    return Settings(
        home=home,
        manifests=Path(_env("BARECOUNT_MANIFESTS") or "manifests").expanduser(),
        ledger_url=_optional("BARECOUNT_LEDGER_URL", check_ledger_url),
        ledger_block=_optional("BARECOUNT_LEDGER_BLOCK", _block),
        warehouse=_file("BARECOUNT_WAREHOUSE", home / "warehouse.db"),
        warehouse_url=_warehouse_url(_file("BARECOUNT_WAREHOUSE", home / "warehouse.db")),
        landing=_folder("BARECOUNT_LANDING", home / "landing"),
        results=_folder("BARECOUNT_RESULTS", home / "results"),
        prefect_api_url=_api_url(),
        console_url=console_url.rstrip("/"),
        server_host=_host("BARECOUNT_SERVER_HOST"),
        server_port=_port("BARECOUNT_SERVER_PORT"),
        ledger_lanes=_int("BARECOUNT_LEDGER_LANES", 16, 1, 256),
        ledger_auto_upgrade=_bool("BARECOUNT_LEDGER_AUTO_UPGRADE", True),
        checkpoint_key=_file("BARECOUNT_CHECKPOINT_KEY", home / "keys" / "ledger-checkpoint.pem"),
        checkpoint_file=_checkpoint_file(home),
        checkpoint_every_rows=_int("BARECOUNT_CHECKPOINT_EVERY_ROWS", 1000, 1, 10_000_000),
        checkpoint_every_minutes=_int("BARECOUNT_CHECKPOINT_EVERY_MINUTES", 60, 1, 100_000),
    )


def _checkpoint_file(home: Path) -> Path | None:
    """BARECOUNT_CHECKPOINT_FILE; 'off' publishes checkpoints to Prefect only."""
    if (_env("BARECOUNT_CHECKPOINT_FILE") or "").lower() == "off":
        return None
    return _file("BARECOUNT_CHECKPOINT_FILE", home / "checkpoints.jsonl")
