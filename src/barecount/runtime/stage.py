"""The contract between BareCount and stage code: a context in, a result out.

A stage is a plain function ``def my_stage(ctx: StageContext) -> StageResult``
named in the manifest as ``run: package.module:my_stage``. It must be
deterministic for a given partition and upstream results: a re-run under the
same run token has to give the same output fingerprint.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from barecount.governance.schema import ExtractedSchema

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

# SQLAlchemy is imported where it is used (barecount.runtime.warehouse): this module is the
# public SDK, which every barecount module loads, and barecount.manifest must not load it.


class SourceFile(BaseModel):
    """A landed source file, fingerprinted by the stage that read it (``fingerprint_file``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Where it landed, relative to the landing folder if inside it.")
    size: int = Field(description="Size in bytes.")
    sha256: str = Field(description="'sha256:' and the hex digest of its bytes.")


def fingerprint_file(path: Path | str, *, root: Path | None = None) -> SourceFile:
    """Path, size and sha256 of a landed file, for ``StageResult(sources=[...])``: the ledger
    keeps them with the attempt, the first link of a KPI's chain of evidence."""
    path = Path(path)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    shown = path
    if root is not None and path.absolute().is_relative_to(Path(root).absolute()):
        shown = path.absolute().relative_to(Path(root).absolute())
    return SourceFile(
        path=shown.as_posix(), size=path.stat().st_size, sha256=f"sha256:{digest.hexdigest()}"
    )


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
    sources: list[SourceFile] = Field(
        default_factory=list,
        description="Source files read (ingestion stages): path, size and sha256 "
        "(``fingerprint_file``), recorded in the ledger.",
    )

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


class StageContext(BaseModel):
    """Everything a stage may use. Stage code must not reach for anything else.

    The warehouse is BARECOUNT_WAREHOUSE_URL (SQLite under BARECOUNT_HOME by default), in
    three forms: ``engine`` (SQLAlchemy), ``connection()`` (a SQLAlchemy connection in a
    transaction: write SQL once, with ``text()`` and :named parameters or SQLAlchemy Core)
    and ``connect()`` (the driver's own DB-API connection in a transaction).
    """

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
    warehouse_url: Any = Field(
        description="The warehouse's sqlalchemy.engine.URL (given as a URL or a string); "
        "str() and repr() hide its password."
    )
    warehouse: Path | None = Field(
        default=None, description="The warehouse's SQLite file; None when it is not SQLite."
    )
    landing: Path = Field(description="Folder where source extracts land.")
    logger: Any = Field(default_factory=lambda: logging.getLogger("barecount.stage"))

    @model_validator(mode="before")
    @classmethod
    def _one_warehouse(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        url, path = data.get("warehouse_url"), data.get("warehouse")
        if url is None:  # a SQLite file only (stage tests, older callers): that file
            if path is None:
                raise ValueError("give warehouse_url (a SQLAlchemy URL) or warehouse (a file)")
            url = f"sqlite:///{Path(path).absolute()}"
        from barecount.runtime.warehouse import parse_warehouse_url, sqlite_file

        url = parse_warehouse_url(url)
        return {**data, "warehouse_url": url, "warehouse": path or sqlite_file(url)}

    @property
    def engine(self) -> Engine:
        """The warehouse as a SQLAlchemy engine, one per URL per process."""
        from barecount.runtime.warehouse import warehouse_engine

        return warehouse_engine(self.warehouse_url)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A SQLAlchemy connection in a transaction: committed on success, rolled back on error."""
        from barecount.runtime.warehouse import connect_errors

        with connect_errors(self.warehouse_url):
            conn = self.engine.connect()
        with conn, conn.begin():
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """The driver's own DB-API connection in a transaction; committed on success.

        ``sqlite3.Connection`` on SQLite (parameters ``?``), ``psycopg.Connection`` on
        PostgreSQL (parameters ``%s``). Use ``connection()`` for SQL that runs on both.
        """
        from barecount.runtime.warehouse import connect_errors

        with connect_errors(self.warehouse_url):
            pooled = self.engine.raw_connection()
        raw = pooled.driver_connection
        try:
            if self.warehouse_url.get_backend_name() == "sqlite":
                raw.execute("BEGIN IMMEDIATE")  # take the write lock now, not mid-stage
            yield raw
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            pooled.close()


def fingerprint_rows(rows: Iterable[Iterable[Any]]) -> str:
    """sha256 over rows in the order given; callers order their query."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(tuple(row)).encode())
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()


def fingerprint_query(conn: Any, sql: Any, params: Iterable[Any] | Mapping[str, Any] = ()) -> str:
    """Fingerprint of a query's result; the query must have a total ORDER BY.

    On a SQLAlchemy connection ``sql`` is SQL text with :named ``params`` (a mapping) or a
    Core statement; on a DB-API connection it is SQL in the driver's own parameter style.
    """
    from sqlalchemy import text
    from sqlalchemy.engine import Connection

    if isinstance(conn, Connection):
        statement = text(sql) if isinstance(sql, str) else sql
        return fingerprint_rows(conn.execute(statement, dict(params or {})))
    cursor = conn.cursor()
    try:
        cursor.execute(sql, params if isinstance(params, Mapping) else tuple(params))
        return fingerprint_rows(cursor)
    finally:
        cursor.close()
