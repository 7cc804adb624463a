"""The contract between BareCount and stage code: a context in, a result out.

A stage is a plain function ``def my_stage(ctx: StageContext) -> StageResult``
named in the manifest as ``run: package.module:my_stage``. It must be
deterministic for a given partition and upstream results: a re-run under the
same run token has to give the same output fingerprint.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from barecount.governance.schema import ExtractedSchema


class StageResult(BaseModel):
    """What a stage produced. Persisted by Prefect and recorded in the ledger."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    tables: dict[str, int] = Field(
        default_factory=dict, description="Tables written for this partition and their row counts."
    )
    fingerprint: str = Field(description="Fingerprint of the stage's output for this partition.")
    schema_: ExtractedSchema | None = Field(
        default=None, alias="schema", description="Extracted schema (ingestion stages)."
    )
    kpis: dict[str, float | None] = Field(
        default_factory=dict, description="KPI values for the partition (KPI stages)."
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Anything else worth keeping."
    )

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


class StageContext(BaseModel):
    """Everything a stage may use. Stage code must not reach for anything else."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    pipeline: str
    stage: str
    partition: str = Field(description="Partition key, e.g. 2026-11-26.")
    token: str = Field(description="Run token this stage runs under.")
    params: dict[str, Any] = Field(default_factory=dict, description="The stage's manifest params.")
    upstream: dict[str, StageResult] = Field(
        default_factory=dict, description="Results of the stages this one needs, by stage name."
    )
    contract: str | None = Field(default=None, description="Contract the stage is governed by.")
    warehouse: Path = Field(description="SQLite warehouse file.")
    landing: Path = Field(description="Folder where source extracts land.")
    logger: Any = Field(default_factory=lambda: logging.getLogger("barecount.stage"))

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A warehouse connection for this stage; committed on success, closed after."""
        self.warehouse.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.warehouse, timeout=60, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()


def fingerprint_rows(rows: Iterable[Iterable[Any]]) -> str:
    """sha256 over rows in the order given; callers order their query."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(tuple(row)).encode())
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()


def fingerprint_query(conn: sqlite3.Connection, sql: str, params: Iterable[Any] = ()) -> str:
    """Fingerprint of a query's result; the query must have a total ORDER BY."""
    return fingerprint_rows(conn.execute(sql, tuple(params)))
