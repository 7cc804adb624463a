"""Backfill throughput: governed_backfill vs plain Prefect tasks vs a subflow per partition.

Run: .venv/bin/python bench/backfill.py [--parallel P] [--sample N] [--invoices I]

Starts its own Prefect server (fresh temporary BARECOUNT_HOME, free port) and stops it at
the end, also on error. On that one server, in this process, it backfills the finance
example over 365 daily partitions (2025-11-27..2026-11-26) with I invoices per partition
(default 50; a copy of manifests/ with ``invoices_per_day`` changed), three ways, each with
its own fresh warehouse, landing folder, ledger and results folder so none reuses another's
extracts, tables or cache:

- ``governed``: ``governed_backfill(pipeline='finance-kpi', start, end, parallel=P)``: plan,
  run tokens, contract gate, ledger evidence, publication; afterwards the ledger's
  ``publication`` table is checked for 365 distinct partitions;
- ``plain_tasks``: the same three stage functions as plain ``@task`` tasks in one plain
  ``@flow``, at most P partitions in flight, each partition's stages in order, StageContext
  built directly (token ``plain-<key>``); no ledger, no gate;
- ``subflow_per_partition``: a plain ``@flow`` calling a plain ``@flow`` per partition,
  sequentially, each running the three stages as plain tasks: the naive approach. Measured
  on the first N partitions (default 30) and extrapolated to 365, labeled as such.

``governed`` and ``plain_tasks`` run with Prefect's flow-run heartbeats off (each flow run
otherwise waits up to 1 s for the heartbeat thread at its end; both sides alike);
``subflow_per_partition`` keeps Prefect's default heartbeat setting, which is the point of
that comparison. A small warm-up of each (own folders, not timed) runs first so imports and
first connections are not charged to whichever variant runs first.

Prints progress lines, then one JSON line: wall seconds of each, the ratio governed /
plain_tasks (target <= 2) and governed against 60 s, the published-partition count, CPU
seconds of this process and of the server in each variant. With ``--profile auto`` (the
default) a governed run that misses a target is followed by one profiled governed run
(cProfile in every thread this process starts, fresh folders) whose top costs are printed.

With ``--task-runner dask`` ``plain_tasks`` and ``governed`` run a second time with their
stages on a local Dask cluster of W worker processes (``--dask-workers``, default 2), started
by each flow run as a user's ``task_runner: {type: dask, workers: W}`` starts it (start-up
and shutdown included, on both sides): governed through BARECOUNT_TASK_RUNNER=dask and
BARECOUNT_TASK_RUNNER_WORKERS, plain through ``with_options(task_runner=DaskTaskRunner(
cluster_kwargs=...))``. It prints the ratios Dask/threads and governed/plain on Dask (no
target: figures to plan by).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _dask  # bench/_dask.py: --task-runner dask
import _local  # bench/_local.py: fresh home and free port (scripts run from bench/)

REPO = Path(__file__).resolve().parents[1]
PIPELINE = "finance-kpi"
START, END = "2025-11-27", "2026-11-26"
EXPECTED_PARTITIONS = 365
TARGET_RATIO = 1.5  # issue 14 (was 2.0): median of 3 interleaved pairs
TARGET_SECONDS = 60.0
HEARTBEAT_DEFAULT = "Prefect default"


def configure_environment(root: Path, log_level: str) -> None:
    """Point BareCount and Prefect at a fresh home and a free port; before Prefect is imported."""
    home = root / "home"
    _local.configure_environment(
        root,
        log_level,
        PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(home / "results-default"),
        unset=(
            "BARECOUNT_LEDGER_BLOCK",
            # so "Prefect default" really is Prefect's default for the subflow baseline
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY",
            "PREFECT_RUNNER_HEARTBEAT_FREQUENCY",
            "PREFECT_TASK_RUNNER_THREAD_POOL_MAX_WORKERS",
        ),
    )
    use_variant(root, "setup")


def use_variant(root: Path, name: str) -> Any:
    """Fresh warehouse, landing, ledger and results for one variant; returns its Settings."""
    folder = root / "variants" / name
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        BARECOUNT_WAREHOUSE=str(folder / "warehouse.db"),
        BARECOUNT_LANDING=str(folder / "landing"),
        BARECOUNT_LEDGER_URL=f"sqlite:///{folder / 'ledger.db'}",
        BARECOUNT_RESULTS=str(folder / "results"),
    )
    if "barecount.settings" not in sys.modules:
        return None
    from barecount.settings import get_settings

    get_settings.cache_clear()
    return get_settings()


def write_manifests(root: Path, invoices: int) -> Path:
    """The shipped manifests with the finance pipeline's invoices_per_day set to ``invoices``."""
    folder = root / "manifests"
    shutil.copytree(REPO / "manifests", folder)
    path = folder / "pipelines" / f"{PIPELINE}.yaml"
    text, found = re.subn(
        r"invoices_per_day: *\d+", f"invoices_per_day: {invoices}", path.read_text()
    )
    if found != 1:
        raise SystemExit(f"{path}: expected one 'invoices_per_day: N' to change, found {found}")
    path.write_text(text)
    return folder


