"""Evidence on a large ledger: ``barecount evidence --json`` on 1,000,000 rows, and an
OpenLineage export of 10,000 runs.

Run: .venv/bin/python bench/evidence.py [--rows 1000000] [--export-runs 10000] [--url URL]

Builds a ledger (SQLite in a temporary folder, or the empty database at ``--url``) of about
``--rows`` rows: pipeline runs of 100 pipelines, each with four stage attempts (one a retry),
a gate check, three publications with their KPI versions and a run summary; every tenth run's
gate held a drift decided by a signed approval (decision, signature, hold events). Rows are
made as the ledger makes them (ids, lanes and positions, ``hashformat.row_hash``, prev hashes)
and written with bulk inserts, the lanes' heads last; each run's rows go to one lane, as one
transaction's appends do (PostgreSQL: 16 lanes in turn). ``ledger verify`` is not run over
all of them, but the evidence read verifies every row it shows, as the command does.

Then, on that ledger, in this process:

- ``evidence``: the work of ``barecount evidence KPI --partition P --json`` (read the chain,
  verify its rows and signatures, render the JSON) for 25 random published KPI partitions;
  prints the median and p95 in ms (target: median <= 100 ms) and one CLI subprocess's wall
  time for reference (Python start-up and imports included);
- ``export``: ``barecount lineage export`` of the last N runs (``--since`` their first
  one's time) to a JSONL file: prints seconds, runs, events and events per second.

Prints one JSON line at the end with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KPIS = ("revenue_daily", "dso_days", "overdue_ratio")
STAGES = ("ingest-invoices", "gdp-invoices", "kpi-finance")
BATCH = 20_000


def build(
    url: str, rows_wanted: int, lanes: int = 16
) -> tuple[list[tuple[str, str]], datetime, int]:
    """Write the ledger; the (pipeline, partition) pairs published, and each run's time.

    Each run's rows go to one lane, as one transaction's appends do: on PostgreSQL runs take
    lanes 1..``lanes`` in turn; SQLite has lane 1 only (its ids are the positions)."""
    from sqlalchemy import insert, text, update

    from barecount.governance.demokeys import demo_private_key, demo_public_key
    from barecount.governance.signing import approval_message, key_fingerprint, sign
    from barecount.ledger import ledger_at
    from barecount.ledger import models as m
    from barecount.ledger.chain import GENESIS, ROW_IDS, ensure_lanes
    from barecount.ledger.hashformat import CURRENT, row_hash

    engine = ledger_at(url).engine
    lanes = lanes if engine.dialect.name == "postgresql" else 1
    ensure_lanes(engine, lanes)
    pending: dict[type, list[dict]] = {}
    heads = {lane: [0, GENESIS] for lane in range(1, lanes + 1)}  # lane -> [seq, hash]
    state = {"id": 0, "lane": 1, "written": 0}
    base = datetime(2020, 1, 1, tzinfo=UTC)
    key, public = demo_private_key("alice"), demo_public_key("alice")

    def flush() -> None:
        with engine.begin() as conn:
            for table, values in pending.items():
                conn.execute(insert(table.__table__), values)
            for lane, (seq, last) in heads.items():
                conn.execute(
                    update(m.ChainHead.__table__)
                    .where(m.ChainHead.id == lane)
                    .values(last_seq=seq, last_hash=last)
                )
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SELECT setval('{ROW_IDS}', {state['id']})"))
        state["written"] += sum(len(v) for v in pending.values())
        pending.clear()

    def add(row: _Row, at: datetime) -> _Row:
        state["id"] += 1
        head = heads[state["lane"]]
        values = row.__dict__["values"]
        values.update(id=state["id"], recorded_at=at, prev_hash=head[1], hash="",
                      lane=state["lane"], seq=head[0] + 1, hash_format=CURRENT)  # fmt: skip
        values["hash"] = head[1] = row_hash(row)
        head[0] += 1
        pending.setdefault(row.table, []).append(row.__dict__["values"])
        return row

    add(_row(m.ContractVersion, contract="invoices", version="1.0.0", columns=[],
             fingerprint="sha256:" + "1" * 64, object_name="invoices", source="manifest"),
        base)  # fmt: skip
    published: list[tuple[str, str]] = []
    n = 0
    started = time.perf_counter()
    while state["id"] < rows_wanted:
        n += 1
        state["lane"] = n % lanes + 1
        pipeline, day = f"pipeline-{n % 100:03d}", base.date() + timedelta(days=n // 100)
        partition, token, at = day.isoformat(), f"rt-{n:08d}", base + timedelta(seconds=n)
        run = add(_row(m.PipelineRun, token=token, pipeline=pipeline, partition=partition,
                                manifest_digest="sha256:" + "2" * 64,
                                contract_versions={"invoices": "1.0.0"}, trigger="schedule",
                                flow_run_id=f"flow-{n}"), at)  # fmt: skip
        _attempts(add, m, run, at)
        held = n % 10 == 0
        check = add(_row(m.GateCheck, run_id=run.id, token=token, pipeline=pipeline,
                                partition=partition,
                                stage=STAGES[0], contract="invoices", contract_version="1.0.0",
                                flow_run_id=f"flow-{n}", schema_fingerprint="sha256:" + "3" * 64,
                                extracted=[{"name": "invoice_id", "logical_type": "string"}],
                                outcome="hold" if held else "pass",
                                classification="non-breaking" if held else "none"), at)  # fmt: skip
        if held:
            add(_row(m.HoldEvent, check_id=check.id, contract="invoices", contract_version="1.0.0",
                            status="pending"), at)  # fmt: skip
            message = approval_message(flow_run_id=f"flow-{n}", contract="invoices",
                                       fingerprint=check.schema_fingerprint,
                                       decision="approve")  # fmt: skip
            decision = add(_row(m.Decision, check_id=check.id, run_id=run.id, token=token,
                                      contract="invoices", decision="approve", approver="alice",
                                      reason="expected", signed=True, accepted=True,
                                      verdict="accepted"), at)  # fmt: skip
            add(_row(m.DecisionSignature, decision_id=decision.id, approver="alice",
                                    public_key=public,
                                    key_fingerprint=key_fingerprint(public),
                                    signature=sign(key, message)), at)  # fmt: skip
            add(_row(m.HoldEvent, check_id=check.id, contract="invoices", contract_version="1.0.0",
                            status="approved"), at)  # fmt: skip
        for kpi in KPIS:
            pub = add(_row(m.Publication, run_id=run.id, token=token, pipeline=pipeline, kpi=kpi,
                                    partition=partition, value=float(n), stage=STAGES[-1],
                                    output_fingerprint="sha256:" + "4" * 64), at)  # fmt: skip
            add(_row(m.KpiVersion, pipeline=pipeline, kpi=kpi, partition=partition, version=1,
                             token=token, run_id=run.id, publication_id=pub.id), at)  # fmt: skip
        add(_row(m.RunSummary, run_id=run.id, token=token, status="published"), at)
        published.append((pipeline, partition))
        if sum(len(v) for v in pending.values()) >= BATCH:
            flush()
            rate = state["written"] / (time.perf_counter() - started)
            print(f"  {state['written']:,} rows written ({rate:,.0f} rows/s)", flush=True)
    flush()
    return published, base, n


class _Row:
    """A ledger row as plain values, of a class that carries its table's name and fields, so
    ``hashformat.row_hash`` hashes it exactly as the row object (at a fraction of its cost)."""

    table: type
    model_fields: dict
    __tablename__: str

    def __init__(self, values: dict):
        self.__dict__["values"] = values

    def __getattr__(self, name: str):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


_kinds: dict[type, tuple[type, dict]] = {}


def _row(table: type, **values) -> _Row:
    if table not in _kinds:
        fields = table.model_fields
        kind = type(table.__name__, (_Row,), {"table": table, "model_fields": fields,
                                             "__tablename__": table.__tablename__})  # fmt: skip
        defaults = {n: f.get_default(call_default_factory=True) for n, f in fields.items()}
        _kinds[table] = (kind, defaults)
    kind, defaults = _kinds[table]
    return kind(defaults | values)


def _attempts(add, m, run, at: datetime) -> None:
    """A retried ingestion (transient failure, then success), then the other two stages."""
    lineage = {"token": run.token, "contract": {"name": "invoices", "version": "1.0.0"}}
    add(_row(m.StageAttempt, run_id=run.id, token=run.token, stage=STAGES[0], attempt=1,
                       state="retrying", started_at=at, ended_at=at, error_class="TransientError",
                       error_message="extract not landed yet", transient=True,
                       task_run_id="task-1", lineage=lineage), at)  # fmt: skip
    sources = [
        {"path": f"erp.invoices/{run.partition}.csv", "size": 1000, "sha256": "sha256:" + "5" * 64}
    ]
    for attempt, stage in ((2, STAGES[0]), (1, STAGES[1]), (1, STAGES[2])):
        tags = {
            **lineage,
            "tables": {"t": 10},
            **({"sources": sources} if stage == STAGES[0] else {}),
        }
        add(_row(m.StageAttempt, run_id=run.id, token=run.token, stage=stage, attempt=attempt,
                           state="completed", started_at=at, ended_at=at, task_run_id="task-1",
                           output_fingerprint="sha256:" + "6" * 64, rows=10,
                           lineage=tags), at)  # fmt: skip


def evidence_ms(url: str, published: list[tuple[str, str]], samples: int) -> list[float]:
    """Wall ms of the evidence command's work (chain, verification, JSON) per sample."""
    from barecount.ledger import ledger_at
    from barecount.ledger.evidence_chain import kpi_chain

    ledger = ledger_at(url)
    chosen = random.Random(15).sample(published, samples)
    timings = []
    for pipeline, partition in chosen:
        begin = time.perf_counter()
        with ledger.session() as session:
            chain = kpi_chain(session, kpi="revenue_daily", partition=partition, pipeline=pipeline)
        text = json.dumps(chain.to_json(), indent=2, sort_keys=True, default=str)
        timings.append((time.perf_counter() - begin) * 1000)
        assert chain.ok and text, chain.verification
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--export-runs", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=25)
    parser.add_argument("--url", help="an empty ledger database (default: SQLite, temporary)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="barecount-bench-evidence-"))
    url = args.url or f"sqlite:///{folder / 'ledger.db'}"
    os.environ.update(BARECOUNT_HOME=str(folder), BARECOUNT_LEDGER_URL=url)
    print(f"building a ledger of {args.rows:,} rows at {folder}", flush=True)
    begin = time.perf_counter()
    published, base, runs = build(url, args.rows)
    built = time.perf_counter() - begin
    timings = evidence_ms(url, published, args.samples)
    median, p95 = statistics.median(timings), sorted(timings)[int(0.95 * (len(timings) - 1))]
    print(f"evidence --json: median {median:.1f} ms, p95 {p95:.1f} ms over {len(timings)} KPIs")
    pipeline, partition = published[len(published) // 2]
    begin = time.perf_counter()
    cli = [sys.executable, "-m", "barecount.cli.main", "evidence", "revenue_daily", "-p", partition]
    done = subprocess.run(
        [*cli, "--pipeline", pipeline, "--json"], capture_output=True, check=False
    )
    cli_s = time.perf_counter() - begin
    assert done.returncode == 0, done.stderr
    from barecount.ledger import ledger_at
    from barecount.lineage.export import export_since
    from barecount.lineage.naming import Naming

    since = base + timedelta(seconds=runs - args.export_runs + 1)
    target = folder / "events.jsonl"
    begin = time.perf_counter()
    with ledger_at(url).session() as session, target.open("w") as out:
        exported, events = export_since(session, Naming(), since, out)
    export_s = time.perf_counter() - begin
    print(f"lineage export: {exported:,} runs, {events:,} events in {export_s:.1f} s "
          f"({events / export_s:,.0f} events/s) to {target}")  # fmt: skip
    print(json.dumps({
        "rows": args.rows, "build_s": round(built, 1), "evidence_median_ms": round(median, 1),
        "evidence_p95_ms": round(p95, 1), "target_median_ms": 100, "met": median <= 100,
        "cli_subprocess_s": round(cli_s, 2), "export_runs": exported, "export_events": events,
        "export_s": round(export_s, 2), "export_events_per_s": round(events / export_s),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
