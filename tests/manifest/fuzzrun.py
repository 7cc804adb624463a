"""Run fuzz cases through ``barecount validate`` with a time and a memory limit, and count
what went wrong.

Starting Python and importing the CLI costs ~0.3 s, more than validating a case, so each
worker is one subprocess (started with ``resource.setrlimit`` in ``preexec_fn``: 256 MiB of
address space, no core files) that imports ``barecount.cli.main`` once, warms up on the
shipped manifests, then forks once per case. The fork runs ``main(["validate", DIR])`` as
the console script would, its stdout and stderr in files, and inherits the limits; the
worker kills it after 5 s and reads its peak memory from ``wait4``. ``fresh=True`` runs
``python -m barecount.cli.main validate DIR`` per case instead (slow; for cross-checks).
"""

from __future__ import annotations

import contextlib
import gc
import io
import itertools
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fuzzgen import SHIPPED, Case

TIME_LIMIT = 5.0
MEMORY_LIMIT = 256 << 20
HERE = Path(__file__).resolve().parent
COUNTERS = (
    "tracebacks",
    "over_time",
    "over_memory",
    "accepted_invalid",
    "rejected_valid",
    "wrong_line",
)


def limit_resources() -> None:
    """preexec_fn of every process that runs validate."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# ---- inside a worker ------------------------------------------------------------------


def serve() -> None:
    """Worker loop: one JSON job per stdin line, one JSON result per stdout line."""
    from barecount.cli.main import main
    from barecount.manifest import load_manifests

    load_manifests(SHIPPED)  # imports, the ODCS schema, time zones: as warm as a real run
    _warm_up(main)
    gc.freeze()  # the forks' collector leaves these objects alone: fewer copy-on-write pages
    for line in sys.stdin:
        job = json.loads(line)
        sys.stdout.write(json.dumps(_fork(main, job)) + "\n")
        sys.stdout.flush()


def _warm_up(main) -> None:
    """Run validate once on a valid and once on an invalid folder, output discarded, so
    each fork starts where a second run in one process would (the CLI builds lazily)."""
    with tempfile.TemporaryDirectory() as scratch:
        broken = Path(scratch) / "m"
        shutil.copytree(SHIPPED, broken)
        (broken / "teams" / "x.yaml").write_text("kind: [\n", encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main(["validate", str(SHIPPED), "--json"])
            main(["validate", str(broken)])


def _fork(main, job: dict) -> dict:
    out = os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the case: exits through os._exit, never returns
        code = 1
        try:
            os.dup2(out, 1)
            os.dup2(err, 2)
            code = main(job["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code if isinstance(code, int) else 1)
    os.close(out)
    os.close(err)
    return wait(pid, started)


def wait(pid: int, started: float) -> dict:
    """Wait for ``pid`` at most TIME_LIMIT seconds (then kill it); its exit and peak memory."""
    handle = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([handle], [], [], TIME_LIMIT)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        _, status, usage = os.wait4(pid, 0)
    finally:
        os.close(handle)
    return {
        "rc": os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
        "timed_out": not ready,
        "seconds": time.monotonic() - started,
        "rss": usage.ru_maxrss * 1024,
    }


# ---- in the test or benchmark process ---------------------------------------------------


@dataclass
class Outcome:
    case: Case
    rc: int
    seconds: float
    rss: int
    flags: list[str] = field(default_factory=list)
    output: str = ""


def materialize(case: Case, folder: Path) -> Path:
    """Write the case under ``folder``; the manifests folder to validate."""
    root = folder / "m"
    root.mkdir(parents=True)
    for rel, data in case.files.items():
        path = Path(os.path.normpath(root / rel))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for rel, target in case.links.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        os.symlink(target, path)
    for rel in case.fifos:
        os.mkfifo(root / rel)
    return root


def classify(case: Case, result: dict, root: Path, stdout: str, stderr: str) -> Outcome:
    text = stdout + stderr
    flags = []
    if "Traceback" in text:
        flags.append("tracebacks")
    if result["timed_out"] or result["seconds"] > TIME_LIMIT:
        flags.append("over_time")
    crashed = result["signal"] not in (0, signal.SIGKILL)
    if "MemoryError" in text or result["rss"] > MEMORY_LIMIT or crashed:
        flags.append("over_memory")
    rc = result["rc"]
    if case.invalid is True and rc == 0:
        flags.append("accepted_invalid")
    if case.invalid is False and rc != 0:
        flags.append("rejected_valid")
    if rc not in (0, -1) and not flags and _wrong_line(case, root, stderr):
        flags.append("wrong_line")
    return Outcome(case, rc, result["seconds"], result["rss"], flags, text[:2000])


def _wrong_line(case: Case, root: Path, stderr: str) -> bool:
    """Every problem must start 'file:line: '; an invalid case's must name its place."""
    head, _, rest = stderr.partition("\n")
    if not re.fullmatch(r"error: \d+ problems? in manifests:", head.strip()):
        return True
    lines = [row for row in rest.splitlines() if row.strip()]
    if not lines or any(not row.startswith("  ") for row in lines):
        return True
    problems = [row[2:] for row in lines]
    prefix = re.compile(re.escape(str(root)) + r"/[^:]+:\d+: \S")
    if any(not prefix.match(p) for p in problems):
        return True
    if case.invalid is not True or not case.where:
        return False
    return not any(
        p.startswith(f"{root}/{rel}:{line}: ") for rel, line in case.where for p in problems
    )


