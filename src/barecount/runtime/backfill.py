"""Backfills: plan a range of partitions against the contract versions that governed them,
run what is needed in one flow run, and leave a compliance record."""

from __future__ import annotations

import contextvars
import getpass
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.runtime import flow_run as current_flow_run
from sqlalchemy import select

from barecount.errors import BareCountError
from barecount.governance.registry import versions_in_force
from barecount.ledger.chain import append
from barecount.ledger.db import session_scope
from barecount.ledger.models import (
    Backfill,
    BackfillEnd,
    BackfillOutcome,
    PipelineRun,
    Publication,
    RunSummary,
)
from barecount.ledger.store import start_run
from barecount.manifest import ManifestSet, load_manifests
from barecount.runtime.engine import Job, failure_of, run_jobs
from barecount.runtime.evidence import RunRef
from barecount.runtime.flow import finish_partition
from barecount.runtime.gate import GateContext
from barecount.runtime.partitions import partition_range
from barecount.runtime.plan import contract_names, plan_run
from barecount.settings import get_settings

MODES = ("missing", "failed", "all")
RERUN_AFTER = ("failed", "rejected", "blocked", "held", "waiting")

# In-process observers of backfill progress (the CLI's progress bar): (done, total, outcome).
progress_listeners: list[Callable[[int, int, dict[str, Any]], None]] = []


class BackfillError(BareCountError, ValueError):
    """A backfill request that cannot be planned."""


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
class PlannedPartition:
    partition: str
    action: str  # run | skip
    reason: str
    published_token: str | None
    pins: dict[str, str]


def plan_backfill(
    *,
    session: Any,
    loaded: ManifestSet,
    pipeline: str,
    start: str,
    end: str,
    mode: str,
    pins: dict[str, str],
) -> list[PlannedPartition]:
    """What each partition of the range will do, and under which contract versions."""
    if mode not in MODES:
        raise BackfillError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    spec = loaded.pipeline(pipeline)
    unknown = sorted(set(pins) - set(contract_names(spec)))
    if unknown:
        raise BackfillError(
            f"pipeline {pipeline!r} is not governed by contract(s) {', '.join(unknown)}; "
            f"its contracts: {', '.join(contract_names(spec)) or 'none'}"
        )
    keys = [p.key for p in partition_range(start, end, spec.spec.partition)]
    published: dict[str, str] = {}
    for partition, token in session.execute(
        select(Publication.partition, Publication.token)
        .where(Publication.pipeline == pipeline, Publication.partition.in_(keys))
        .order_by(Publication.id)
    ):
        published[partition] = token
    last_run: dict[str, PipelineRun] = {}
    for run in session.execute(
        select(PipelineRun)
        .where(PipelineRun.pipeline == pipeline, PipelineRun.partition.in_(keys))
        .order_by(PipelineRun.id)
    ).scalars():
        last_run[run.partition] = run
    ended = {
        row.run_id: row.status
        for row in session.execute(
            select(RunSummary).where(RunSummary.run_id.in_([r.id for r in last_run.values()]))
        ).scalars()
    }
    planned = []
    for key in keys:
        previous = last_run.get(key)
        status = ended.get(previous.id) if previous else None
        partition_pins = {**(previous.contract_versions if previous else {}), **pins}
        if mode == "all":
            action, reason = "run", "mode all"
        elif key in published:
            action, reason = "skip", f"published under {published[key]}"
        elif mode == "missing":
            action, reason = "run", "not published" + (f" (last run {status})" if status else "")
        elif status in RERUN_AFTER or (previous and status is None):
            action, reason = "run", f"last run {status or 'interrupted'}"
        else:
            action, reason = "skip", "not failed" if previous else "never run (mode failed)"
        planned.append(PlannedPartition(key, action, reason, published.get(key), partition_pins))
    return planned


