"""The chain can be verified by another tool: a verifier written from the documented encoding
(barecount.ledger.hashformat's docstring) and the ledger's own ``ledger_hash_format`` table,
with a raw database connection and no barecount import, agrees with ``verify``."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime

import pytest
from bc_ledger_rows import dsn, spread_ledger
from sqlalchemy import text

GENESIS = "sha256:" + "0" * 64


# The verifier: standard library only, from the documentation (no barecount import).


def independent_verify(conn) -> tuple[int, list[tuple[str, int, str]]]:
    """(rows checked, problems as (table, id, what)) of a DB-API connection to a ledger."""

    def encode(value, kind):
        if value is None:
            return None
        if kind == "datetime":
            value = datetime.fromisoformat(value) if isinstance(value, str) else value
            value = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
            return value.isoformat(timespec="microseconds")
        if kind == "json":
            return json.loads(value) if isinstance(value, str) else value
        return {"int": int, "bool": bool, "float": float, "str": str}[kind](value)

    cur = conn.cursor()
    cur.execute("SELECT format, table_name, fields FROM ledger_hash_format")
    formats = {(f, t): json.loads(x) if isinstance(x, str) else x for f, t, x in cur.fetchall()}
    rows = []
    for table in sorted({t for _, t in formats}):
        cur.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cur.description]
        rows += [(table, dict(zip(names, r, strict=True))) for r in cur.fetchall()]
    problems, ends = [], {}
    for table, row in sorted(rows, key=lambda r: (r[1]["lane"], r[1]["seq"])):
        fields = formats[(row["hash_format"], table)]
        content = {name: encode(row[name], kind) for name, kind in fields}
        payload = json.dumps(
            {"table": table, "row": content}, sort_keys=True, separators=(",", ":")
        )
        if "sha256:" + hashlib.sha256(payload.encode()).hexdigest() != row["hash"]:
            problems.append((table, row["id"], "hash"))
        seq, prev = ends.get(row["lane"], (0, GENESIS))
        if (row["seq"], row["prev_hash"]) != (seq + 1, prev):
            problems.append((table, row["id"], "link"))
        ends[row["lane"]] = (row["seq"], row["hash"])
    cur.execute("SELECT id, last_seq, last_hash FROM ledger_head WHERE last_seq > 0")
    if {lane: (seq, digest) for lane, seq, digest in cur.fetchall()} != ends:
        problems.append(("ledger_head", 0, "head"))
    return len(rows), problems


def raw_connection(url: str):
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url.removeprefix("sqlite:///"))
    import psycopg2

    return psycopg2.connect(dsn(url))


@pytest.fixture
def ledger(ledger_url: str) -> Iterator:
    """Rows of every kind from the real API; on PostgreSQL in two lanes."""
    built, _ = spread_ledger(ledger_url)
    yield built
    built.dispose()


def test_independent_verifier_agrees_with_verify_on_an_intact_ledger(ledger, ledger_url) -> None:
    result = ledger.verify()
    with closing(raw_connection(ledger_url)) as conn:
        rows, problems = independent_verify(conn)
    assert result.ok, result.problem
    assert problems == []
    assert rows == result.rows == 5 * 8 + 2


def test_independent_verifier_finds_the_row_verify_names(ledger, ledger_url) -> None:
    with ledger.engine.begin() as conn:
        query = "SELECT id FROM publication WHERE token = 't-2' AND kpi = 'revenue_daily'"
        target = conn.execute(text(query)).scalar_one()
        conn.execute(text("UPDATE publication SET value = 9999.5 WHERE id = :id"), {"id": target})
    result = ledger.verify()
    with closing(raw_connection(ledger_url)) as conn:
        _, problems = independent_verify(conn)
    assert problems == [("publication", target, "hash")]
    assert (result.table, result.row_id) == ("publication", target)
    assert result.problem.endswith("its content does not match its hash")


def test_independent_verifier_finds_a_row_moved_out_of_its_place(ledger, ledger_url) -> None:
    """A row whose hash still holds but that sits at another position: only the links show."""
    with ledger.engine.begin() as conn:
        query = "SELECT lane, seq FROM run_summary WHERE token = 't-1'"
        lane, seq = conn.execute(text(query)).one()
        conn.execute(text("DELETE FROM pipeline_run WHERE token = 't-2'"))
        query = "SELECT id FROM stage_attempt WHERE token = 't-2' AND attempt = 1"
        follower = conn.execute(text(query)).scalar_one()
    with closing(raw_connection(ledger_url)) as conn:
        _, problems = independent_verify(conn)
    result = ledger.verify()
    assert problems == [("stage_attempt", follower, "link")]
    assert (result.lane, result.seq) == (lane, seq + 1)
    assert "is missing (deleted?)" in result.problem