class ClientRetries(logging.Filter):
    """Counts the Prefect client's back-offs on retryable answers (a busy server's 503s)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.logger = logging.getLogger("prefect.client")
        self.pass_level = self.logger.getEffectiveLevel()
        self.logger.setLevel(logging.DEBUG)
        self.logger.addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if "retryable" in record.getMessage():
            self.count += 1
        return record.levelno >= self.pass_level


def process_group_cpu(pgid: int | None) -> float:
    """CPU seconds (user + system) of the live processes in a process group (the server)."""
    if not pgid:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after "pid (comm)": state ppid pgrp ... utime(12) stime(13) cutime(14) cstime(15)
        if int(fields[2]) == pgid:
            total += sum(int(f) for f in fields[11:15])
    return total / tick


class Meter:
    """Wall, client CPU and server CPU seconds, and client back-offs, of one block."""

    def __init__(self, server_pgid: int | None, retries: ClientRetries) -> None:
        self.server_pgid = server_pgid
        self.retries = retries

    def quiet(self, settle: float, share: float, limit: float = 120.0) -> dict[str, float]:
        """Wait ``settle`` s, then until the server uses < ``share`` of a CPU over 1 s.

        The server records task runs from events after the client is done with them, and a
        variant started while it still works off the last one's backlog would share the
        CPUs with it. Returns the seconds waited and the server CPU seconds spent meanwhile.
        """
        start, cpu = time.perf_counter(), process_group_cpu(self.server_pgid)
        time.sleep(settle)
        last = process_group_cpu(self.server_pgid)
        while self.server_pgid and time.perf_counter() - start < limit:
            time.sleep(1.0)
            current = process_group_cpu(self.server_pgid)
            if current - last < share:
                break
            last = current
        return {
            "waited_s": round(time.perf_counter() - start, 1),
            "server_cpu_s": round(process_group_cpu(self.server_pgid) - cpu, 2),
        }

    def __call__(self, fn: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
        before = (
            time.perf_counter(),
            time.process_time(),
            process_group_cpu(self.server_pgid),
            self.retries.count,
        )
        value = fn()
        wall = time.perf_counter() - before[0]
        return value, {
            "wall_s": round(wall, 3),
            "client_cpu_s": round(time.process_time() - before[1], 2),
            "server_cpu_s": round(process_group_cpu(self.server_pgid) - before[2], 2),
            "client_retries": self.retries.count - before[3],
        }


def sqlite_path(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise SystemExit(f"expected a SQLite ledger URL, got {url}")
    return url.removeprefix("sqlite:///")


def published_partitions(ledger_url: str) -> int:
    with sqlite3.connect(sqlite_path(ledger_url)) as conn:
        return conn.execute(
            "SELECT count(DISTINCT partition) FROM publication WHERE pipeline = ?", (PIPELINE,)
        ).fetchone()[0]


def kpi_partitions(warehouse: Path) -> int:
    """Partitions with all three KPI rows in a variant's warehouse."""
    if not warehouse.exists():
        return 0
    with sqlite3.connect(warehouse) as conn:
        return conn.execute(
            "SELECT count(*) FROM (SELECT partition FROM kpi_values WHERE pipeline = ?"
            " GROUP BY partition HAVING count(DISTINCT kpi) = 3)",
            (PIPELINE,),
        ).fetchone()[0]


