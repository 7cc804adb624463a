"""Event-to-start latency of the finance-kpi -> finance-rollup chain, vs a plain Prefect flow.

Run: .venv/bin/python bench/events.py [--partitions N] [--modes worker serve]

Starts its own Prefect server (fresh temporary BARECOUNT_HOME, free port) and stops it at
the end, with every worker and serve process it started, also on errors and Ctrl-C. A project
copy holds the shipped manifests with finance-kpi's ``invoices_per_day`` set to --invoices
(200) and a plain Prefect flow ``plain-noop`` (no tasks) with an event trigger of its own.

For each execution mode, one partition (a distinct day) at a time, each emission once the
previous runs' processes have exited and --settle more seconds have passed:

- ``barecount emit source-updated bench.plain-<mode> -p P`` (in this process) starts the
  plain flow: the baseline is emit -> its flow run's ``start_time`` on the Prefect API;
- ``barecount emit source-updated erp.invoices -p P`` starts finance-kpi, whose publication
  starts finance-rollup. From the Evidence Ledger (PipelineRun.recorded_at,
  Publication.recorded_at):
  (a) event_to_start: emit -> finance-kpi PipelineRun recorded;
  (b) dependency: finance-kpi publication recorded -> finance-rollup PipelineRun recorded;
  (c) end_to_end: emit -> finance-rollup publication recorded.
  Each step waits for both flow runs to finish before the next emission.

Modes: ``worker`` deploys the compiled prefect.yaml (plus ``plain-noop``) with ``prefect
deploy`` and runs ``prefect worker start --pool barecount --type process`` with
PREFECT_WORKER_QUERY_SECONDS=--query-seconds; ``serve`` runs ``barecount serve`` and serves the
plain flow with ``flow.serve`` in a second process, both with
PREFECT_RUNNER_POLL_FREQUENCY=--poll-frequency. The emit time is taken just before the emit
command is called, so every figure includes the command's own time (reported as emit_call).

Each mode starts from no deployments (the previous mode's and their triggers are deleted).
--warmup partitions per mode run first and are not counted. Prints a line per partition and
per mode, then one JSON line: min/median/max of each latency per mode, the ratio of
event_to_start to the plain flow's (median and min), and a breakdown from the Prefect API:
emit -> finance-kpi flow run created / its start_time, start_time -> ledger row (what
BareCount adds before it records the run), finance-kpi publication -> finance-rollup flow
run created.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import _local  # bench/_local.py: fresh home and free port (scripts run from bench/)

REPO = Path(__file__).resolve().parents[1]
FIRST_DAY = date(2026, 10, 1)
UPSTREAM, DOWNSTREAM = "finance-kpi", "finance-rollup"
SOURCE = "erp.invoices"
POLL_SECONDS = 0.2
T = TypeVar("T")

PLAIN_FLOW = '''\
"""A plain Prefect flow that does nothing: the baseline of bench/events.py (written at run time).

