"""replay --verify: recompute a past run into a scratch warehouse and compare fingerprints.

Nothing live changes: the stages write to a copy of the warehouse (a copied SQLite file, or
copied tables in a scratch PostgreSQL schema) and their results to a scratch folder, the
gate holds nothing, nothing is published and nobody is alerted. The ledger records the
verification run and its attempts, as evidence that it happened.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from barecount.runtime.graph import failure_of, run_jobs
from barecount.runtime.lifecycle import Outcome, RunScope, prepare, summary_of
from barecount.runtime.warehouse import (
    dispose_warehouse_engines,
    parse_warehouse_url,
    sqlite_file,
    warehouse_engine,
)
from barecount.status import RunStatus


@contextmanager
def scratch_warehouse(scope: RunScope) -> Iterator[RunScope]:
    """The scope with a scratch copy of its warehouse and its results kept beside it.

    SQLite: a copy of the file in a temporary folder. PostgreSQL: a copy of the tables of
    the URL's current schema in a new schema of the same database (it needs the CREATE
    privilege there), which the scratch URL puts first and alone on its search_path. Both
    are removed afterwards.
    """
    folder = Path(tempfile.mkdtemp(prefix="barecount-verify-"))
    live = parse_warehouse_url(scope.settings.warehouse_url)
    schema = url = None
    try:
        if live.get_backend_name() == "sqlite":
            url = _copy_sqlite(live, folder / "warehouse.db")
        else:
            schema = f"barecount_verify_{uuid.uuid4().hex[:12]}"
            url = _copy_schema(live, schema)
        settings = scope.settings.model_copy(
            update={
                "warehouse": folder / "warehouse.db",
                "warehouse_url": url.render_as_string(hide_password=False),
                "results": folder / "results",
            }
        )
        yield dataclasses.replace(scope, settings=settings)
    finally:
        if url is not None:
            dispose_warehouse_engines(url)
        if schema is not None:
            with warehouse_engine(live).begin() as conn:
                quoted = conn.dialect.identifier_preparer.quote(schema)
                conn.execute(text(f"DROP SCHEMA IF EXISTS {quoted} CASCADE"))
        shutil.rmtree(folder, ignore_errors=True)


def _copy_sqlite(live: URL, copy: Path) -> URL:
    source = sqlite_file(live)
    if source is not None and source.exists():  # a consistent copy, also while others write
        with sqlite3.connect(source) as conn, sqlite3.connect(copy) as target:
            conn.backup(target)
    return URL.create("sqlite", database=str(copy))


def _copy_schema(live: URL, schema: str) -> URL:
    engine = warehouse_engine(live)
    # One snapshot of every table, also while stages write to them.
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with conn.begin():
            quote = conn.dialect.identifier_preparer.quote
            source = conn.execute(text("SELECT current_schema()")).scalar_one_or_none()
            conn.execute(text(f"CREATE SCHEMA {quote(schema)}"))
            tables = inspect(conn).get_table_names(schema=source) if source else []
            for table in tables:
                into, origin = f"{quote(schema)}.{quote(table)}", f"{quote(source)}.{quote(table)}"
                conn.execute(text(f"CREATE TABLE {into} (LIKE {origin} INCLUDING ALL)"))
                conn.execute(text(f"INSERT INTO {into} SELECT * FROM {origin}"))
    options = " ".join(filter(None, [live.query.get("options"), f"-csearch_path={schema}"]))
    return live.update_query_dict({"options": options})


def verify_partition(
    scope: RunScope, *, partition: str, token: str | None, pins: dict[str, str] | None
) -> dict[str, Any]:
    """Recompute every stage of a partition under ``token`` and compare with the ledger."""
    with scratch_warehouse(scope) as scratch:
        job = prepare(
            scratch,
            partition=partition,
            trigger="replay-verify",
            token=token,
            in_force=scope.versions_in_force(pins),
            recompute=True,
        )
        recorded = scope.ledger.recorded_fingerprints(
            token=job.ref.token, exclude_run=job.gate.run.id
        )
        run_jobs(scratch.spec, [job], settings=scratch.settings)
    error = failure_of(scope.spec, job)
    compared = {
        name: {
            "recorded": recorded.get(name),
            "recomputed": result.fingerprint,
            "deterministic": recorded.get(name) == result.fingerprint,
        }
        for name, result in job.results.items()
    }
    order = [s.name for s in scope.spec.spec.stages]  # report in the pipeline's stage order
    differ = [n for n in order if n in compared and not compared[n]["deterministic"]]
    if error is not None:
        status, detail = RunStatus(getattr(error, "status", RunStatus.FAILED)), str(error)
    else:
        status = RunStatus.COMPLETED
        detail = f"verify: different output at {', '.join(differ)}" if differ else "verify: same"
    scope.ledger.finish_run(run=job.gate.run, status=status, detail=detail)
    if error is not None:
        raise error
    summary = summary_of(scope, job, Outcome(status, {}, None, detail), "replay-verify")
    return summary | {"verify": compared}