def _start_worker() -> subprocess.Popen:
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import fuzzrun; fuzzrun.serve()"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=limit_resources,
    )


def _run_one(case: Case, worker: subprocess.Popen | None, scratch: Path) -> Outcome:
    folder = Path(tempfile.mkdtemp(prefix=f"case{case.index}-", dir=scratch))
    try:
        root = materialize(case, folder)
        case.files = {}  # written: the outcome keeps only what the case expects
        argv = ["validate", str(root), *(["--json"] if case.index % 2 else [])]
        job = {"argv": argv, "out": str(folder / "out"), "err": str(folder / "err")}
        result = _spawn(job) if worker is None else _ask(worker, job)
        stdout = Path(job["out"]).read_text("utf-8", "replace")
        stderr = Path(job["err"]).read_text("utf-8", "replace")
        return classify(case, result, root, stdout, stderr)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _ask(worker: subprocess.Popen, job: dict) -> dict:
    worker.stdin.write(json.dumps(job) + "\n")
    worker.stdin.flush()
    return json.loads(worker.stdout.readline())


def _spawn(job: dict) -> dict:
    with open(job["out"], "wb") as out, open(job["err"], "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "barecount.cli.main", *job["argv"]],
            stdout=out,
            stderr=err,
            preexec_fn=limit_resources,
        )
        result = wait(proc.pid, started)
        proc.returncode = result["rc"]  # reaped by wait4 already
        return result


def run_cases(
    cases: Iterable[Case], workers: int = 2, batch: int = 20, fresh: bool = False
) -> list[Outcome]:
    """Every case through validate, ``workers`` at a time; outcomes in case order.

    Cases are pulled from ``cases`` a batch at a time, so a long run never holds more than
    a few dozen cases (some carry megabytes) in memory.
    """
    source = iter(cases)
    lock = threading.Lock()

    def work(scratch: Path) -> list[Outcome]:
        worker = None if fresh else _start_worker()
        outcomes = []
        try:
            while True:
                with lock:
                    chunk = list(itertools.islice(source, batch))
                if not chunk:
                    return outcomes
                outcomes += [_run_one(case, worker, scratch) for case in chunk]
        finally:
            if worker is not None:
                worker.stdin.close()
                worker.wait(timeout=30)

    with tempfile.TemporaryDirectory(prefix="barecount-fuzz-") as scratch:
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(work, Path(scratch)) for _ in range(workers)]
            outcomes = [outcome for future in futures for outcome in future.result()]
    return sorted(outcomes, key=lambda outcome: outcome.case.index)


def summarize(outcomes: list[Outcome]) -> dict:
    counts = Counter(flag for o in outcomes for flag in o.flags)
    return {
        "cases": len(outcomes),
        **{name: counts.get(name, 0) for name in COUNTERS},
        "rejected": sum(1 for o in outcomes if o.rc != 0),
        "max_seconds": round(max((o.seconds for o in outcomes), default=0), 3),
        "slowest": [
            f"#{o.case.index} {o.case.kind} {o.seconds:.2f}s"
            for o in sorted(outcomes, key=lambda o: -o.seconds)[:3]
        ],
        "max_rss_mib": round(max((o.rss for o in outcomes), default=0) / (1 << 20), 1),
        "kinds": dict(sorted(Counter(o.case.kind for o in outcomes).items())),
    }


def failures(outcomes: list[Outcome], limit: int = 20) -> str:
    bad = [o for o in outcomes if o.flags][:limit]
    return "\n\n".join(f"{o.case.describe()}\n  flags: {o.flags}\n  {o.output[:800]}" for o in bad)
