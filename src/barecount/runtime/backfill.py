"""Backfills: plan a range of partitions against the contract versions that governed them,
run what is needed in one flow run, and leave a compliance record."""

from __future__ import annotations

import contextvars
import getpass
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from sqlalchemy import select
from sqlmodel import Session

from barecount.errors import BackfillError, UnknownContractVersionError
from barecount.ledger import Ledger
from barecount.ledger.checkpoints import checkpoint_after
from barecount.ledger.governance_store import contract_versions
from barecount.ledger.models import Backfill, BackfillEnd, BackfillOutcome, Publication
from barecount.ledger.publish import Restatement
from barecount.ledger.views import last_runs
from barecount.manifest import ManifestSet
from barecount.manifest.models import Pipeline
from barecount.manifest.partitions import partition_range
from barecount.runtime import lifecycle
from barecount.runtime.graph import Job, failure_of, run_jobs
from barecount.runtime.lifecycle import RunScope
from barecount.runtime.plan import contract_names
from barecount.runtime.suspend import came_back
from barecount.status import RERUN, RunStatus

MODES = ("missing", "failed", "all")
Progress = Callable[[int, int, dict[str, Any]], None]
# Who watches a backfill in this process (the CLI's progress bar): (done, total, outcome).
_progress: contextvars.ContextVar[Progress | None] = contextvars.ContextVar(
    "barecount_backfill_progress", default=None
)


@contextmanager
def watching(progress: Progress) -> Iterator[None]:
    """Call ``progress`` as each partition of a backfill started in this block finishes."""
    token = _progress.set(progress)
    try:
        yield
    finally:
        _progress.reset(token)


def parse_pins(contracts: list[str] | None) -> dict[str, str]:
    """['invoices@1.0.0'] -> {'invoices': '1.0.0'}."""
    pins: dict[str, str] = {}
    for item in contracts or ():
        name, sep, version = item.partition("@")
        if not sep or not name or not version:
            raise BackfillError(
                f"bad contract pin {item!r}; write NAME@VERSION, e.g. invoices@1.0.0"
            )
        pins[name] = version
    return pins


@dataclass(frozen=True)
class BackfillRequest:
    start: str
    end: str
    contracts: list[str] | None = None
    mode: str = "missing"
    parallel: int = 4
    fail_fast: bool = False
    dry_run: bool = False
    requested_by: str | None = None
    restate_reason: str | None = None  # publish new versions of published partitions


@dataclass(frozen=True)
class PlannedPartition:
    partition: str
    action: str  # run | skip
    reason: str
    published_token: str | None
    pins: dict[str, str]


def plan_backfill(
    *,
    session: Session,
    spec: Pipeline,
    start: str,
    end: str,
    mode: str,
    pins: dict[str, str],
) -> list[PlannedPartition]:
    """What each partition of the range will do, and under which contract versions."""
    if mode not in MODES:
        raise BackfillError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    unknown = sorted(set(pins) - set(contract_names(spec)))
    if unknown:
        raise BackfillError(
            f"pipeline {spec.name!r} is not governed by contract(s) {', '.join(unknown)}; "
            f"its contracts: {', '.join(contract_names(spec)) or 'none'}"
        )
    keys = [p.key for p in partition_range(start, end, spec.spec.partition)]
    published: dict[str, str] = {}
    for partition, token in session.execute(
        select(Publication.partition, Publication.token)
        .where(Publication.pipeline == spec.name, Publication.partition.in_(keys))
        .order_by(Publication.id)
    ):
        published[partition] = token
    last = last_runs(session=session, pipeline=spec.name, partitions=keys)
    return [_plan_one(key, mode, pins, published.get(key), last.get(key)) for key in keys]


def _plan_one(key, mode, pins, published, last) -> PlannedPartition:
    run, status = last if last else (None, None)
    partition_pins = {**(run.contract_versions if run else {}), **pins}
    if mode == "all":
        action, reason = "run", "mode all"
    elif published:
        action, reason = "skip", f"published under {published}"
    elif mode == "missing":
        action, reason = "run", "not published" + (f" (last run {status})" if status else "")
    elif status in RERUN:
        action, reason = "run", f"last run {status}"
    else:
        action, reason = "skip", "not failed" if run else "never run (mode failed)"
    return PlannedPartition(key, action, reason, published, partition_pins)


def check_pins(ledger: Ledger, manifests: ManifestSet, pins: dict[str, str]) -> None:
    """Refuse a pin to a version neither the ledger nor the manifests know (reads only)."""
    with ledger.session() as session:
        for name, version in sorted(pins.items()):
            known = [v.version for v in contract_versions(session=session, contract=name)]
            declared = str(manifests.contract(name).version)
            on_record = sorted({*known, declared})
            if version not in on_record:
                raise UnknownContractVersionError(
                    f"contract {name!r} has no version {version!r} on record (known: "
                    f"{', '.join(on_record)}); pin one of those, e.g. {name}@{on_record[-1]}"
                )