``python flows/plain_noop.py RESOURCE`` serves it, started by barecount.source.updated events
of RESOURCE; the worker mode deploys it from prefect.yaml instead.
"""

import sys

from prefect import flow


@flow(name="plain-noop", flow_run_name="plain-noop-{partition}")
def plain_noop(partition: str | None = None) -> str | None:
    return partition


if __name__ == "__main__":
    from prefect.events import DeploymentEventTrigger

    plain_noop.serve(
        name="plain-noop-served",
        triggers=[
            DeploymentEventTrigger(
                name="plain-noop-served on source-updated",
                match={"prefect.resource.id": sys.argv[1]},
                expect=["barecount.source.updated"],
                parameters={"partition": "{{ event.payload.partition }}"},
            )
        ],
    )
'''


class BenchError(RuntimeError):
    """A step failed or timed out; the message says which."""


def configure_environment(root: Path, log_level: str) -> None:
    """Point BareCount and Prefect at a fresh home and a free port; before Prefect is imported."""
    _local.configure_environment(root, log_level, **_local.ledger_env(root / "home"))


def plain_resource(mode: str) -> str:
    return f"bench.plain-{mode}"


def write_project(root: Path, invoices: int) -> Path:
    """The project copy: flows/, manifests/ (invoices_per_day set), plain flow, prefect.yaml."""
    import re

    from barecount.deploy.compile import compile_manifests, render_prefect_yaml
    from barecount.manifest import load_manifests
    from barecount.names import SOURCE_UPDATED, WORK_POOL, source_resource

    project = root / "project"
    shutil.copytree(REPO / "flows", project / "flows")
    shutil.copytree(REPO / "manifests", project / "manifests")
    path = project / "manifests" / "pipelines" / f"{UPSTREAM}.yaml"
    text, found = re.subn(
        r"invoices_per_day: *\d+", f"invoices_per_day: {invoices}", path.read_text()
    )
    if found != 1:
        raise BenchError(f"{path}: expected one 'invoices_per_day: N' to change, found {found}")
    path.write_text(text)
    (project / "flows" / "plain_noop.py").write_text(PLAIN_FLOW)
    specs = compile_manifests(load_manifests(project / "manifests"))
    specs.append(
        {
            "name": "plain-noop",
            "description": "bench/events.py baseline: a plain Prefect flow with no tasks",
            "entrypoint": "flows/plain_noop.py:plain_noop",
            "parameters": {},
            "tags": ["bench"],
            "work_pool": {"name": WORK_POOL, "work_queue_name": "default", "job_variables": {}},
            "schedules": [],
            "triggers": [
                {
                    "type": "event",
                    "name": "plain-noop on source-updated",
                    "enabled": True,
                    "match": {"prefect.resource.id": source_resource(plain_resource("worker"))},
                    "expect": [SOURCE_UPDATED],
                    "posture": "Reactive",
                    "threshold": 1,
                    "within": 0,
                    "parameters": {"partition": "{{ event.payload.partition }}"},
                }
            ],
        }
    )
    (project / "deployments").mkdir()
    (project / "deployments" / "prefect.yaml").write_text(render_prefect_yaml(specs))
    return project


def prefect_cli() -> str:
    return str(Path(sys.executable).parent / "prefect")


def deploy(project: Path, timeout: float) -> None:
    """Create the work pool and deploy prefect.yaml as a user would (``prefect deploy``)."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from barecount.names import WORK_POOL

    with get_client(sync_client=True) as client:
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
    command = [prefect_cli(), "--no-prompt", "deploy", "--all"]
    try:
        done = subprocess.run(
            [*command, "--prefect-file", "deployments/prefect.yaml"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"prefect deploy took more than {timeout:.0f} s") from None
    if done.returncode != 0:
        raise BenchError(f"prefect deploy failed:\n{done.stdout}{done.stderr}")


class Process:
    """A subprocess in its own process group, its output in a log file."""

    def __init__(self, name: str, command: list[str], *, cwd: Path, env: dict[str, str], log: Path):
        self.name, self.log = name, log
        self.at_rest: set[int] = set()
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its flow-run subprocesses join its group
            )

    def members(self) -> set[int]:
        """Live processes in its group (Linux /proc; empty elsewhere)."""
        found = set()
        with contextlib.suppress(OSError):
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    stat = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                state, _ppid, group = stat.rpartition(")")[2].split()[:3]
                if int(group) == self.popen.pid and state != "Z":
                    found.add(int(entry.name))
        return found

    def mark_idle(self) -> None:
        """Remember its processes at rest: anything beyond them is a run still going."""
        self.at_rest = self.members()

    def busy(self) -> set[int]:
        """Processes of runs still going: the group beyond its members at rest, less the
        multiprocessing resource tracker a runner starts with its first run and keeps."""
        return {
            pid
            for pid in self.members() - self.at_rest
            if "multiprocessing.resource_tracker" not in command_line(pid)
        }

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check(self) -> None:
        if self.popen.poll() is not None:
            raise BenchError(
                f"{self.name} exited with code {self.popen.returncode}:\n{self.tail()}"
            )

    def wait_for_output(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.log.read_text(errors="replace"):
            self.check()
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{self.name}: no {marker!r} within {timeout:.0f} s\n{self.tail()}"
                )
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """SIGINT (graceful), then SIGTERM and SIGKILL to its process group."""
        pid = self.popen.pid
        for sig, grace in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            if self.popen.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if sig == signal.SIGINT:
                    self.popen.send_signal(sig)
                else:
                    os.killpg(pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # flow runs it left behind


@contextlib.contextmanager
def executors(
    mode: str, args: argparse.Namespace, project: Path, root: Path
) -> Iterator[list[Process]]:
    """Start what executes the runs in ``mode``; stop it on the way out, whatever happened."""
    from barecount.names import WORK_POOL, source_resource

    started: list[Process] = []
    try:
        if mode == "worker":
            env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": str(args.query_seconds)}
            worker = Process(
                "prefect worker",
                [prefect_cli(), "worker", "start", "--pool", WORK_POOL, "--type", "process"],
                cwd=root,
                env=env,
                log=root / "worker.log",
            )
            started.append(worker)
            worker.wait_for_output("started!", args.step_timeout)
        else:
            env = {**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": str(args.poll_frequency)}
            manifests = str(project / "manifests")
            serve = Process(
                "barecount serve",
                [sys.executable, "-m", "barecount.cli.main", "serve", "-m", manifests],
                cwd=project,
                env=env,
                log=root / "serve.log",
            )
            started.append(serve)
            plain = Process(
                "plain-noop serve",
                [
                    sys.executable,
                    "flows/plain_noop.py",
                    source_resource(plain_resource("serve")),
                ],
                cwd=project,
                env=env,
                log=root / "serve-plain.log",
            )
            started.append(plain)
            for process in started:
                process.wait_for_output("being served", args.step_timeout)
        time.sleep(2)  # let the first polls and the server's trigger cache settle
        for process in started:
            process.mark_idle()
        yield started
    finally:
        for process in reversed(started):
            process.stop()


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, procs: list[Process]) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        for process in procs:
            process.check()
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def quiet(procs: list[Process], settle: float, timeout: float) -> None:
    """Wait until no run's process is left in any executor's group, then ``settle`` seconds."""
    try:
        wait_for(
            "the last runs' processes to exit",
            lambda: None if any(p.busy() for p in procs) else True,
            timeout,
            procs,
        )
    except BenchError as exc:
        left = [command_line(pid) for p in procs for pid in sorted(p.busy())]
        raise BenchError(f"{exc}: {'; '.join(left)}") from None
    time.sleep(settle)


def command_line(pid: int) -> str:
    try:
        return f"{pid} " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return str(pid)


def epoch(moment: datetime) -> float:
    """Seconds since the epoch; the ledger's SQLite columns come back naive, in UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def ledger_run(pipeline: str, partition: str) -> Any:
    from sqlalchemy import select

    from barecount.ledger import get_ledger
    from barecount.ledger.models import PipelineRun

    with get_ledger().session() as session:
        return session.execute(
            select(PipelineRun)
            .where(PipelineRun.pipeline == pipeline, PipelineRun.partition == partition)
            .order_by(PipelineRun.id)
            .limit(1)
        ).scalar_one_or_none()


def ledger_published_at(pipeline: str, partition: str, run_id: int) -> float | None:
    """When the run's publication was recorded (its last KPI row); raises when the run ended
    without publishing."""
    from sqlalchemy import func, select

    from barecount.ledger import get_ledger
    from barecount.ledger.models import Publication, RunSummary

    with get_ledger().session() as session:
        at = session.execute(
            select(func.max(Publication.recorded_at)).where(
                Publication.pipeline == pipeline,
                Publication.partition == partition,
                Publication.run_id == run_id,
            )
        ).scalar_one_or_none()
        if at is not None:
            return epoch(at)
        summary = session.execute(
            select(RunSummary).where(RunSummary.run_id == run_id).limit(1)
        ).scalar_one_or_none()
    if summary is not None and summary.status != "published":
        raise BenchError(f"{pipeline} {partition} ended {summary.status}: {summary.detail}")
    return None


def finished_flow_run(flow_run_id: str | None = None, name: str | None = None) -> Any:
    """The flow run (by id or name) once it is in a final state; raises unless Completed."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        if flow_run_id is not None:
            run = client.read_flow_run(uuid.UUID(flow_run_id))
        else:
            found = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])), limit=1
            )
            run = found[0] if found else None
    if run is None or run.state is None or not run.state.is_final():
        return None
    if not run.state.is_completed():
        raise BenchError(f"flow run {run.name} ended {run.state.type.value}: {run.state.message}")
    return run


