"""The Evidence Ledger at scale: appends/s with concurrent writers, verify and ``ledger show``
on 1,000,000 rows (issue 14).

Run: .venv/bin/python bench/ledger.py [--seconds S] [--writers W] [--repeat R] [--rows N]
     [--skip-pg-verify]

1. ``appends``: W writer processes (and 1), started together behind a barrier, each appending
   for S seconds with the ledger's own ``start_run`` + ``finish_run`` (one transaction, one
   append each; both count), each writer its own pipeline; R rounds of every case,
   interleaved, medians reported (the machine is shared). On SQLite, and on PostgreSQL two
   ways: ``global`` = ``Ledger(url, lanes=1)``, every append behind one lock (the code path
   before lanes, kept for this comparison), and ``lanes`` = ``Ledger(url, lanes=16)``. A fresh
   database per case. Ratios: lanes W / global W (target >= 8) and lanes W / lanes 1 (> 1).
2. ``verify``: a ledger of ``--rows`` rows built with bulk inserts through the ledger's own
   hashing (bench/evidence.py's builder; on PostgreSQL spread over 16 lanes), then the real
   ``barecount ledger verify`` in a subprocess: wall seconds and the child's peak RSS
   (target <= 200 MiB).
3. ``show``: ``barecount ledger show --token`` on that ledger: the median of 25 runs of the
   work behind it, in this process (target <= 50 ms), and one CLI subprocess for reference.

Prints a table of every figure, then one JSON line with them all.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import evidence  # bench/evidence.py: the bulk builder (scripts run from bench/)

PG_ADMIN = os.environ.get("BARECOUNT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
APPEND_TARGET, VERIFY_MIB, SHOW_MS = 8.0, 200, 50


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards (as tests/conftest.py does)."""
    import psycopg2
    from sqlalchemy.engine import make_url

    name = f"bc_bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(PG_ADMIN, connect_timeout=3)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG_ADMIN).set(drivername="postgresql+psycopg2", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _writer(url: str, lanes: int, name: str, barrier, seconds: float, results) -> None:
    """One writer process: open the ledger, wait for the others, append for ``seconds``."""
    from barecount.ledger.ledger import Ledger

    ledger = Ledger(url, lanes=lanes)
    ledger.ping()  # schema and lanes ready before the clock starts
    barrier.wait()
    begin, cpu = time.perf_counter(), time.process_time()
    n = 0
    while time.perf_counter() - begin < seconds:
        run = ledger.start_run(
            token=f"{name}-{n}",
            pipeline=name,
            partition="2026-12-01",
            manifest_digest="sha256:" + "0" * 64,
            contract_versions={"invoices": "1.0.0"},
            trigger="bench",
            flow_run_id=None,
        )
        ledger.finish_run(run=run, status="published")
        n += 2
    results.put((n, time.perf_counter() - begin, time.process_time() - cpu))
    ledger.dispose()