def plain_flows(stages: list[Any]) -> tuple[Any, Any]:
    """Plain Prefect flows over the manifest's stage functions: one graph, and subflows."""
    from prefect import flow, get_run_logger, task
    from prefect.futures import as_completed

    from barecount.runtime.stage import StageContext, StageResult
    from barecount.runtime.task import resolve
    from barecount.settings import get_settings

    names = [s.name for s in stages]
    for i, stage in enumerate(stages):  # the finance pipeline is a chain
        if list(stage.needs) != names[:i][-1:]:
            raise SystemExit(f"stage {stage.name}: expected a linear chain, needs {stage.needs}")

    def make_task(stage: Any) -> Any:
        function = resolve(stage.run)

        @task(name=stage.name, task_run_name=f"{stage.name}-{{partition}}")
        def plain_stage(partition: str, upstream: dict[str, StageResult]) -> StageResult:
            settings = get_settings()
            context = StageContext(
                pipeline=PIPELINE,
                stage=stage.name,
                partition=partition,
                token=f"plain-{partition}",
                params=stage.params,
                upstream=upstream,
                contract=stage.contract,
                warehouse=settings.warehouse,
                landing=settings.landing,
                logger=get_run_logger(),
            )
            return function(context)

        return plain_stage

    tasks = [make_task(s) for s in stages]

    @flow(name="plain-backfill")
    def plain_backfill(partitions: list[str], parallel: int) -> int:
        """Every partition's stages as tasks of this flow, at most ``parallel`` partitions
        in flight; a partition's next stage is submitted when its previous one finished."""
        waiting = list(partitions)
        running: dict[Any, tuple[str, int, dict[str, StageResult]]] = {}

        def submit(partition: str, index: int, results: dict[str, StageResult]) -> None:
            upstream = {need: results[need] for need in stages[index].needs}
            running[tasks[index].submit(partition, upstream)] = (partition, index, results)

        while waiting and len(running) < max(1, parallel):
            submit(waiting.pop(0), 0, {})
        finished = 0
        while running:
            future = next(as_completed(list(running)))
            partition, index, results = running.pop(future)
            results[stages[index].name] = future.result()  # raises if the task failed
            if index + 1 < len(stages):
                submit(partition, index + 1, results)
            else:
                finished += 1
                if waiting:
                    submit(waiting.pop(0), 0, {})
        return finished

    @flow(name="plain-partition", flow_run_name="plain-partition-{partition}")
    def plain_partition(partition: str) -> dict[str, StageResult]:
        results: dict[str, StageResult] = {}
        for stage, stage_task in zip(stages, tasks, strict=True):
            results[stage.name] = stage_task(
                partition, {need: results[need] for need in stage.needs}
            )
        return results

    @flow(name="plain-subflow-backfill")
    def subflow_backfill(partitions: list[str]) -> int:
        for partition in partitions:
            plain_partition(partition)
        return len(partitions)

    return plain_backfill, subflow_backfill


class ThreadProfiler:
    """cProfile in the calling thread and in every thread started while it is active.

    Threads started earlier (Prefect's background log and event workers of an earlier
    run) are not seen. Python 3.11: one cProfile.Profile per thread.
    """

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def _start_in_thread(self, *_: Any) -> None:
        sys.setprofile(None)
        profile = cProfile.Profile()
        with self.lock:
            self.profiles.append(profile)
        profile.enable()

    def __enter__(self) -> ThreadProfiler:
        threading.setprofile(self._start_in_thread)
        main = cProfile.Profile()
        self.profiles.append(main)
        main.enable()
        return self

    def __exit__(self, *exc: Any) -> None:
        threading.setprofile(None)  # type: ignore[arg-type]
        self.profiles[0].disable()

    def stats(self) -> pstats.Stats:
        stats = pstats.Stats(self.profiles[0])
        for profile in self.profiles[1:]:
            try:
                stats.add(profile)
            except (TypeError, ValueError):  # a thread that never ran Python code
                continue
        return stats


