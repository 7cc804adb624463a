"""Runtime overhead of the governed flow vs plain Prefect tasks, and of the finance example.

Run: .venv/bin/python bench/overhead.py [--repeat R] [--stages N] [--invoices I]
     [--task-runner dask [--dask-workers W]]

Starts its own Prefect server (fresh temporary BARECOUNT_HOME, free port) and stops it at
the end. On that one server, in this process, it times:

- ``governed_pipeline`` on a pipeline of N no-op stages (one ingestion stage + N-1
  transforms), linear (each needs the previous) and wide (all need the ingestion stage),
  each run under a fresh run token so nothing is cached; ledger writes are included;
- a plain Prefect flow of N no-op ``@task`` tasks of the same shape (default task options);
- the finance example, one partition of I invoices (extract written before timing), with
  the stage-code time read from the ledger's stage_attempt rows.

Each N-stage measurement runs once to warm up, then R times, interleaved, each after
--settle seconds of quiet (a busy SQLite server answers a new flow run with 503 and the
client backs off ~2 s). Prefect's flow-run heartbeats are off on both sides unless
--heartbeats: they round every flow run up to whole seconds. Prints progress lines, then one
JSON line with best and median wall seconds, ratios governed/plain (target <= 1.5) and the
finance figures.

With ``--task-runner dask`` it also starts one local Dask cluster of W worker processes
(default 2; its start-up is reported, not timed) and times every case a second time with the
stages on it: governed runs through BARECOUNT_DASK_ADDRESS, the plain flows through
``with_options(task_runner=DaskTaskRunner(address=...))``. It prints governed/plain on Dask
and each side's ratio Dask/threads (no target: a figure to plan by).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _dask  # bench/_dask.py: --task-runner dask
import _local  # bench/_local.py: fresh home and free port (scripts run from bench/)

REPO = Path(__file__).resolve().parents[1]
PARTITION = "2026-11-26"
DASK_PARTITION = "2026-11-25"  # the finance run on Dask publishes its own partition
TARGET_RATIO = 1.5

NOOP_MODULE = "bench_noop_stages"
NOOP_STAGES = '''\
"""No-op stages for bench/overhead.py (written at run time)."""

from barecount.governance.schema import ExtractedSchema, SchemaColumn
from barecount.runtime.stage import StageContext, StageResult

# What a clean invoices extract looks like, so the contract gate has nothing to hold.
INVOICES = ExtractedSchema(
    object="invoices",
    columns=(
        SchemaColumn(name="invoice_id", logical_type="string", required=True),
        SchemaColumn(name="customer_id", logical_type="string", required=True),
        SchemaColumn(name="amount", logical_type="number", required=True),
        SchemaColumn(name="currency", logical_type="string", required=True),
        SchemaColumn(name="issue_date", logical_type="date", required=True),
        SchemaColumn(name="due_date", logical_type="date", required=True),
        SchemaColumn(name="paid_date", logical_type="date", required=False),
    ),
)


def noop_ingest(ctx: StageContext) -> StageResult:
    return StageResult(fingerprint="sha256:" + "0" * 64, schema=INVOICES)


def noop(ctx: StageContext) -> StageResult:
    return StageResult(fingerprint="sha256:" + "0" * 64)
'''


def configure_environment(root: Path, log_level: str) -> None:
    """Point BareCount and Prefect at a fresh home and a free port; before Prefect is imported."""
    home = root / "home"
    _local.configure_environment(
        root,
        log_level,
        **_local.ledger_env(home),
        PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(home / "results"),
    )


def write_noop_manifests(root: Path, stages: int) -> Path:
    """A manifests folder with the shipped teams and contracts and the linear and wide pipelines."""
    (root / f"{NOOP_MODULE}.py").write_text(NOOP_STAGES)
    sys.path.insert(0, str(root))
    folder = root / "manifests-noop"
    shutil.copytree(REPO / "manifests" / "teams", folder / "teams")
    shutil.copytree(REPO / "manifests" / "contracts", folder / "contracts")
    (folder / "pipelines").mkdir()
    ingest = {
        "name": "s000",
        "kind": "ingestion",
        "run": f"{NOOP_MODULE}:noop_ingest",
        "contract": "invoices",
    }
    for shape in ("linear", "wide"):
        steps = [ingest]
        for i in range(1, stages):
            need = f"s{i - 1:03d}" if shape == "linear" else "s000"
            steps.append(
                {
                    "name": f"s{i:03d}",
                    "kind": "transform",
                    "needs": [need],
                    "run": f"{NOOP_MODULE}:noop",
                }
            )
        document = {
            "apiVersion": "barecount/v1",
            "kind": "Pipeline",
            "metadata": {"name": f"noop-{shape}", "owner": "finance-data"},
            "spec": {"stages": steps},
        }
        # JSON is YAML
        (folder / "pipelines" / f"noop-{shape}.yaml").write_text(json.dumps(document, indent=2))
    return folder


def write_finance_manifests(root: Path, invoices: int) -> Path:
    """The shipped manifests with the finance pipeline's invoices_per_day set to ``invoices``."""
    folder = root / "manifests-finance"
    shutil.copytree(REPO / "manifests", folder)
    path = folder / "pipelines" / "finance-kpi.yaml"
    text, found = re.subn(
        r"invoices_per_day: *\d+", f"invoices_per_day: {invoices}", path.read_text()
    )
    if found != 1:
        raise SystemExit(f"{path}: expected one 'invoices_per_day: N' to change, found {found}")
    path.write_text(text)
    return folder