def appends_per_s(url: str, lanes: int, writers: int, seconds: float) -> tuple[float, float]:
    """Appends per second of ``writers`` processes together on the ledger at ``url``, and
    the writers' own CPU ms per append (what bounds the rate on a machine of few cores)."""
    _prepare(url, lanes)
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(writers), spawn.Queue()
    procs = [
        spawn.Process(
            target=_writer, args=(url, lanes, f"pipeline-{i:02d}", barrier, seconds, results)
        )
        for i in range(writers)
    ]
    for proc in procs:
        proc.start()
    done = [results.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0, f"a writer failed (exit {proc.exitcode})"
    appended = sum(n for n, _, _ in done)
    _check(url, appended)
    return appended / max(s for _, s, _ in done), 1000 * sum(c for *_, c in done) / appended


def _check(url: str, appended: int) -> None:
    """The writers' rows are all there and the chain verifies: speed did not cost the proof."""
    from barecount.ledger.ledger import Ledger

    ledger = Ledger(url)
    result = ledger.verify()
    ledger.dispose()
    assert result.ok and result.rows == appended, (result, appended)


def _prepare(url: str, lanes: int) -> None:
    """Create the schema and lanes once, before the writers race to."""
    from barecount.ledger.ledger import Ledger

    ledger = Ledger(url, lanes=lanes)
    ledger.ping()
    ledger.dispose()


def measure_appends(writers: int, seconds: float, repeat: int) -> dict[str, float]:
    """Every case ``repeat`` times, interleaved (the machine is shared): the median of each."""
    cases = [("sqlite", 1, n) for n in (1, writers)]
    cases += [
        (path, lanes, n) for path, lanes in (("global", 1), ("lanes", 16)) for n in (1, writers)
    ]
    rates: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for round_ in range(1, repeat + 1):
        for path, lanes, n in cases:
            if path == "sqlite":
                folder = Path(tempfile.mkdtemp(prefix="barecount-bench-ledger-"))
                rate, ms = appends_per_s(f"sqlite:///{folder / 'ledger.db'}", 1, n, seconds)
            else:
                with pg_database() as url:
                    rate, ms = appends_per_s(url, lanes, n, seconds)
            rates.setdefault(f"{path}_{n}", []).append(rate)
            cpu.setdefault(f"{path}_{n}_cpu_ms", []).append(ms)
            print(
                f"  round {round_}: appends {path:7} {n} writer(s): {rate:8,.0f}/s, "
                f"writer CPU {ms:.2f} ms/append, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    return {case: statistics.median(found) for case, found in (rates | cpu).items()}


def verify_cli(url: str) -> tuple[float, float, dict]:
    """``barecount ledger verify --json`` in a subprocess: (wall s, peak RSS MiB, its JSON)."""
    cmd = [sys.executable, "-m", "barecount.cli.main", "ledger", "verify", "--json"]
    env = {**os.environ, "BARECOUNT_LEDGER_URL": url}
    begin = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env, check=False
    )
    wall = time.perf_counter() - begin
    assert done.returncode == 0, done.stdout + done.stderr
    kib = next(
        int(line.split(":")[1]) for line in done.stderr.splitlines() if "Maximum resident" in line
    )
    return wall, kib / 1024, json.loads(done.stdout)


def show_ms(url: str, tokens: list[str], samples: int) -> list[float]:
    """Wall ms of the work of ``ledger show --token T --json`` (the evidence of a token, its
    partition's KPI versions, the JSON), for random tokens."""
    from barecount.ledger import ledger_at
    from barecount.ledger.publish import history

    ledger = ledger_at(url)
    timings = []
    for token in random.Random(14).sample(tokens, samples):
        begin = time.perf_counter()
        found = ledger.evidence(token=token)
        with ledger.session() as session:
            first = found.runs[0]
            versions = history(session=session, pipeline=first.pipeline, partition=first.partition)
        shown = {
            "runs": [r.model_dump(mode="json") for r in found.runs],
            "attempts": [a.model_dump(mode="json") for a in found.attempts],
            "publications": [p.model_dump(mode="json") for p in found.publications],
            "summaries": [s.model_dump(mode="json") for s in found.summaries],
            "versions": [v.model_dump(mode="json") for v in versions],
        }
        text = json.dumps(shown, indent=2, sort_keys=True)
        timings.append((time.perf_counter() - begin) * 1000)
        assert found.publications and versions and text
    return timings


def show_cli_s(url: str, token: str) -> float:
    cmd = [sys.executable, "-m", "barecount.cli.main", "ledger", "show", "--token", token]
    env = {**os.environ, "BARECOUNT_LEDGER_URL": url}
    begin = time.perf_counter()
    done = subprocess.run([*cmd, "--json"], capture_output=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return time.perf_counter() - begin


def measure_big(name: str, url: str, rows: int, samples: int) -> dict[str, float]:
    """Build ``rows`` rows at ``url``, verify them with the CLI, time ``ledger show``."""
    begin = time.perf_counter()
    _, _, runs = evidence.build(url, rows, lanes=16)
    built = time.perf_counter() - begin
    print(f"  {name}: built {rows:,} rows in {built:.0f} s", flush=True)
    wall, mib, result = verify_cli(url)
    assert result["ok"], result
    tokens = [f"rt-{n:08d}" for n in range(1, runs + 1)]
    timings = show_ms(url, tokens, samples)
    found = {
        "build_s": built,
        "verify_rows": result["rows"],
        "verify_s": wall,
        "verify_peak_mib": mib,
        "show_median_ms": statistics.median(timings),
        "show_p95_ms": sorted(timings)[int(0.95 * (len(timings) - 1))],
        "show_cli_s": show_cli_s(url, tokens[len(tokens) // 2]),
    }
    print(
        f"  {name}: verify {result['rows']:,} rows in {wall:.1f} s, peak RSS {mib:.0f} MiB; "
        f"show median {found['show_median_ms']:.1f} ms",
        flush=True,
    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="appending, per case")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the append cases")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=25, help="ledger show runs timed")
    parser.add_argument("--skip-pg-verify", action="store_true", help="the 1M rows on SQLite only")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="barecount-bench-ledger-"))
    os.environ.update(BARECOUNT_HOME=str(folder / "home"), BARECOUNT_CHECKPOINT_FILE="off")
    print(f"appends: {args.seconds:g} s per case, {args.repeat} rounds, in {folder}", flush=True)
    figures: dict[str, float] = {f"appends_{k}": v for k, v in measure_appends(
        args.writers, args.seconds, args.repeat).items()}  # fmt: skip
    print(f"verify and show on {args.rows:,} rows", flush=True)
    big = {"sqlite": f"sqlite:///{folder / 'big.db'}"}
    for name, url in big.items():
        figures |= {
            f"{name}_{k}": v for k, v in measure_big(name, url, args.rows, args.samples).items()
        }
    if not args.skip_pg_verify:
        with pg_database() as url:
            figures |= {
                f"postgres_{k}": v
                for k, v in measure_big("postgres", url, args.rows, args.samples).items()
            }
            from barecount.ledger import close_ledgers

            close_ledgers()
    report(figures, args.writers)


def report(figures: dict[str, float], writers: int) -> None:
    w = writers
    lanes_vs_global = figures[f"appends_lanes_{w}"] / figures[f"appends_global_{w}"]
    lanes_vs_one = figures[f"appends_lanes_{w}"] / figures["appends_lanes_1"]
    ceiling = 1000 * (os.cpu_count() or 1) / figures[f"appends_lanes_{w}_cpu_ms"]
    figures |= {"ratio_lanes_vs_global": lanes_vs_global, "ratio_lanes_vs_one": lanes_vs_one}
    rows = [
        ("appends/s SQLite, 1 writer", figures["appends_sqlite_1"], ""),
        (f"appends/s SQLite, {w} writers", figures[f"appends_sqlite_{w}"], ""),
        ("appends/s PostgreSQL global lock, 1 writer", figures["appends_global_1"], ""),
        (f"appends/s PostgreSQL global lock, {w} writers", figures[f"appends_global_{w}"], ""),
        ("appends/s PostgreSQL 16 lanes, 1 writer", figures["appends_lanes_1"], ""),
        (f"appends/s PostgreSQL 16 lanes, {w} writers", figures[f"appends_lanes_{w}"], ""),
        (f"ratio lanes {w} / global {w}", lanes_vs_global, f">= {APPEND_TARGET:g}"),
        (f"ratio lanes {w} / lanes 1", lanes_vs_one, "> 1"),
        (f"writer CPU ms/append, lanes {w}", figures[f"appends_lanes_{w}_cpu_ms"], ""),
        (f"ceiling appends/s: {os.cpu_count()} cores / that CPU", ceiling, "(client alone)"),
    ]
    for db in ("sqlite", "postgres"):
        if f"{db}_verify_s" not in figures:
            continue
        rows += [
            (f"{db}: verify rows", figures[f"{db}_verify_rows"], ""),
            (f"{db}: verify seconds (CLI)", figures[f"{db}_verify_s"], ""),
            (f"{db}: verify peak RSS MiB", figures[f"{db}_verify_peak_mib"], f"<= {VERIFY_MIB}"),
            (f"{db}: ledger show median ms", figures[f"{db}_show_median_ms"], f"<= {SHOW_MS}"),
            (f"{db}: ledger show p95 ms", figures[f"{db}_show_p95_ms"], ""),
            (f"{db}: ledger show CLI wall s", figures[f"{db}_show_cli_s"], ""),
        ]
    print(f"\n{'figure':52} {'value':>12}  target")
    for label, value, target in rows:
        print(f"{label:52} {value:12,.2f}  {target}")
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