@flow(name="governed-backfill", flow_run_name="backfill-{pipeline}-{start}-{end}")
def governed_backfill(
    pipeline: str,
    start: str,
    end: str,
    contracts: list[str] | None = None,
    mode: str = "missing",
    parallel: int = 4,
    fail_fast: bool = False,
    dry_run: bool = False,
    manifests: str | None = None,
    requested_by: str | None = None,
) -> dict[str, Any]:
    """Backfill PIPELINE from START to END (inclusive), each partition under its own token.

    Args:
        pipeline: Pipeline name.
        start: First partition key.
        end: Last partition key.
        contracts: Contract pins NAME@VERSION; default: the versions each partition ran under.
        mode: missing (not published), failed (last run failed or interrupted), or all.
        parallel: Partitions in flight at once.
        fail_fast: Stop starting partitions after the first failure.
        dry_run: Plan and record nothing else.
        manifests: Manifests folder.
        requested_by: Who asked (default: the OS user running the flow).
    """
    settings = get_settings()
    loaded = load_manifests(manifests or settings.manifests)
    spec = loaded.pipeline(pipeline)
    pins = parse_pins(contracts)
    flow_run_id = str(current_flow_run.id) if current_flow_run.id else None
    with session_scope(settings.ledger_url) as session:
        planned = plan_backfill(
            session=session,
            loaded=loaded,
            pipeline=pipeline,
            start=start,
            end=end,
            mode=mode,
            pins=pins,
        )
        record = append(
            session,
            Backfill(
                pipeline=pipeline,
                start=start,
                end=end,
                mode=mode,
                requested_by=requested_by or getpass.getuser(),
                pins=pins,
                parallel=parallel,
                fail_fast=fail_fast,
                flow_run_id=flow_run_id,
                plan=[asdict(p) for p in planned],
            ),
        )
    to_run = [p for p in planned if p.action == "run"]
    summary: dict[str, Any] = {
        "backfill_id": record.id,
        "pipeline": pipeline,
        "mode": mode,
        "planned": [asdict(p) for p in planned],
        "dry_run": dry_run,
    }
    if dry_run:
        return summary | {"counts": {"planned-run": len(to_run)}}

    jobs = _jobs(settings, loaded, spec, to_run, record.id, flow_run_id)
    total, done = len(jobs), 0
    outcomes: dict[str, dict[str, Any]] = {}
    last_update = [time.monotonic()]
    artifact = create_progress_artifact(
        progress=0.0, key=f"backfill-{record.id}", description=f"backfill {record.id} of {pipeline}"
    )

    def on_done(job: Job) -> None:
        nonlocal done
        error = failure_of(spec, job)
        status, _ = finish_partition(
            settings.ledger_url, spec, job.gate.run, job.results, error, manifests=loaded
        )
        outcome = {
            "partition": job.partition,
            "token": job.ref.token,
            "outcome": status,
            "detail": str(error) if error else "",
        }
        outcomes[job.partition] = outcome
        with session_scope(settings.ledger_url) as s:
            append(s, BackfillOutcome(backfill_id=record.id, **outcome))
        done += 1
        # one HTTP round trip per partition held up the whole graph: update at most 1/s
        if done == total or time.monotonic() - last_update[0] >= 1.0:
            update_progress_artifact(artifact_id=artifact, progress=100.0 * done / max(total, 1))
            last_update[0] = time.monotonic()
        for listener in progress_listeners:
            listener(done, total, outcome)

    # Publishing and recording a finished partition happen on one background thread, in
    # order, so the flow's thread keeps submitting stages meanwhile (bench/backfill.py).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-ledger") as recorder:
        pending = []

        def hand_over(job: Job) -> None:
            pending.append(recorder.submit(contextvars.copy_context().run, on_done, job))

        started = run_jobs(
            spec,
            jobs,
            settings=settings,
            parallel=parallel,
            fail_fast=fail_fast,
            on_done=hand_over,
        )
        for future in pending:
            future.result()
    for job in jobs[len(started) :]:
        outcomes[job.partition] = {
            "partition": job.partition,
            "token": job.ref.token,
            "outcome": "not-run",
            "detail": "fail-fast stopped the backfill",
        }
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome["outcome"]] = counts.get(outcome["outcome"], 0) + 1
    counts["skipped"] = len(planned) - len(to_run)
    with session_scope(settings.ledger_url) as session:
        append(session, BackfillEnd(backfill_id=record.id, counts=counts))
    get_run_logger().info("backfill %s of %s: %s", record.id, pipeline, counts)
    return summary | {"counts": counts, "outcomes": [outcomes[k] for k in sorted(outcomes)]}


def _jobs(settings, loaded, spec, to_run, backfill_id, flow_run_id) -> list[Job]:
    jobs = []
    with session_scope(settings.ledger_url) as session:
        names = contract_names(spec)
        cache: dict[tuple, Any] = {}
        for planned in to_run:
            pins = {k: v for k, v in planned.pins.items() if k in names}
            key = tuple(sorted(pins.items()))
            if key not in cache:
                cache[key] = versions_in_force(
                    session=session, manifests=loaded, contracts=names, pins=pins
                )
            in_force = dict(cache[key])
            plan = plan_run(
                loaded,
                spec.name,
                planned.partition,
                versions={n: row.version for n, row in in_force.items()},
            )
            run = start_run(
                session=session,
                token=plan.token,
                pipeline=spec.name,
                partition=plan.partition,
                manifest_digest=plan.manifest_digest,
                contract_versions=plan.contract_versions,
                trigger=f"backfill:{backfill_id}",
                flow_run_id=flow_run_id,
                backfill_id=backfill_id,
            )
            gate = GateContext(
                ledger_url=settings.ledger_url,
                manifests=loaded,
                pipeline=spec,
                run=run,
                flow_run_id=flow_run_id,
                in_force=in_force,
                on_drift="hold",
            )
            jobs.append(
                Job(
                    partition=plan.partition, ref=RunRef.of(run, settings.ledger_url, {}), gate=gate
                )
            )
    return jobs