def top_costs(stats: pstats.Stats, key: str, limit: int, *, only: str = "") -> list[dict[str, Any]]:
    """The ``limit`` functions with the highest ``key`` (tottime or cumtime), as file:function,
    of files whose path contains ``only``."""
    column = {"tottime": 4, "cumtime": 5}[key]
    table = stats.stats  # type: ignore[attr-defined]
    rows = [(*where, nc, tt, ct) for where, (_, nc, tt, ct, _) in table.items() if only in where[0]]
    rows.sort(key=lambda r: r[column], reverse=True)
    out = []
    for filename, line, function, calls, tt, ct in rows[:limit]:
        short = filename
        for marker in ("site-packages/", "/src/"):
            if marker in filename:
                short = filename.split(marker, 1)[1]
                break
        out.append(
            {
                "where": f"{short}:{line}:{function}",
                "calls": calls,
                "tottime_s": round(tt, 3),
                "cumtime_s": round(ct, 3),
            }
        )
    return out


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from barecount.ledger import get_ledger
    from barecount.local_server import server_pid
    from barecount.manifest import load_manifests
    from barecount.manifest.partitions import partition_range
    from barecount.prefect_api import start_local_server, use_api
    from barecount.runtime.flows import governed_backfill
    from barecount.settings import get_settings

    manifests = write_manifests(root, args.invoices)
    spec = load_manifests(manifests).pipeline(PIPELINE)
    keys = [p.key for p in partition_range(START, END, spec.spec.partition)]
    if len(keys) != EXPECTED_PARTITIONS:
        raise SystemExit(f"{START}..{END} gave {len(keys)} partitions, not {EXPECTED_PARTITIONS}")
    plain_backfill, subflow_backfill = plain_flows(list(spec.spec.stages))
    sample = keys[: max(1, min(args.sample, len(keys)))]

    settings = use_variant(root, "setup")
    started = time.perf_counter()
    api = start_local_server(settings)
    server_pgid = server_pid(settings)
    print(f"server {api} up in {time.perf_counter() - started:.1f} s", flush=True)
    meter = Meter(server_pgid, ClientRetries())
    heartbeats_off = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}

    def heartbeat_setting() -> str:
        value = PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value()
        return (
            "off (PREFECT_FLOWS_HEARTBEAT_FREQUENCY=None)"
            if value is None
            else (f"{HEARTBEAT_DEFAULT} (PREFECT_FLOWS_HEARTBEAT_FREQUENCY={value})")
        )

    def governed(partitions: list[str]) -> dict[str, Any]:
        summary = governed_backfill(
            pipeline=PIPELINE,
            start=partitions[0],
            end=partitions[-1],
            parallel=args.parallel,
            manifests=str(manifests),
        )
        return summary["counts"]

    results: dict[str, Any] = {}
    with use_api(api):
        # Warm-up: a few partitions each, in throwaway folders, not timed.
        warm = keys[-3:]
        with temporary_settings(updates=heartbeats_off):
            use_variant(root, "warmup-plain")
            plain_backfill(warm, args.parallel)
            use_variant(root, "warmup-governed")
            governed(warm)
        use_variant(root, "warmup-subflow")
        subflow_backfill(warm[:1])
        on_dask = dask_variants(args, plain_backfill, governed)
        if on_dask:
            with temporary_settings(updates=heartbeats_off):
                for name, (_, variant) in on_dask.items():
                    use_variant(root, f"warmup-{name}")
                    variant(warm)
        print("warm-up done", flush=True)

        quiet = meter.quiet(args.settle, args.quiet_cpu)
        print(f"server quiet after {quiet['waited_s']} s", flush=True)

        def measure(name: str, fn: Callable[[], Any]) -> tuple[Any, dict[str, Any], Any]:
            settings = use_variant(root, name)
            value, m = meter(fn)
            drain = meter.quiet(args.settle, args.quiet_cpu)  # also the next one's settle
            m |= {
                "server_cpu_after_s": drain["server_cpu_s"],
                "server_quiet_after_s": drain["waited_s"],
                "flow_heartbeats": heartbeat_setting(),
            }
            return value, m, settings

        with temporary_settings(updates=heartbeats_off):
            finished, m, settings = measure(
                "plain_tasks", lambda: plain_backfill(keys, args.parallel)
            )
            results["plain_tasks"] = m | {
                "partitions": len(keys),
                "finished": finished,
                "partitions_with_kpis": kpi_partitions(settings.warehouse),
                "parallel": args.parallel,
            }
            print(f"plain_tasks: {m['wall_s']:.1f} s", flush=True)

            counts, m, settings = measure("governed", lambda: governed(keys))
            results["governed"] = m | {
                "partitions": len(keys),
                "counts": counts,
                "published_partitions": published_partitions(get_ledger(settings).url),
                "partitions_with_kpis": kpi_partitions(settings.warehouse),
                "parallel": args.parallel,
            }
            print(f"governed: {m['wall_s']:.1f} s, counts {counts}", flush=True)

            for name, (threads, variant) in on_dask.items():
                value, m, settings = measure(name, lambda variant=variant: variant(keys))
                results[name] = m | {
                    "value": value,
                    "partitions_with_kpis": kpi_partitions(settings.warehouse),
                    "over_threads": round(m["wall_s"] / results[threads]["wall_s"], 3),
                }
                if name == "governed_dask":
                    ledger = get_ledger(settings).url
                    results[name]["published_partitions"] = published_partitions(ledger)
                print(f"{name}: {m['wall_s']:.1f} s", flush=True)

        # Prefect's default heartbeat setting here: that is what the naive approach pays.
        _, m, settings = measure("subflow_per_partition", lambda: subflow_backfill(sample))
        per_partition = m["wall_s"] / len(sample)
        results["subflow_per_partition"] = m | {
            "partitions": len(sample),
            "measured_wall_s": m["wall_s"],
            "per_partition_s": round(per_partition, 3),
            "extrapolated_wall_s_365": round(per_partition * len(keys), 1),
            "partitions_with_kpis": kpi_partitions(settings.warehouse),
        }
        print(
            f"subflow_per_partition: {m['wall_s']:.1f} s for {len(sample)} partitions",
            flush=True,
        )

        gov, plain = results["governed"]["wall_s"], results["plain_tasks"]["wall_s"]
        missed = gov > TARGET_RATIO * plain or gov > TARGET_SECONDS
        if args.profile == "always" or (args.profile == "auto" and missed):
            use_variant(root, "governed-profile")
            with temporary_settings(updates=heartbeats_off), ThreadProfiler() as profiler:
                start = time.perf_counter()
                counts = governed(keys)
                profiled_wall = time.perf_counter() - start
            merged = profiler.stats()
            main = pstats.Stats(profiler.profiles[0])
            results["profile"] = {
                "wall_s_under_profiler": round(profiled_wall, 3),
                "threads_profiled": len(profiler.profiles),
                "counts": counts,
                # the flow's own thread: the scheduling loop, which submits the next tasks
                "main_thread_barecount_cumtime": top_costs(
                    main, "cumtime", args.top, only="/src/barecount/"
                ),
                "main_thread_tottime": top_costs(main, "tottime", args.top),
                "all_threads_tottime": top_costs(merged, "tottime", args.top),
                "all_threads_barecount_cumtime": top_costs(
                    merged, "cumtime", args.top, only="/src/barecount/"
                ),
            }
            if args.profile_out:
                merged.dump_stats(args.profile_out)
                main.dump_stats(f"{args.profile_out}.main")
                results["profile"]["pstats_files"] = [args.profile_out, f"{args.profile_out}.main"]

    get_settings.cache_clear()
    return results