def emit(source: str, partition: str, manifests: Path) -> tuple[float, float, str]:
    """``barecount emit source-updated`` in this process: (time before, seconds it took, output)."""
    from barecount.cli.main import main

    printed = io.StringIO()
    started = time.time()
    with contextlib.redirect_stdout(printed):
        code = main(["emit", "source-updated", source, "-p", partition, "-m", str(manifests)])
    took = time.time() - started
    if code != 0:
        raise BenchError(f"barecount emit {source} {partition} exited {code}: {printed.getvalue()}")
    return started, took, printed.getvalue()


def measure_plain(
    mode: str, partition: str, project: Path, procs: list[Process], timeout: float
) -> dict[str, float]:
    emitted, took, _ = emit(plain_resource(mode), partition, project / "manifests")
    run = wait_for(
        f"plain-noop {partition} to finish",
        lambda: finished_flow_run(name=f"plain-noop-{partition}"),
        timeout,
        procs,
    )
    return {
        "event_to_start": run.start_time.timestamp() - emitted,
        "event_to_created": run.created.timestamp() - emitted,
        "emit_call": took,
    }


def measure_chain(
    partition: str, project: Path, procs: list[Process], timeout: float
) -> dict[str, float]:
    emitted, took, printed = emit(SOURCE, partition, project / "manifests")
    if f"triggers: {UPSTREAM}" not in printed:
        raise BenchError(f"emit did not name {UPSTREAM} as triggered: {printed.strip()}")
    up = wait_for(
        f"{UPSTREAM} {partition} to start", lambda: ledger_run(UPSTREAM, partition), timeout, procs
    )
    up_published = wait_for(
        f"{UPSTREAM} {partition} to publish",
        lambda: ledger_published_at(UPSTREAM, partition, up.id),
        timeout,
        procs,
    )
    down = wait_for(
        f"{DOWNSTREAM} {partition} to start",
        lambda: ledger_run(DOWNSTREAM, partition),
        timeout,
        procs,
    )
    down_published = wait_for(
        f"{DOWNSTREAM} {partition} to publish",
        lambda: ledger_published_at(DOWNSTREAM, partition, down.id),
        timeout,
        procs,
    )
    up_flow = wait_for(
        f"{UPSTREAM} {partition} flow run to finish",
        lambda: finished_flow_run(up.flow_run_id),
        timeout,
        procs,
    )
    down_flow = wait_for(
        f"{DOWNSTREAM} {partition} flow run to finish",
        lambda: finished_flow_run(down.flow_run_id),
        timeout,
        procs,
    )
    if up.trigger != f"source-updated:{SOURCE}" or down.trigger != f"pipeline-published:{UPSTREAM}":
        raise BenchError(f"unexpected triggers: {up.trigger!r}, {down.trigger!r}")
    return {
        "event_to_start": epoch(up.recorded_at) - emitted,
        "dependency": epoch(down.recorded_at) - up_published,
        "end_to_end": down_published - emitted,
        # where event_to_start goes: Prefect creates the run, starts it, then the flow records it
        "event_to_created": up_flow.created.timestamp() - emitted,
        "event_to_flow_start": up_flow.start_time.timestamp() - emitted,
        "flow_start_to_recorded": epoch(up.recorded_at) - up_flow.start_time.timestamp(),
        # where dependency goes: finance-kpi's tail and its event until Prefect creates the run
        "publication_to_created": down_flow.created.timestamp() - up_published,
        "emit_call": took,
    }


