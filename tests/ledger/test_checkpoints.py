"""Signed checkpoints published outside the ledger, and 'ledger verify --against/--since'.

A rewrite that recomputes every hash in the database (rows, heads and the checkpoints kept
there) passes plain verify; only the signed copy published outside catches it (issue 14,
items 4 and 5). Both databases, the real CLI, the session's real Prefect server.
"""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from barecount.cli.main import main
from barecount.ledger import ledger_at
from barecount.ledger.chain import GENESIS, append
from barecount.ledger.checkpoint_anchor import verify_against
from barecount.ledger.checkpoint_keys import read_public_key, signing_key, verify_signature
from barecount.ledger.checkpoint_models import LedgerCheckpoint, checkpoint_hash
from barecount.ledger.checkpoints import checkpoint_after, maybe_checkpoint, write_checkpoint
from barecount.ledger.hashformat import row_hash
from barecount.ledger.models import CHAINED_TABLES, ChainHead, PipelineRun, RunSummary
from barecount.ledger.store import finish_run, start_run

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def anchors(ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own: the signing key and the checkpoint file in it; returns the file."""
    from barecount.settings import get_settings

    home = tmp_path / "home"
    monkeypatch.setenv("BARECOUNT_HOME", str(home))
    monkeypatch.setenv("BARECOUNT_CHECKPOINT_KEY", str(home / "keys" / "cp.pem"))
    monkeypatch.setenv("BARECOUNT_CHECKPOINT_FILE", str(tmp_path / "published" / "cp.jsonl"))
    get_settings.cache_clear()
    yield tmp_path / "published" / "cp.jsonl"
    get_settings.cache_clear()


def add_run(url: str, token: str, *, at: datetime | None = None) -> None:
    """Two rows: a run (started ``at``, default now) and its summary."""
    fields = {
        "token": token,
        "pipeline": "finance-kpi",
        "partition": "2026-11-26",
        "manifest_digest": "sha256:abc",
        "contract_versions": {"invoices": "1.0.0"},
        "trigger": "test",
    }
    with ledger_at(url).session() as session:
        if at is None:
            run = start_run(session=session, flow_run_id=None, **fields)
        else:
            run = append(session, PipelineRun(recorded_at=at, **fields))
        finish_run(session=session, run=run, status="published", kpis={"revenue_daily": 12.5})


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Exit code, and what the real CLI printed (stdout, then stderr)."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def published_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_checkpoint_is_signed_and_published_outside_the_ledger(ledger_url, anchors) -> None:
    for i in range(3):
        add_run(ledger_url, f"t-{i}")
    ledger = ledger_at(ledger_url)
    checkpoint = write_checkpoint(ledger, reason="manual")
    assert (checkpoint.id, checkpoint.rows, checkpoint.prev_hash) == (1, 6, GENESIS)
    assert write_checkpoint(ledger).id == 1  # nothing new: no second checkpoint

    key_file = anchors.parent.parent / "home" / "keys" / "cp.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public = read_public_key(key_file.with_suffix(".pub"))
    [line] = published_lines(anchors)
    assert line["hash"] == checkpoint.hash == checkpoint_hash(checkpoint)
    assert line["public_key"] == public and line["rows"] == 6
    assert verify_signature(public, line["hash"].encode(), line["signature"])
    assert signing_key(key_file)[1] == public  # the key is made once, then reused

    result = verify_against(ledger, anchors)
    assert result.ok, result.problem
    assert (result.rows, result.anchored, result.last_checkpoint) == (6, 1, 1)
    assert wait_for_event(checkpoint.hash)["rows"] == 6  # outside a run: the event only


def test_a_checkpoint_in_a_flow_run_leaves_an_artifact(ledger_url, anchors) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    add_run(ledger_url, "t-1")

    @flow(name="bc-test-ledger-checkpoint")
    def checkpoint_in_a_run() -> str:
        return write_checkpoint(ledger_at(ledger_url), reason="run").hash

    digest = checkpoint_in_a_run()
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ledger-checkpoint"]))
        )
    assert any(digest in (a.data or "") for a in artifacts)
    assert wait_for_event(digest)["reason"] == "run"


def wait_for_event(digest: str) -> dict:
    """The payload of the checkpoint event carrying ``digest``, once the server has it."""
    import time

    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter

    for _ in range(100):
        with get_client(sync_client=True) as client:
            page = client.read_events(
                EventFilter(event=EventNameFilter(name=["barecount.ledger.checkpoint"])),
                limit=50,
            )
        found = [e.payload for e in page.events if e.payload.get("hash") == digest]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no barecount.ledger.checkpoint event with hash {digest}")


def test_a_tampered_or_foreign_checkpoint_line_is_refused(ledger_url, anchors, tmp_path) -> None:
    add_run(ledger_url, "t-1")
    ledger = ledger_at(ledger_url)
    write_checkpoint(ledger)
    add_run(ledger_url, "t-2")
    write_checkpoint(ledger)
    first, second = anchors.read_text().splitlines()

    forged = json.loads(second)
    forged["rows"] = 3
    anchors.write_text(first + "\n" + json.dumps(forged) + "\n")
    result = verify_against(ledger, anchors)
    assert (
        result.problem == f"{anchors}:2: checkpoint 2 does not match its hash (the line was edited)"
    )

    anchors.write_text(first + "\n{not json\n")
    assert verify_against(ledger, anchors).problem.startswith(f"{anchors}:2: not a JSON line")

    other = tmp_path / "other" / "cp.pem"
    _, other_public = signing_key(other)
    anchors.write_text(first + "\n" + second + "\n")
    result = verify_against(ledger, anchors, public_key=other_public)
    assert result.problem.startswith(f"{anchors}:1: checkpoint 1 is signed by key sha256:")
    assert "not by the trusted key" in result.problem
    assert verify_against(ledger, anchors).ok


def rewrite_everything(url: str) -> None:
    """What someone with write access can do: change a KPI, then recompute every hash, every
    lane's head and every checkpoint in the database so that they agree again."""
    with ledger_at(url).session() as session:
        rows = [r for t in CHAINED_TABLES for r in session.execute(select(t)).scalars()]
        summary = next(r for r in rows if isinstance(r, RunSummary))
        summary.kpis = {"revenue_daily": 99.0}
        new_hashes, heads = {}, {}
        for row in sorted(rows, key=lambda r: (r.lane, r.seq)):
            row.prev_hash = heads.get(row.lane, GENESIS)
            row.hash = row_hash(row)
            heads[row.lane] = new_hashes[row.lane, row.seq] = row.hash
            session.add(row)
        for head in session.execute(select(ChainHead)).scalars():
            head.last_hash = heads.get(head.id, head.last_hash)
            session.add(head)
        previous = GENESIS
        query = select(LedgerCheckpoint).order_by(LedgerCheckpoint.id)
        for checkpoint in session.execute(query).scalars():
            checkpoint.heads = {
                lane: [seq, new_hashes[int(lane), seq]]
                for lane, (seq, _) in checkpoint.heads.items()
            }
            checkpoint.prev_hash = previous
            checkpoint.hash = previous = checkpoint_hash(checkpoint)
            session.add(checkpoint)


def test_a_consistent_rewrite_passes_plain_verify_and_fails_against(ledger_url, anchors) -> None:
    ledger = ledger_at(ledger_url)
    for i in range(3):
        add_run(ledger_url, f"t-{i}")
        write_checkpoint(ledger)
    assert ledger.verify().ok and verify_against(ledger, anchors).ok

    rewrite_everything(ledger_url)

    plain = ledger.verify()
    assert plain.ok and plain.rows == 6 and plain.checkpoints == 3  # the rewrite is consistent
    against = verify_against(ledger, anchors)
    assert not against.ok
    assert against.problem == (
        f"checkpoint 1 in the ledger differs from the one published at {anchors}:1: "
        "the ledger's checkpoints were rewritten"
    )


def test_rows_rewritten_under_untouched_checkpoints_are_named(ledger_url, anchors) -> None:
    ledger = ledger_at(ledger_url)
    add_run(ledger_url, "t-1")
    write_checkpoint(ledger)
    with ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_checkpoint"))
    rewrite_everything(ledger_url)
    line = published_lines(anchors)[0]  # the rewriter copies the published checkpoint back
    line["recorded_at"] = datetime.fromisoformat(line["recorded_at"])
    line.pop("public_key")
    with ledger.session() as session:
        session.add(LedgerCheckpoint(**line))
    result = verify_against(ledger, anchors)
    assert not result.ok and result.table == "run_summary" and result.seq == 2
    assert "is not the row checkpoint 1" in result.problem
    assert result.problem.endswith("sealed: its hash differs (the ledger was rewritten after it)")


def test_since_a_checkpoint_matches_a_full_walk_and_still_catches_later_edits(
    ledger_url, anchors, capsys
) -> None:
    ledger = ledger_at(ledger_url)
    for i in range(2):
        add_run(ledger_url, f"t-{i}")
    first = write_checkpoint(ledger)
    add_run(ledger_url, "t-2")

    full = ledger.verify()
    since = ledger.verify(since=first)
    assert full.ok and since.ok
    assert (full.rows, since.rows) == (6, 2)  # only the rows after checkpoint 1 are read

    with ledger.engine.begin() as conn:
        last_summary = conn.execute(text("SELECT max(id) FROM run_summary")).scalar_one()
        conn.execute(text(f"UPDATE run_summary SET status = 'x' WHERE id = {last_summary}"))
    broken = ledger.verify(since=first)
    assert not broken.ok and broken.row_id == last_summary and broken.table == "run_summary"
    assert broken.problem.endswith(
        "was changed after it was written: its content does not match its hash"
    )

    code, out = cli(capsys, "ledger", "verify", "--since", "1", "--json")
    assert code == 1 and json.loads(out)["row_id"] == last_summary


def test_verify_json_and_since_last(ledger_url, anchors, capsys) -> None:
    add_run(ledger_url, "t-1")
    code, out = cli(capsys, "ledger", "checkpoint")
    assert code == 0 and out.startswith("checkpoint 1: 2 rows sealed, sha256:")

    code, out = cli(capsys, "ledger", "verify", "--since", "last", "--json")
    assert code == 2 and "no checkpoint of this ledger was verified yet" in out

    code, out = cli(capsys, "ledger", "verify", "--against", str(anchors), "--json")
    assert code == 0
    assert json.loads(out) == {
        "ok": True,
        "rows": 2,
        "lanes": json.loads(out)["lanes"],  # 1 on SQLite, 16 on PostgreSQL
        "checkpoints": 1,
        "problem": None,
        "row_id": None,
        "table": None,
        "lane": None,
        "seq": None,
    }
    add_run(ledger_url, "t-2")
    code, out = cli(capsys, "ledger", "verify", "--since", "last", "--json")
    assert code == 0 and json.loads(out)["rows"] == 2  # the two rows after checkpoint 1

    rewrite_everything(ledger_url)
    code, out = cli(capsys, "ledger", "verify", "--since", "last")
    assert code == 1
    assert "checkpoint 1 no longer holds the hash it had when it was verified" in out


def test_maybe_checkpoint_writes_after_n_rows_and_not_before(ledger_url, anchors, monkeypatch):
    from barecount.settings import get_settings

    monkeypatch.setenv("BARECOUNT_CHECKPOINT_EVERY_ROWS", "5")
    get_settings.cache_clear()
    ledger = ledger_at(ledger_url)
    add_run(ledger_url, "t-1")
    add_run(ledger_url, "t-2")
    assert maybe_checkpoint(ledger) is None  # 4 rows
    add_run(ledger_url, "t-3")
    written = maybe_checkpoint(ledger)
    assert (written.id, written.rows, written.reason) == (1, 6, "rows")
    add_run(ledger_url, "t-4")
    assert maybe_checkpoint(ledger) is None  # 2 rows since checkpoint 1
    assert [line["id"] for line in published_lines(anchors)] == [1]


def test_maybe_checkpoint_writes_when_the_oldest_unsealed_row_is_old(ledger_url, anchors):
    ledger = ledger_at(ledger_url)
    add_run(ledger_url, "t-1")
    assert maybe_checkpoint(ledger) is None  # 2 rows, written just now
    add_run(ledger_url, "t-0", at=datetime.now(UTC) - timedelta(hours=2))
    written = maybe_checkpoint(ledger)
    assert (written.rows, written.reason) == (4, "minutes")
    assert ledger.verify().ok


def test_a_backfill_ends_with_a_checkpoint_whatever_the_thresholds(ledger_url, anchors):
    ledger = ledger_at(ledger_url)
    add_run(ledger_url, "t-1")
    written = checkpoint_after(ledger, backfill=7)
    assert (written.id, written.reason) == (1, "backfill 7")
    assert checkpoint_after(ledger) is None  # a run's end: not due
    assert published_lines(anchors)[0]["reason"] == "backfill 7"


def test_a_real_backfill_ends_with_a_checkpoint_sealing_its_end(
    home: Path, manifests: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from barecount.ledger import get_ledger
    from barecount.runtime.flows import governed_backfill
    from barecount.settings import get_settings

    published = tmp_path / "backfill-checkpoints.jsonl"
    monkeypatch.setenv("BARECOUNT_CHECKPOINT_FILE", str(published))
    monkeypatch.setenv("BARECOUNT_CHECKPOINT_KEY", str(tmp_path / "keys" / "cp.pem"))
    get_settings.cache_clear()
    pipeline = manifests / "pipelines" / "finance-kpi.yaml"
    pipeline.write_text(
        pipeline.read_text().replace("invoices_per_day: 2000", "invoices_per_day: 20")
    )
    summary = governed_backfill(
        pipeline="finance-kpi", start="2026-10-01", end="2026-10-02", manifests=str(manifests)
    )
    assert summary["counts"]["published"] == 2
    [line] = published_lines(published)  # the runs' ends were not due; the backfill's end is
    assert line["reason"] == f"backfill {summary['backfill_id']}"
    ledger = get_ledger()
    assert line["rows"] == ledger.verify().rows  # it sealed everything, BackfillEnd included
    assert verify_against(ledger, published).ok


def test_concurrent_writers_checkpoint_one_at_a_time(ledger_url, anchors) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ledger = ledger_at(ledger_url)

    def run_and_checkpoint(i: int) -> int:
        add_run(ledger_url, f"t-{i}")
        return write_checkpoint(ledger, reason=f"writer {i}").id

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(run_and_checkpoint, range(12)))
    lines = published_lines(anchors)
    assert sorted(line["id"] for line in lines) == list(range(1, len(lines) + 1))
    assert lines and max(line["rows"] for line in lines) == 24
    assert verify_against(ledger, anchors).ok