def dask_variants(
    args: argparse.Namespace, plain_backfill: Any, governed: Callable[[list[str]], Any]
) -> dict[str, tuple[str, Callable[[list[str]], Any]]]:
    """With --task-runner dask: name -> (the threads variant it compares with, run(keys))."""
    if args.task_runner != "dask":
        return {}
    cluster = _dask.cluster_kwargs(args.dask_workers)
    plain = _dask.plain_on_dask(plain_backfill, cluster_kwargs=cluster)
    env = {
        "BARECOUNT_TASK_RUNNER": "dask",
        "BARECOUNT_TASK_RUNNER_WORKERS": str(cluster["n_workers"]),
    }

    def governed_on_dask(keys: list[str]) -> Any:
        return _dask.on_dask(lambda: governed(keys), **env)()

    return {
        "plain_tasks_dask": ("plain_tasks", lambda keys: plain(keys, args.parallel)),
        "governed_dask": ("governed", governed_on_dask),
    }


def dask_report(args: argparse.Namespace, results: dict[str, Any]) -> tuple[dict, list[str]]:
    """The --task-runner dask figures: JSON and lines."""
    gov, plain = results["governed_dask"], results["plain_tasks_dask"]
    ratio = round(gov["wall_s"] / plain["wall_s"], 3)
    out = {
        "workers": args.dask_workers,
        "governed": gov,
        "plain_tasks": plain,
        "ratio_governed_over_plain": ratio,
        "governed_over_threads": gov["over_threads"],
        "plain_over_threads": plain["over_threads"],
    }
    lines = [
        f"  on a local Dask cluster of {args.dask_workers} worker processes, per flow run:",
        f"  governed_dask          {gov['wall_s']:8.1f} s  ({gov['over_threads']}x threads; "
        f"published partitions {gov['published_partitions']}, counts {gov['value']})",
        f"  plain_tasks_dask       {plain['wall_s']:8.1f} s  ({plain['over_threads']}x threads)",
        f"  governed / plain_tasks on dask = {ratio:.2f}x",
    ]
    return out, lines