def run_backfill(scope: RunScope, request: BackfillRequest) -> dict[str, Any]:
    """Plan, record and run a backfill in this flow run; returns its summary.

    A dry run plans and checks the pins, and records nothing.
    """
    pins = parse_pins(request.contracts)
    with scope.ledger.session() as session:
        planned = plan_backfill(
            session=session,
            spec=scope.spec,
            start=request.start,
            end=request.end,
            mode=request.mode,
            pins=pins,
        )
    check_pins(scope.ledger, scope.manifests, pins)
    to_run = [p for p in planned if p.action == "run"]
    summary: dict[str, Any] = {
        "backfill_id": None,
        "pipeline": scope.spec.name,
        "mode": request.mode,
        "planned": [asdict(p) for p in planned],
        "dry_run": request.dry_run,
    }
    if request.dry_run:
        return summary | {"counts": {"planned-run": len(to_run)}}
    record = scope.ledger.append(row=_request_row(scope, request, pins, planned))
    restating = lifecycle.restatement(request.restate_reason, request.requested_by)
    jobs = _jobs(scope, to_run, record.id, restating)
    outcomes = _Recorder(scope, record.id, jobs).run(request)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome["outcome"]] = counts.get(outcome["outcome"], 0) + 1
    counts[str(RunStatus.SKIPPED)] = len(planned) - len(to_run)
    scope.ledger.append(row=BackfillEnd(backfill_id=record.id, counts=counts))
    checkpoint_after(scope.ledger, backfill=record.id)
    get_run_logger().info("backfill %s of %s: %s", record.id, scope.spec.name, counts)
    return summary | {"backfill_id": record.id, "counts": counts, "outcomes": outcomes}


def _request_row(scope, request, pins, planned) -> Backfill:
    return Backfill(
        pipeline=scope.spec.name,
        start=request.start,
        end=request.end,
        mode=request.mode,
        requested_by=request.requested_by or getpass.getuser(),
        pins=pins,
        parallel=request.parallel,
        fail_fast=request.fail_fast,
        flow_run_id=scope.flow_run_id,
        plan=[asdict(p) for p in planned],
    )


class _Recorder:
    """Runs a backfill's jobs and records each partition's outcome as it finishes."""

    def __init__(self, scope: RunScope, backfill_id: int, jobs: list[Job]):
        self.scope, self.backfill_id, self.jobs = scope, backfill_id, jobs
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.done = 0
        self.last_update = time.monotonic()
        self.progress = _progress.get()
        self.artifact = create_progress_artifact(
            progress=0.0,
            key=f"backfill-{backfill_id}",
            description=f"backfill {backfill_id} of {scope.spec.name}",
        )

    def run(self, request: BackfillRequest) -> list[dict[str, Any]]:
        # Publishing and recording a finished partition happen on one background thread, in
        # order, so the flow's thread keeps submitting stages meanwhile (bench/backfill.py).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-ledger") as recorder:
            pending = []

            def hand_over(job: Job) -> None:
                pending.append(recorder.submit(contextvars.copy_context().run, self.on_done, job))

            started = run_jobs(
                self.scope.spec,
                self.jobs,
                settings=self.scope.settings,
                parallel=request.parallel,
                fail_fast=request.fail_fast,
                on_done=hand_over,
            )
            for future in pending:
                future.result()
        for job in self.jobs[len(started) :]:
            self.outcomes[job.partition] = _outcome(
                job, RunStatus.NOT_RUN, "fail-fast stopped the backfill"
            )
        return [self.outcomes[k] for k in sorted(self.outcomes)]

    def on_done(self, job: Job) -> None:
        error = failure_of(self.scope.spec, job)
        ended = lifecycle.finish(self.scope, job, error)
        outcome = _outcome(job, ended.status, str(error) if error else "")
        self.outcomes[job.partition] = outcome
        self.scope.ledger.append(row=BackfillOutcome(backfill_id=self.backfill_id, **outcome))
        self.done += 1
        total = len(self.jobs)
        # one HTTP round trip per partition held up the whole graph: update at most 1/s
        if self.done == total or time.monotonic() - self.last_update >= 1.0:
            update_progress_artifact(
                artifact_id=self.artifact, progress=100.0 * self.done / max(total, 1)
            )
            self.last_update = time.monotonic()
        if self.progress is not None:
            self.progress(self.done, total, outcome)


def _outcome(job: Job, status: str, detail: str) -> dict[str, Any]:
    outcome = str(status)  # the vocabulary's word, as JSON and the ledger keep it
    return {
        "partition": job.partition,
        "token": job.ref.token,
        "outcome": outcome,
        "detail": detail,
    }


def _jobs(
    scope: RunScope,
    to_run: list[PlannedPartition],
    backfill_id: int,
    restatement: Restatement | None,
) -> list[Job]:
    names = contract_names(scope.spec)
    in_force_by_pins: dict[tuple, Any] = {}
    resumable = came_back(scope.ledger, flow_run_id=scope.flow_run_id)
    jobs = []
    for planned in to_run:
        pins = {k: v for k, v in planned.pins.items() if k in names}
        key = tuple(sorted(pins.items()))
        if key not in in_force_by_pins:
            in_force_by_pins[key] = scope.versions_in_force(pins)
        jobs.append(
            lifecycle.prepare(
                scope,
                partition=planned.partition,
                trigger=f"backfill:{backfill_id}",
                in_force=in_force_by_pins[key],
                backfill_id=backfill_id,
                on_drift="hold",
                restatement=restatement,
                resumable=resumable,
            )
        )
    return jobs