def plain_flows(stages: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Plain Prefect flows of ``stages`` no-op tasks: linear chain and wide fan-out."""
    from prefect import flow, task

    @task
    def noop_task(i: int, upstream: Any = None) -> int:
        return i

    @flow(name="plain-linear")
    def plain_linear() -> int:
        future = noop_task.submit(0)
        for i in range(1, stages):
            future = noop_task.submit(i, future)  # waits for the previous task's result
        return future.result()

    @flow(name="plain-wide")
    def plain_wide() -> int:
        first = noop_task.submit(0)
        futures = [noop_task.submit(i, first) for i in range(1, stages)]
        return sum(f.result() for f in futures)

    return plain_linear, plain_wide


class ClientRetries(logging.Filter):
    """Counts the Prefect client's back-offs on retryable answers, e.g. a 503 from the server.

    A local server on SQLite answers 503 to a new flow run while it is still recording the
    last run's task runs, and the client then sleeps about 2 s: that is the server's cost,
    not the flow's, so the bench lets the server settle between runs and reports any that
    still happened. Installed on the ``prefect.client`` logger at DEBUG, it drops the records
    below the logger's own level again, so the console stays as it was.
    """

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


def timed(fn: Callable[[], Any], *, settle: float, retries: ClientRetries) -> tuple[float, int]:
    """Wall seconds of ``fn()`` after ``settle`` seconds of quiet, and client retries in it."""
    time.sleep(settle)
    before = retries.count
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start, retries.count - before


def summarize(times: list[float]) -> dict[str, Any]:
    return {
        "best_s": round(min(times), 3),
        "median_s": round(statistics.median(times), 3),
        "runs_s": [round(t, 3) for t in times],
    }


def stage_code_seconds(ledger_url: str, run_id: int) -> float:
    """Sum of (ended_at - started_at) over the run's completed stage attempts in the ledger."""
    from sqlalchemy import select

    from barecount.ledger import ledger_at
    from barecount.ledger.models import StageAttempt

    with ledger_at(ledger_url).session() as session:
        attempts = session.execute(
            select(StageAttempt).where(
                StageAttempt.run_id == run_id, StageAttempt.state == "completed"
            )
        ).scalars()
        return sum((a.ended_at - a.started_at).total_seconds() for a in attempts)


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from barecount.examples.finance import write_extract
    from barecount.ledger import get_ledger
    from barecount.prefect_api import start_local_server, use_api
    from barecount.runtime.flows import governed_pipeline
    from barecount.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    started = time.perf_counter()
    api = start_local_server(settings)
    print(f"server {api} up in {time.perf_counter() - started:.1f} s", flush=True)

    noop_manifests = write_noop_manifests(root, args.stages)
    plain_linear, plain_wide = plain_flows(args.stages)

    def governed(shape: str) -> Callable[[], Any]:
        def call() -> Any:
            summary = governed_pipeline(
                pipeline=f"noop-{shape}",
                partition=PARTITION,
                manifests=str(noop_manifests),
                run_token=f"bench-{uuid.uuid4().hex}",  # fresh token: no cache hits
            )
            if summary["status"] != "completed" or len(summary["stages"]) != args.stages:
                raise RuntimeError(f"noop-{shape} did not complete: {summary['status']}")

        return call

    cases = {
        "governed_linear": governed("linear"),
        "plain_linear": plain_linear,
        "governed_wide": governed("wide"),
        "plain_wide": plain_wide,
    }
    stack = contextlib.ExitStack()
    dask: dict[str, Any] = {}
    if args.task_runner == "dask":
        address, startup = stack.enter_context(_dask.local_cluster(args.dask_workers))
        dask = {"address": address, "workers": args.dask_workers, "startup_s": round(startup, 2)}
        print(f"dask cluster {address}: {args.dask_workers} workers in {startup:.1f} s", flush=True)
        for shape, plain in (("linear", plain_linear), ("wide", plain_wide)):
            cases[f"governed_{shape}_dask"] = _dask.on_dask(
                governed(shape), BARECOUNT_DASK_ADDRESS=address
            )
            cases[f"plain_{shape}_dask"] = _dask.plain_on_dask(plain, address=address)
    times: dict[str, list[float]] = {name: [] for name in cases}
    retried: dict[str, int] = dict.fromkeys(cases, 0)
    client_retries = ClientRetries()
    # Prefect's flow-run heartbeat thread sleeps in 1 s steps and every flow run waits for it
    # to notice the end, which rounds each wall time up to whole seconds (DESIGN.md 7) and
    # hides sub-second differences; both sides get the same setting.
    heartbeats = {} if args.heartbeats else {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    with stack, use_api(api), temporary_settings(updates=heartbeats):
        for name, fn in cases.items():
            wall, _ = timed(fn, settle=args.settle, retries=client_retries)
            print(f"warm-up {name}: {wall:.2f} s", flush=True)
        for r in range(args.repeat):  # interleaved, so drift on the machine hits all alike
            for name, fn in cases.items():
                wall, n = timed(fn, settle=args.settle, retries=client_retries)
                times[name].append(wall)
                retried[name] += n
            print(
                f"repeat {r + 1}/{args.repeat}: "
                + ", ".join(f"{name} {t[-1]:.2f} s" for name, t in times.items()),
                flush=True,
            )

        finance_manifests = write_finance_manifests(root, args.invoices)
        extract = write_extract(settings.landing, "erp.invoices", PARTITION, args.invoices)
        print(f"finance extract {extract.stat().st_size / 1e6:.1f} MB at {extract}", flush=True)
        finance: dict[str, Any] = {}

        def finance_run(partition: str = PARTITION) -> None:
            finance["summary"] = governed_pipeline(
                pipeline="finance-kpi",
                partition=partition,
                manifests=str(finance_manifests),
                run_token=f"bench-{uuid.uuid4().hex}",
            )

        finance_wall, finance_retries = timed(
            finance_run, settle=args.settle, retries=client_retries
        )
        summary = finance["summary"]
        if dask:
            write_extract(settings.landing, "erp.invoices", DASK_PARTITION, args.invoices)
            on_dask = _dask.on_dask(
                lambda: finance_run(DASK_PARTITION), BARECOUNT_DASK_ADDRESS=dask["address"]
            )
            dask["finance_wall_s"], _ = timed(on_dask, settle=args.settle, retries=client_retries)
            if finance["summary"]["status"] != summary["status"]:
                raise RuntimeError(f"finance on dask: {finance['summary']['status']}")
        stage_code = stage_code_seconds(get_ledger(settings).url, summary["run_id"])
        print(
            f"finance {args.invoices} invoices: {finance_wall:.2f} s wall, "
            f"{stage_code:.2f} s in stage code, status {summary['status']}",
            flush=True,
        )

    result: dict[str, Any] = {
        "benchmark": "runtime-overhead",
        "stages": args.stages,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "log_level": args.log_level,
        "flow_heartbeats": args.heartbeats,
        "settle_s": args.settle,
    }
    for shape in ("linear", "wide"):
        gov, plain = times[f"governed_{shape}"], times[f"plain_{shape}"]
        result[shape] = {
            "governed": summarize(gov),
            "plain": summarize(plain),
            "ratio_best": round(min(gov) / min(plain), 3),
            "ratio_median": round(statistics.median(gov) / statistics.median(plain), 3),
            "extra_ms_per_stage_median": round(
                (statistics.median(gov) - statistics.median(plain)) / args.stages * 1000, 1
            ),
            "meets_target": statistics.median(gov) <= TARGET_RATIO * statistics.median(plain),
            "client_retries": {
                "governed": retried[f"governed_{shape}"],
                "plain": retried[f"plain_{shape}"],
            },
        }
        if dask:
            gov_d, plain_d = times[f"governed_{shape}_dask"], times[f"plain_{shape}_dask"]
            result[shape]["dask"] = {
                "governed": summarize(gov_d),
                "plain": summarize(plain_d),
                "ratio_median": round(statistics.median(gov_d) / statistics.median(plain_d), 3),
                "dask_over_threads_median": {
                    "governed": round(statistics.median(gov_d) / statistics.median(gov), 3),
                    "plain": round(statistics.median(plain_d) / statistics.median(plain), 3),
                },
            }
    result["target_ratio"] = TARGET_RATIO
    result["finance"] = {
        "invoices": args.invoices,
        "status": summary["status"],
        "wall_s": round(finance_wall, 3),
        "stage_code_s": round(stage_code, 3),
        "outside_share": round((finance_wall - stage_code) / finance_wall, 3),
        "client_retries": finance_retries,
    }
    if dask:
        dask["finance_over_threads"] = round(dask["finance_wall_s"] / finance_wall, 3)
        dask["finance_wall_s"] = round(dask["finance_wall_s"], 3)
        result["dask"] = dask
        for shape in ("linear", "wide"):
            on = result[shape]["dask"]
            print(
                f"{shape} on dask: governed/plain {on['ratio_median']}x; dask/threads governed "
                f"{on['dask_over_threads_median']['governed']}x, plain "
                f"{on['dask_over_threads_median']['plain']}x",
                flush=True,
            )
        print(f"finance on dask: {dask['finance_over_threads']}x the threads time", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--stages", type=int, default=50, help="stages per pipeline (default 50)")
    parser.add_argument("--invoices", type=int, default=100_000, help="finance partition size")
    parser.add_argument(
        "--log-level", default="WARNING", help="PREFECT_LOGGING_LEVEL for both sides (WARNING)"
    )
    parser.add_argument(
        "--heartbeats",
        action="store_true",
        help="keep Prefect's flow-run heartbeats (each run then rounds up to whole seconds)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="seconds of quiet before each timed run, for the server to record the last (2.0)",
    )
    parser.add_argument(
        "--task-runner",
        choices=("threads", "dask"),
        default="threads",
        help="dask: also time every case on a local Dask cluster (needs barecount[dask])",
    )
    parser.add_argument("--dask-workers", type=int, default=2, help="Dask worker processes (2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args()
    if args.stages < 2 or args.repeat < 1 or args.dask_workers < 1:
        parser.error("--stages must be at least 2, --repeat and --dask-workers at least 1")

    root = Path(tempfile.mkdtemp(prefix="barecount-bench-"))
    configure_environment(root, args.log_level)  # before anything imports Prefect
    try:
        result = run(args, root)
    finally:
        _local.shutdown(root, args.keep)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