def stats(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }


def fmt(s: dict[str, float]) -> str:
    return f"{s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f} s"


def clear_deployments() -> int:
    """Delete the governed and plain deployments and their triggers a previous mode left.

    ``barecount serve`` upserts the deployments ``prefect deploy`` made under the same names,
    and the served runs then crash loading the flow from storage the worker's deployment had
    (``.../project/None``): each mode starts from no deployments instead. Prefect keeps a
    deleted deployment's trigger automations, and a stale one firing on the same event held
    up the live one's run by ~2 s, so those go first.
    """
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        found = client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["governed-pipeline", "plain-noop"]))
        )
        for deployment in found:
            client.delete_resource_owned_automations(f"prefect.deployment.{deployment.id}")
            client.delete_deployment(deployment.id)
    return len(found)


def run_mode(
    mode: str, args: argparse.Namespace, project: Path, root: Path, days: Iterator[str]
) -> dict[str, Any]:
    started = time.monotonic()
    clear_deployments()
    if mode == "worker":
        deploy(project, args.step_timeout)
    samples: list[dict[str, Any]] = []
    with executors(mode, args, project, root) as procs:
        for i in range(args.warmup + args.partitions):
            partition = next(days)
            quiet(procs, args.settle, args.step_timeout)
            plain = measure_plain(mode, partition, project, procs, args.step_timeout)
            quiet(procs, args.settle, args.step_timeout)
            chain = measure_chain(partition, project, procs, args.step_timeout)
            warm = i < args.warmup
            print(
                f"{mode} {partition}{' (warm-up)' if warm else ''}: "
                f"plain-noop event->start {plain['event_to_start']:.2f} s | "
                f"{UPSTREAM} event->start {chain['event_to_start']:.2f} s, "
                f"publication->{DOWNSTREAM} start {chain['dependency']:.2f} s, "
                f"end to end {chain['end_to_end']:.2f} s",
                flush=True,
            )
            if not warm:
                samples.append(
                    {
                        "partition": partition,
                        **{k: round(v, 3) for k, v in chain.items()},
                        **{f"plain_{k}": round(v, 3) for k, v in plain.items()},
                    }
                )

    def col(key: str) -> list[float]:
        return [s[key] for s in samples]

    result: dict[str, Any] = (
        {"query_seconds": args.query_seconds}
        if mode == "worker"
        else {"poll_frequency": args.poll_frequency}
    )
    for key in ("event_to_start", "dependency", "end_to_end"):
        result[key] = stats(col(key))
    result["plain_event_to_start"] = stats(col("plain_event_to_start"))
    result["ratio_event_to_start_median"] = round(
        statistics.median(col("event_to_start")) / statistics.median(col("plain_event_to_start")),
        3,
    )
    result["ratio_event_to_start_min"] = round(
        min(col("event_to_start")) / min(col("plain_event_to_start")), 3
    )
    result["breakdown"] = {
        key: stats(col(key))
        for key in (
            "event_to_created",
            "event_to_flow_start",
            "flow_start_to_recorded",
            "publication_to_created",
            "plain_event_to_created",
            "emit_call",
            "plain_emit_call",
        )
    }
    result["wall_s"] = round(time.monotonic() - started, 1)
    result["samples"] = samples
    executor = (
        f"process worker, query every {args.query_seconds:g} s"
        if mode == "worker"
        else f"serve, poll every {args.poll_frequency} s"
    )
    print(f"== {mode} ({executor}), {len(samples)} partitions, min / median / max:")
    print(f"   (a) emit -> {UPSTREAM} started:           {fmt(result['event_to_start'])}")
    print(f"   (b) {UPSTREAM} published -> {DOWNSTREAM} started: {fmt(result['dependency'])}")
    print(f"   (c) emit -> {DOWNSTREAM} published:      {fmt(result['end_to_end'])}")
    print(f"   plain-noop emit -> flow run start:       {fmt(result['plain_event_to_start'])}")
    print(
        f"   event_to_start / plain: {result['ratio_event_to_start_median']:.2f}x (median), "
        f"{result['ratio_event_to_start_min']:.2f}x (min)",
    )
    b = result["breakdown"]
    print(
        f"   breakdown: emit -> {UPSTREAM} flow run created {fmt(b['event_to_created'])}, "
        f"Prefect start_time {fmt(b['event_to_flow_start'])}, start_time -> ledger "
        f"{fmt(b['flow_start_to_recorded'])}; {UPSTREAM} published -> {DOWNSTREAM} flow run "
        f"created {fmt(b['publication_to_created'])}",
        flush=True,
    )
    return result


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from barecount.prefect_api import start_local_server, use_api
    from barecount.settings import get_settings

    get_settings.cache_clear()
    began = time.monotonic()
    api = start_local_server(get_settings())
    print(f"server {api} up in {time.monotonic() - began:.1f} s", flush=True)
    project = write_project(root, args.invoices)
    days = ((FIRST_DAY + timedelta(days=i)).isoformat() for i in range(10_000))
    result: dict[str, Any] = {
        "benchmark": "event-latency",
        "chain": f"{UPSTREAM} -> {DOWNSTREAM}",
        "partitions": args.partitions,
        "warmup": args.warmup,
        "invoices_per_day": args.invoices,
        "settle_s": args.settle,
        "log_level": args.log_level,
        "cpus": os.cpu_count(),
        "modes": {},
        "skipped": {},
    }
    with use_api(api):
        for mode in args.modes:
            elapsed = time.monotonic() - began
            if result["modes"] and elapsed > args.budget:
                result["skipped"][mode] = f"time budget of {args.budget:.0f} s spent"
                print(f"== {mode}: skipped, {elapsed:.0f} s spent of {args.budget:.0f} s")
                continue
            result["modes"][mode] = run_mode(mode, args, project, root, days)
    result["wall_s"] = round(time.monotonic() - began, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partitions", type=int, default=5, help="counted partitions per mode (5)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted partitions first (1)")
    parser.add_argument(
        "--modes", nargs="+", choices=["worker", "serve"], default=["worker", "serve"]
    )
    parser.add_argument(
        "--query-seconds", type=float, default=1.0, help="PREFECT_WORKER_QUERY_SECONDS (1)"
    )
    parser.add_argument(
        "--poll-frequency", type=int, default=1, help="PREFECT_RUNNER_POLL_FREQUENCY (1)"
    )
    parser.add_argument("--invoices", type=int, default=200, help="finance invoices_per_day (200)")
    parser.add_argument("--settle", type=float, default=1.0, help="quiet before each emit (1.0)")
    parser.add_argument(
        "--step-timeout", type=float, default=120.0, help="most seconds per waited step (120)"
    )
    parser.add_argument(
        "--budget", type=float, default=300.0, help="start no further mode after this (300 s)"
    )
    parser.add_argument("--log-level", default="WARNING", help="PREFECT_LOGGING_LEVEL (WARNING)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home and logs")
    args = parser.parse_args()
    if args.partitions < 1 or args.warmup < 0 or args.poll_frequency < 1:
        parser.error("--partitions and --poll-frequency must be at least 1, --warmup at least 0")

    root = Path(tempfile.mkdtemp(prefix="barecount-bench-events-"))
    configure_environment(root, args.log_level)  # before anything imports Prefect

    def terminate(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup
        raise KeyboardInterrupt(f"signal {signum}")  # unwinds through the cleanup below

    signal.signal(signal.SIGTERM, terminate)
    # Prefect warns "Still processing items" whenever an emit's drain finds the event queued
    logging.getLogger("EventsWorker").setLevel(logging.ERROR)
    failed = False
    try:
        result = run(args, root)
    except BenchError as exc:
        failed = True
        print(f"bench/events.py: {exc}", file=sys.stderr)
    finally:
        _local.shutdown(root, args.keep or failed)
    if failed:
        raise SystemExit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
