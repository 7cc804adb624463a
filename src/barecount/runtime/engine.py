"""Running the stages of one or many partitions in one flow run, as one graph of tasks.

A subflow per partition would cost about a second of Prefect's flow-run overhead each
(DESIGN.md section 7); instead every (partition, stage) is a task, submitted as soon as what
it needs has finished, with at most ``parallel`` partitions in flight.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from prefect.futures import PrefectFuture, as_completed

from barecount.errors import BareCountError, GovernanceError
from barecount.ledger.chain import now
from barecount.manifest.models import Pipeline, StageSpec
from barecount.runtime.evidence import RunRef, record_stage_attempt
from barecount.runtime.gate import GateContext, check_stage
from barecount.runtime.stage import StageResult
from barecount.runtime.stages import stage_task, stage_task_options
from barecount.settings import Settings


@dataclass
class Job:
    """One partition's run inside the graph: its plan, gate and what its stages produced."""

    partition: str
    ref: RunRef
    gate: GateContext
    results: dict[str, StageResult] = field(default_factory=dict)
    failed: dict[str, BaseException] = field(default_factory=dict)
    submitted: set[str] = field(default_factory=set)
    recompute: bool = False

    def done(self, stages: dict[str, StageSpec]) -> bool:
        return bool(self.failed) or len(self.results) == len(stages)


def run_jobs(
    spec: Pipeline,
    jobs: list[Job],
    *,
    settings: Settings,
    parallel: int = 1,
    fail_fast: bool = False,
    on_done: Callable[[Job], None] | None = None,
) -> list[Job]:
    """Run every job's stages; return the jobs that started (fail-fast may leave some out)."""
    stages = {s.name: s for s in spec.spec.stages}
    waiting = list(jobs)
    active: list[Job] = []
    started: list[Job] = []
    running: dict[PrefectFuture, tuple[Job, str, datetime]] = {}
    stopping = False

    def submit_ready(job: Job) -> None:
        if job.failed:
            return
        for name, stage in stages.items():
            if name in job.results or name in job.submitted:
                continue
            if all(need in job.results for need in stage.needs):
                options = stage_task_options(spec, stage, settings, recompute=job.recompute)
                future = stage_task(options).submit(
                    pipeline=spec.name,
                    stage=stage,
                    partition=job.partition,
                    ref=dataclasses.replace(job.ref, contract_versions=job.gate.versions),
                    upstream={need: job.results[need] for need in stage.needs},
                    warehouse=str(settings.warehouse),
                    landing=str(settings.landing),
                    retries=options["retries"],
                )
                job.submitted.add(name)
                running[future] = (job, name, now())

    def fill() -> None:
        while waiting and len(active) < max(1, parallel) and not stopping:
            job = waiting.pop(0)
            active.append(job)
            started.append(job)
            submit_ready(job)

    def finish(job: Job) -> None:
        nonlocal stopping
        active.remove(job)
        if job.failed and fail_fast:
            stopping = True
        if on_done is not None:
            on_done(job)

    fill()
    while running:
        future = next(as_completed(list(running)))
        job, name, submitted_at = running.pop(future)
        future.wait()
        state = future.state
        if state.is_completed():
            job.results[name] = future.result()
            stage = stages[name]
            if state.name == "Cached":  # the task body did not run: record the hit here
                record_stage_attempt(
                    ref=dataclasses.replace(job.ref, contract_versions=job.gate.versions),
                    stage=stage,
                    attempt=1,
                    started_at=submitted_at,
                    upstream={need: job.results[need] for need in stage.needs},
                    result=job.results[name],
                    cached=True,
                    task_run_id=str(future.task_run_id),
                )
            if stage.contract and not job.failed:
                try:
                    check_stage(job.gate, stage, job.results[name])
                except BareCountError as exc:
                    job.failed[name] = exc
            submit_ready(job)
        else:
            job.failed[name] = state.result(raise_on_failure=False)
        if job in active and not any(j is job for j, _, _ in running.values()):
            finish(job)
        fill()
    return started


def failure_of(spec: Pipeline, job: Job) -> BaseException | None:
    """The exception that describes a failed job, or None when it succeeded."""
    from barecount.runtime.stages import PipelineFailed, describe

    if not job.failed:
        return None
    governance = [e for e in job.failed.values() if isinstance(e, GovernanceError)]
    if governance:
        return governance[0]
    stages = [s.name for s in spec.spec.stages]
    blocked = [n for n in stages if n not in job.results and n not in job.failed]
    reasons = "; ".join(f"{n}: {describe(e)}" for n, e in job.failed.items())
    extra = f" (not run: {', '.join(blocked)})" if blocked else ""
    return PipelineFailed(
        f"pipeline {spec.name} partition {job.partition} failed at {reasons}{extra}"
    )
