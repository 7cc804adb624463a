"""Configuration from ``BARECOUNT_*`` environment variables, read once per process.

One pydantic-settings model (``BARECOUNT_`` prefix; Prefect's own settings are Prefect's,
barecount.prefect_api reads them). Every value is checked when it is read, so a bad variable
stops a command in one line that names it (``SettingsError``) before any work starts, never
deep inside a flow run.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from barecount.errors import SettingsError
from barecount.settings_urls import (
    bad,
    check_http_url,
    check_ledger_url,
    check_warehouse_url,
)

_HOST = re.compile(r"[A-Za-z0-9._:-]{1,253}")  # a host name, IPv4 or IPv6 address
_BLOCK_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")  # Prefect block document names


def _home(data: dict[str, Any]) -> Path:
    return data.get("home") or Path.home() / ".barecount"


class Settings(BaseSettings):
    """Where BareCount keeps its state, which Prefect API it talks to, how the ledger runs."""

    model_config = SettingsConfigDict(
        env_prefix="BARECOUNT_", frozen=True, env_ignore_empty=True, validate_default=True
    )

    home: Path = Field(
        default_factory=lambda: Path.home() / ".barecount",
        description="State folder: local Prefect server, ledger, warehouse, keys.",
    )
    manifests: Path = Field(
        Path("manifests"), description="Folder holding pipelines/, contracts/ and teams/."
    )
    ledger_url: str | None = Field(
        None,
        repr=False,  # it may carry a password
        description="SQLAlchemy URL of the Evidence Ledger; None: the LedgerDatabase block "
        "named by ledger_block, else SQLite under home (barecount.ledger.get_ledger decides).",
    )
    ledger_block: str | None = Field(None, description="Name of a LedgerDatabase Prefect block.")
    warehouse: Path = Field(
        default_factory=lambda data: _home(data) / "warehouse.db",
        description="SQLite warehouse file the example stages write to.",
    )
    warehouse_url: str = Field(
        default_factory=lambda data: f"sqlite:///{data.get('warehouse')}",
        repr=False,  # it may carry a password
        description="SQLAlchemy URL of the warehouse stages write to (SQLite or PostgreSQL); "
        "default: the SQLite file `warehouse`.",
    )
    landing: Path = Field(
        default_factory=lambda data: _home(data) / "landing",
        description="Folder where source extracts (ERP exports) land.",
    )
    results: Path = Field(
        default_factory=lambda data: _home(data) / "results",
        description="Where stage results are persisted (the run-token cache); kept beside "
        "the warehouse because a cached result is only valid while its tables exist.",
    )
    prefect_api_url: str | None = Field(
        None,
        validation_alias=AliasChoices("BARECOUNT_PREFECT_API_URL", "PREFECT_API_URL"),
        description="Prefect API to use; None starts the local server under home.",
    )
    console_url: str = Field(
        "http://127.0.0.1:8787", description="Where 'barecount console' is reached; for links."
    )
    server_host: str = Field("127.0.0.1", description="Host the local Prefect server binds to.")
    server_port: int = Field(4280, description="Port of the local Prefect server.")
    ledger_lanes: int = Field(
        16,
        ge=1,
        le=256,
        description="Lanes of the ledger's chain on PostgreSQL: how many transactions append "
        "at once without waiting (1: one global lock).",
    )
    ledger_auto_upgrade: bool = Field(
        True,
        description="Migrate an old ledger on first use (else: exit 4 until "
        "'barecount ledger upgrade').",
    )
    checkpoint_key: Path = Field(
        default_factory=lambda data: _home(data) / "keys" / "ledger-checkpoint.pem",
        description="Ed25519 private key (PEM) that signs ledger checkpoints; kept outside "
        "the ledger database.",
    )
    checkpoint_file: Path | None = Field(
        default_factory=lambda data: _home(data) / "checkpoints.jsonl",
        description="Append-only JSONL file checkpoints are published to besides Prefect; "
        "'off': Prefect only.",
    )
    checkpoint_every_rows: int = Field(
        1000, ge=1, le=10_000_000, description="Write a checkpoint after this many rows..."
    )
    checkpoint_every_minutes: int = Field(
        60, ge=1, le=100_000, description="...or after this many minutes."
    )

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def local_api_url(self) -> str:
        return f"http://{self.server_host}:{self.server_port}/api"

    @field_validator("home", "landing", "results")
    @classmethod
    def _folders(cls, path: Path, info: ValidationInfo) -> Path:
        path = path.expanduser().absolute()
        if path.exists() and not path.is_dir():
            raise bad(_var(info), str(path), "is a file, not a folder; name a folder")
        return path

    @field_validator("warehouse", "checkpoint_key", "checkpoint_file", mode="before")
    @classmethod
    def _files(cls, value: Any, info: ValidationInfo) -> Path | None:
        if info.field_name == "checkpoint_file" and str(value).strip().lower() == "off":
            return None
        path = Path(str(value).strip()).expanduser().absolute()
        if path.is_dir():
            raise bad(_var(info), str(path), "is a folder, not a file; name a file")
        return path

    @field_validator("manifests")
    @classmethod
    def _manifests(cls, path: Path) -> Path:
        return path.expanduser()

    @field_validator("ledger_url")
    @classmethod
    def _ledger_url(cls, url: str | None) -> str | None:
        return None if url is None else check_ledger_url(url.strip())

    @field_validator("ledger_block")
    @classmethod
    def _ledger_block(cls, name: str | None) -> str | None:
        if name is not None and not _BLOCK_NAME.fullmatch(name.strip()):
            raise bad(
                _var("ledger_block"),
                name,
                "is not a block name; use lower-case letters, digits and dashes",
            )
        return name and name.strip()

    @field_validator("warehouse_url")
    @classmethod
    def _warehouse(cls, url: str) -> str:
        return check_warehouse_url(url.strip())

    @field_validator("prefect_api_url", "console_url")
    @classmethod
    def _http(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is None:
            return None
        name = _var(info)
        if info.field_name == "prefect_api_url" and not _env("BARECOUNT_PREFECT_API_URL"):
            name = "PREFECT_API_URL"
        checked = check_http_url(name, url.strip())
        return checked.rstrip("/") if info.field_name == "console_url" else checked

    @field_validator("server_host")
    @classmethod
    def _host(cls, host: str) -> str:
        if not _HOST.fullmatch(host.strip()):
            raise bad(
                _var("server_host"), host, "is not a host name or IP address; use e.g. 127.0.0.1"
            )
        return host.strip()

    @field_validator("server_port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> int:
        text = str(value).strip()
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
            raise bad(
                _var("server_port"),
                text,
                "is not a port number; use a whole number from 1 to 65535",
            )
        return int(text)


def _var(field: ValidationInfo | str) -> str:
    """The environment variable of a field."""
    name = field if isinstance(field, str) else field.field_name
    return f"BARECOUNT_{name.upper()}"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment; ``get_settings.cache_clear()`` re-reads it.

    Raises:
        SettingsError: a variable holds a value BareCount cannot use; the message names it.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise _readable(exc) from None


def _readable(exc: ValidationError) -> SettingsError:
    """The first problem of a validation as one line naming the variable."""
    error = exc.errors()[0]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, SettingsError):
        return cause
    field = str(error["loc"][0]) if error["loc"] else "?"
    name = field if field.isupper() else _var(field)
    return bad(name, str(error.get("input")), f"cannot be used: {error['msg']}")