def report(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    gov, plain = results["governed"], results["plain_tasks"]
    sub = results["subflow_per_partition"]
    ratio = gov["wall_s"] / plain["wall_s"]
    out: dict[str, Any] = {
        "benchmark": "backfill",
        "pipeline": PIPELINE,
        "range": [START, END],
        "partitions": EXPECTED_PARTITIONS,
        "invoices_per_day": args.invoices,
        "parallel": args.parallel,
        "cpus": os.cpu_count(),
        "log_level": args.log_level,
        "governed": gov,
        "plain_tasks": plain,
        "subflow_per_partition": sub,
        "ratio_governed_over_plain": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "meets_ratio_target": ratio <= TARGET_RATIO,
        "target_governed_s": TARGET_SECONDS,
        "meets_time_target": gov["wall_s"] <= TARGET_SECONDS,
        "published_partitions": gov["published_partitions"],
        "all_published": gov["published_partitions"] == EXPECTED_PARTITIONS,
    }
    if "profile" in results:
        out["profile"] = results["profile"]
    dask_lines: list[str] = []
    if "governed_dask" in results:
        out["dask"], dask_lines = dask_report(args, results)

    def cpu(r: dict[str, Any]) -> str:
        return (
            f"client CPU {r['client_cpu_s']} s, server CPU {r['server_cpu_s']} s "
            f"+ {r['server_cpu_after_s']} s after; heartbeats {r['flow_heartbeats']}"
        )

    lines = [
        f"backfill {PIPELINE} {START}..{END}: {EXPECTED_PARTITIONS} daily partitions, "
        f"{args.invoices} invoices each, parallel {args.parallel}, {os.cpu_count()} CPUs",
        f"  governed               {gov['wall_s']:8.1f} s  ({cpu(gov)})",
        f"  plain_tasks            {plain['wall_s']:8.1f} s  ({cpu(plain)})",
        f"  subflow_per_partition  {sub['measured_wall_s']:8.1f} s measured on "
        f"{sub['partitions']} partitions, {sub['per_partition_s']:.2f} s each ({cpu(sub)})",
        f"  subflow_per_partition  {sub['extrapolated_wall_s_365']:8.1f} s EXTRAPOLATED to "
        f"{EXPECTED_PARTITIONS} partitions (not measured)",
        f"  governed / plain_tasks = {ratio:.2f}x (target <= {TARGET_RATIO:g}x: "
        f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}); governed "
        f"{gov['wall_s']:.1f} s (target <= {TARGET_SECONDS:g} s: "
        f"{'met' if gov['wall_s'] <= TARGET_SECONDS else 'MISSED'})",
        f"  published partitions in the governed ledger: {gov['published_partitions']}"
        f"/{EXPECTED_PARTITIONS} (backfill counts {gov['counts']}); partitions with KPIs in "
        f"each warehouse: governed {gov['partitions_with_kpis']}, plain_tasks "
        f"{plain['partitions_with_kpis']}, subflow {sub['partitions_with_kpis']}/"
        f"{sub['partitions']}",
        f"  client back-offs (server busy): governed {gov['client_retries']}, plain_tasks "
        f"{plain['client_retries']}, subflow {sub['client_retries']}",
    ]
    if "profile" in results:
        prof = results["profile"]
        lines.append(
            f"  profile of one more governed run ({prof['wall_s_under_profiler']:.1f} s under "
            f"the profiler, {prof['threads_profiled']} threads, counts {prof['counts']})"
        )
        sections = (
            (
                "main thread (the flow's scheduling loop), barecount functions by cumulative",
                "main_thread_barecount_cumtime",
            ),
            ("main thread, by own time", "main_thread_tottime"),
            ("all threads, barecount functions by cumulative", "all_threads_barecount_cumtime"),
            ("all threads, by own time (waits included)", "all_threads_tottime"),
        )
        for title, key in sections:
            lines.append(f"  {title}:")
            for row in prof[key]:
                lines.append(
                    f"    {row['cumtime_s']:8.2f} s cum {row['tottime_s']:8.2f} s own "
                    f"{row['calls']:>7} calls  {row['where']}"
                )
    print("\n".join(lines + dask_lines))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parallel", type=int, default=8, help="partitions in flight (8)")
    parser.add_argument(
        "--sample", type=int, default=30, help="partitions for the subflow baseline (30)"
    )
    parser.add_argument("--invoices", type=int, default=50, help="invoices per partition (50)")
    parser.add_argument(
        "--log-level", default="WARNING", help="PREFECT_LOGGING_LEVEL for all (WARNING)"
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds of quiet before each variant (3)"
    )
    parser.add_argument(
        "--quiet-cpu",
        type=float,
        default=0.15,
        help="then wait until the server uses less than this share of a CPU (0.15)",
    )
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="profile one more governed run: when a target is missed (auto), always, never",
    )
    parser.add_argument("--top", type=int, default=15, help="profile rows per section (15)")
    parser.add_argument("--profile-out", help="also write the merged pstats to this file")
    parser.add_argument(
        "--task-runner",
        choices=("threads", "dask"),
        default="threads",
        help="dask: also run governed and plain_tasks on Dask (needs barecount[dask])",
    )
    parser.add_argument("--dask-workers", type=int, default=2, help="Dask worker processes (2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args()
    if min(args.parallel, args.sample, args.invoices, args.dask_workers) < 1:
        parser.error("--parallel, --sample, --invoices and --dask-workers must be at least 1")

    root = Path(tempfile.mkdtemp(prefix="barecount-bench-backfill-"))
    configure_environment(root, args.log_level)  # before anything imports Prefect
    try:
        results = run(args, root)
    finally:
        _local.shutdown(root, args.keep)
    print(json.dumps(report(args, results)))


if __name__ == "__main__":
    main()
