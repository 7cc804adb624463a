"""Tampering with the ledger by SQL is caught, and ``verify`` names the row or position.

Each test writes runs through the real Ledger API (on PostgreSQL over two lanes), then plays
someone with write access to the database: edits a cell, deletes rows in the middle or at
the end (also fixing the head), forges a row, reorders rows, and finally rewrites the whole
lane consistently, which only the checkpoints published outside the database expose.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bc_ledger_rows import spread_ledger, write_run
from bc_testkit import cli
from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection

from barecount.ledger import Ledger
from barecount.ledger.chain import GENESIS
from barecount.ledger.checkpoint_anchor import verify_against
from barecount.ledger.checkpoint_models import LedgerCheckpoint, checkpoint_hash
from barecount.ledger.checkpoints import write_checkpoint
from barecount.ledger.hashformat import values_hash
from barecount.ledger.models import CHAINED_TABLES
from barecount.ledger.verify import named, place


@dataclass
class Built:
    ledger: Ledger
    lane: int  # the lane the tests tamper with (on PostgreSQL, not the process's own)
    published: Path  # the JSONL file checkpoints are published to


@pytest.fixture
def built(ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Built]:
    from barecount.settings import get_settings

    monkeypatch.setenv("BARECOUNT_CHECKPOINT_KEY", str(tmp_path / "keys" / "checkpoint.pem"))
    monkeypatch.setenv("BARECOUNT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    get_settings.cache_clear()
    ledger, lanes = spread_ledger(ledger_url)
    with ledger.engine.connect() as conn:
        used = conn.execute(text("SELECT id FROM ledger_head WHERE last_seq > 0 ORDER BY id"))
        assert sorted(lanes) == [lane for (lane,) in used]  # PostgreSQL: two lanes
    yield Built(ledger, lanes[-1], tmp_path / "checkpoints.jsonl")
    ledger.dispose()


# --- what someone with write access does, by SQL ---------------------------------------


def lane_rows(conn: Connection, lane: int) -> list[dict]:
    """Every row of ``lane``, in position order, with its table as ``_table``."""
    rows = []
    for table in CHAINED_TABLES:
        columns = table.__table__
        found = conn.execute(select(columns).where(columns.c.lane == lane)).mappings()
        rows += [{**row, "_table": table.__tablename__} for row in found]
    return sorted(rows, key=lambda row: row["seq"])


def row_of(conn: Connection, table: str, token: str, lane: int, nth: int = 0) -> dict:
    """The ``nth`` row of ``table`` under ``token`` (position order)."""
    found = [r for r in lane_rows(conn, lane) if r["_table"] == table and r["token"] == token]
    return found[nth]


def set_cells(conn: Connection, row: dict, **values) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    statement = f"UPDATE {row['_table']} SET {assignments} WHERE id = :row_id"
    conn.execute(text(statement), {**values, "row_id": row["id"]})


def set_head(conn: Connection, lane: int, seq: int, digest: str) -> None:
    statement = "UPDATE ledger_head SET last_seq = :seq, last_hash = :digest WHERE id = :lane"
    conn.execute(text(statement), {"seq": seq, "digest": digest, "lane": lane})


def relink(conn: Connection, lane: int) -> None:
    """Recompute every row's prev_hash and hash in ``lane`` (hashformat) and move its head
    to match: all a rewrite needs inside the database, apart from the checkpoints."""
    prev, seq = GENESIS, 0
    for row in lane_rows(conn, lane):
        digest = values_hash(row["_table"], {**row, "prev_hash": prev})
        if (row["prev_hash"], row["hash"]) != (prev, digest):
            set_cells(conn, row, prev_hash=prev, hash=digest)
        prev, seq = digest, row["seq"]
    set_head(conn, lane, seq, prev)


def reseal(conn: Connection) -> None:
    """Rewrite every checkpoint in the database to seal the rows as they are now (its
    signature cannot be remade without the key: plain verify does not check it)."""
    prev = GENESIS
    table = LedgerCheckpoint.__table__
    for found in conn.execute(select(table).order_by(table.c.id)).mappings().all():
        heads = {
            lane: [seq, hash_at(conn, int(lane), seq)] for lane, (seq, _) in found["heads"].items()
        }
        forged = LedgerCheckpoint(**{**found, "heads": heads, "prev_hash": prev, "hash": ""})
        forged.hash = checkpoint_hash(forged)
        values = {"heads": heads, "prev_hash": prev, "hash": forged.hash}
        conn.execute(update(table).where(table.c.id == found["id"]).values(values))
        prev = forged.hash


def hash_at(conn: Connection, lane: int, seq: int) -> str:
    return next(r["hash"] for r in lane_rows(conn, lane) if r["seq"] == seq)


def shift_from(conn: Connection, lane: int, seq: int) -> None:
    """Move every row of ``lane`` at ``seq`` or later one position on (last first: a lane's
    positions are unique)."""
    for row in reversed(lane_rows(conn, lane)):
        if row["seq"] >= seq:
            set_cells(conn, row, seq=row["seq"] + 1)


def forge_publication(conn: Connection, after: dict, lane: int, row_id: int) -> dict:
    """A publication of a value nobody published, at the position after ``after``, linked
    to it and hashed as the ledger would."""
    values = {
        "id": row_id,
        "recorded_at": after["recorded_at"],
        "prev_hash": after["hash"],
        "hash": "",
        "lane": lane,
        "seq": after["seq"] + 1,
        "hash_format": 2,
        "run_id": after["id"],
        "token": after["token"],
        "pipeline": "kpi-a",
        "kpi": "forged_kpi",
        "partition": "2026-11-03",
        "value": 1_000_000.0,
        "stage": "kpi",
        "output_fingerprint": "sha256:" + "00" * 32,
    }
    values["hash"] = values_hash("publication", values)
    columns = ", ".join(values)
    conn.execute(
        text(f"INSERT INTO publication ({columns}) VALUES (:{', :'.join(values)})"), values
    )
    return {**values, "_table": "publication"}


def free_id(conn: Connection) -> int:
    if conn.dialect.name == "postgresql":
        return conn.execute(text("SELECT nextval('ledger_row_id')")).scalar_one()
    return 10_000


# --- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "cell", "value"),
    [
        ("publication", "value", 9999.5),
        ("stage_attempt", "transient", False),
        ("run_summary", "kpis", '{"revenue_daily": 1.0}'),
        ("pipeline_run", "recorded_at", "2026-01-01 00:00:00"),
    ],
)
def test_an_edited_cell_is_named_with_its_row(built: Built, table, cell, value) -> None:
    with built.ledger.engine.begin() as conn:
        target = row_of(conn, table, "t-2", built.lane)
        set_cells(conn, target, **{cell: value})
    result = built.ledger.verify()
    at = named(target["id"], table, built.lane, target["seq"])
    assert result.problem == (
        f"{at} was changed after it was written: its content does not match its hash"
    )
    assert (result.row_id, result.table, result.lane, result.seq) == (
        target["id"],
        table,
        built.lane,
        target["seq"],
    )


def test_a_deleted_middle_row_is_named_by_its_position(built: Built) -> None:
    with built.ledger.engine.begin() as conn:
        gone = row_of(conn, "pipeline_run", "t-2", built.lane)
        conn.execute(text("DELETE FROM pipeline_run WHERE id = :id"), {"id": gone["id"]})
    result = built.ledger.verify()
    lane, seq = built.lane, gone["seq"]
    assert result.problem == (
        f"{place(lane, seq)} is missing (deleted?); the chain jumps to "
        f"{place(lane, seq + 1)} in stage_attempt"
    )
    assert (result.lane, result.seq) == (lane, seq)


def delete_tail(conn: Connection, lane: int, count: int) -> dict:
    """Delete the last ``count`` rows of ``lane``; returns the row that is now its last."""
    rows = lane_rows(conn, lane)
    for row in rows[-count:]:
        conn.execute(text(f"DELETE FROM {row['_table']} WHERE id = :id"), {"id": row["id"]})
    return rows[-count - 1]


def test_rows_deleted_from_the_end_are_noticed_by_the_head(built: Built) -> None:
    with built.ledger.engine.begin() as conn:
        last = lane_rows(conn, built.lane)[-1]["seq"]
        now_last = delete_tail(conn, built.lane, 3)
    result = built.ledger.verify()
    lane = built.lane
    assert now_last["seq"] == last - 3
    assert result.problem == (
        f"the chain ends at {place(lane, last - 3)} but {place(lane, last)} was written "
        "(rows deleted from the end?)"
    )
    assert (result.lane, result.seq) == (lane, last - 2)


def test_rows_deleted_from_the_end_with_the_head_moved_are_caught_by_a_checkpoint(
    built: Built,
) -> None:
    sealed = write_checkpoint(built.ledger, reason="test")
    lane = built.lane
    with built.ledger.engine.begin() as conn:
        last = lane_rows(conn, lane)[-1]["seq"]
        now_last = delete_tail(conn, lane, 3)
        set_head(conn, lane, now_last["seq"], now_last["hash"])
    assert sealed.heads[str(lane)][0] == last
    result = built.ledger.verify()
    assert result.problem == (
        f"lane {lane} ends at row {last - 3} but checkpoint 1 sealed row {last} "
        "(rows deleted from the end?)"
    )
    assert (result.lane, result.seq) == (lane, last - 2)

    # Deleting the checkpoint too fools plain verify; the published copy still knows.
    with built.ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_checkpoint"))
    assert built.ledger.verify().ok
    against = verify_against(built.ledger, built.published)
    assert against.problem == (
        f"checkpoint 1 ({built.published}:1) is not in the ledger: deleted, or the ledger "
        "was replaced"
    )


def test_a_forged_row_is_caught_by_the_link_of_the_row_after_it(built: Built) -> None:
    lane = built.lane
    with built.ledger.engine.begin() as conn:
        before = row_of(conn, "pipeline_run", "t-2", lane)
        after = lane_rows(conn, lane)[before["seq"]]  # the row at position seq + 1
        shift_from(conn, lane, before["seq"] + 1)
        forge_publication(conn, before, lane, free_id(conn))
        set_head(conn, lane, lane_rows(conn, lane)[-1]["seq"], lane_rows(conn, lane)[-1]["hash"])
    result = built.ledger.verify()
    at = named(after["id"], after["_table"], lane, after["seq"] + 1)
    assert result.problem == (
        f"{at} does not follow the row before it: its prev_hash differs from that row's hash"
    )
    assert (result.row_id, result.lane, result.seq) == (after["id"], lane, after["seq"] + 1)


def test_a_forged_row_with_the_lane_rehashed_is_caught_by_checkpoint_sealing(
    built: Built,
) -> None:
    write_checkpoint(built.ledger, reason="test")
    lane = built.lane
    with built.ledger.engine.begin() as conn:
        sealed_at = lane_rows(conn, lane)[-1]["seq"]
        before = row_of(conn, "pipeline_run", "t-2", lane)
        shift_from(conn, lane, before["seq"] + 1)
        forge_publication(conn, before, lane, free_id(conn))
        relink(conn, lane)
        moved = next(r for r in lane_rows(conn, lane) if r["seq"] == sealed_at)
    result = built.ledger.verify()
    at = named(moved["id"], moved["_table"], lane, sealed_at)
    assert result.problem == (
        f"{at} was rewritten: checkpoint 1 sealed another hash at that position"
    )
    assert (result.row_id, result.lane, result.seq) == (moved["id"], lane, sealed_at)


@pytest.mark.parametrize("relinked", [False, True], ids=["positions", "positions-and-links"])
def test_two_swapped_rows_are_named_at_the_first_position(built: Built, relinked: bool) -> None:
    lane = built.lane
    with built.ledger.engine.begin() as conn:
        first = row_of(conn, "stage_attempt", "t-2", lane, 0)
        second = row_of(conn, "stage_attempt", "t-2", lane, 1)
        assert second["seq"] == first["seq"] + 1
        set_cells(conn, first, seq=-1)  # a lane's positions are unique: swap through -1
        set_cells(conn, second, seq=first["seq"])
        set_cells(conn, first, seq=second["seq"])
        if relinked:  # links that read right in the new order
            set_cells(conn, second, prev_hash=first["prev_hash"])
            set_cells(conn, first, prev_hash=second["hash"])
    result = built.ledger.verify()
    at = named(second["id"], "stage_attempt", lane, first["seq"])
    problem = (
        "was changed after it was written: its content does not match its hash"
        if relinked
        else "does not follow the row before it: its prev_hash differs from that row's hash"
    )
    assert result.problem == f"{at} {problem}"
    assert (result.row_id, result.lane, result.seq) == (second["id"], lane, first["seq"])


def test_a_consistent_rewrite_passes_verify_but_not_the_published_checkpoints(
    built: Built, capsys
) -> None:
    write_checkpoint(built.ledger, reason="test")
    write_run(built.ledger, "t-9", "2026-11-09", 7.25)
    write_checkpoint(built.ledger, reason="test")
    assert verify_against(built.ledger, built.published).ok
    lane = built.lane
    with built.ledger.engine.begin() as conn:
        target = row_of(conn, "publication", "t-2", lane)
        set_cells(conn, target, value=1.0)
        relink(conn, lane)
        reseal(conn)

    rewritten = built.ledger.verify()
    assert rewritten.ok, rewritten.problem
    assert (rewritten.rows, rewritten.checkpoints) == (5 * 8 + 2 + 8, 2)

    against = verify_against(built.ledger, built.published)
    assert against.problem == (
        f"checkpoint 1 in the ledger differs from the one published at {built.published}:1: "
        "the ledger's checkpoints were rewritten"
    )
    code, out, _ = cli(capsys, "ledger", "verify", "--against", str(built.published))
    assert code == 1
    assert "ledger NOT verified: checkpoint 1 in the ledger differs" in " ".join(out.split())


def test_a_rewrite_that_keeps_the_checkpoints_is_named_by_the_published_ones(
    built: Built,
) -> None:
    """The same rewrite leaving the database's checkpoints alone: plain verify already
    names the rewritten row, and so does the published file."""
    write_checkpoint(built.ledger, reason="test")
    lane = built.lane
    with built.ledger.engine.begin() as conn:
        set_cells(conn, row_of(conn, "publication", "t-2", lane), value=1.0)
        relink(conn, lane)
        last = lane_rows(conn, lane)[-1]
    at = named(last["id"], last["_table"], lane, last["seq"])
    assert built.ledger.verify().problem == (
        f"{at} was rewritten: checkpoint 1 sealed another hash at that position"
    )
    with built.ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_checkpoint"))
    against = verify_against(built.ledger, built.published)
    assert against.problem == (
        f"checkpoint 1 ({built.published}:1) is not in the ledger: deleted, or the ledger "
        "was replaced"
    )
