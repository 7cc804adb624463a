"""Configuration from ``BARECOUNT_*`` environment variables, read once per process."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


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
    server_port: int = Field(description="Port of the local Prefect server.")

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def local_api_url(self) -> str:
        return f"http://{self.server_host}:{self.server_port}/api"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment; ``get_settings.cache_clear()`` re-reads it."""
    home = Path(_env("BARECOUNT_HOME") or Path.home() / ".barecount").expanduser().absolute()
    return Settings(
        home=home,
        manifests=Path(_env("BARECOUNT_MANIFESTS") or "manifests").expanduser(),
        ledger_url=_env("BARECOUNT_LEDGER_URL"),
        ledger_block=_env("BARECOUNT_LEDGER_BLOCK"),
        warehouse=Path(_env("BARECOUNT_WAREHOUSE") or home / "warehouse.db").absolute(),
        landing=Path(_env("BARECOUNT_LANDING") or home / "landing").absolute(),
        results=Path(_env("BARECOUNT_RESULTS") or home / "results").absolute(),
        prefect_api_url=_env("BARECOUNT_PREFECT_API_URL") or _env("PREFECT_API_URL"),
        console_url=(_env("BARECOUNT_CONSOLE_URL") or "http://127.0.0.1:8787").rstrip("/"),
        server_host=_env("BARECOUNT_SERVER_HOST") or "127.0.0.1",
        server_port=int(_env("BARECOUNT_SERVER_PORT") or 4280),
    )
