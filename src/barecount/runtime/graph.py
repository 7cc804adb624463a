"""Running the stages of one or many partitions in one flow run, as one graph of tasks.

A subflow per partition would cost about a second of Prefect's flow-run overhead each
(DESIGN.md section 7); instead every (partition, stage) is a task, submitted as soon as what
it needs has finished, with at most ``parallel`` partitions in flight, to the task runner the
manifest chooses (runtime.runners: the flow run's threads, or a Dask cluster).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import get_run_logger
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import TaskRunner

from barecount.errors import BareCountError, GovernanceError, PipelineFailed, StageFailed
from barecount.ledger.chain import now
from barecount.ledger.publish import Restatement
from barecount.lineage.emit import configured as lineage_configured
from barecount.manifest.models import Pipeline, StageSpec
from barecount.runtime.evidence import RunRef, manifests_folder, record_stage_attempt
from barecount.runtime.gate import GateContext, check_stage
from barecount.runtime.runners import ran_on, runner_spec, task_runner
from barecount.runtime.stage import StageResult
from barecount.runtime.task import stage_task, stage_task_options
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
    restatement: Restatement | None = None  # publish a new version of a published partition

    @property
    def stage_ref(self) -> RunRef:
        """The run reference with the contract versions in force now (after approvals)."""
        return dataclasses.replace(self.ref, contract_versions=self.gate.versions)


class Graph:
    """Submits each job's ready stages and collects results until nothing runs."""

    def __init__(
        self,
        spec: Pipeline,
        jobs: list[Job],
        *,
        settings: Settings,
        parallel: int = 1,
        fail_fast: bool = False,
        on_done: Callable[[Job], None] | None = None,
        runner: TaskRunner | None = None,  # None: the flow run's own task runner
    ):
        self.spec, self.settings, self.runner = spec, settings, runner
        self.stages: dict[str, StageSpec] = {s.name: s for s in spec.spec.stages}
        self.waiting, self.active, self.started = list(jobs), [], []
        self.running: dict[PrefectFuture, tuple[Job, str, datetime]] = {}
        self.parallel, self.fail_fast, self.on_done = max(1, parallel), fail_fast, on_done
        self.stopping = False
        self.tasks: dict[tuple[str, bool], tuple[Any, int]] = {}

    def run(self) -> list[Job]:
        """Run every job's stages; return the jobs that started (fail-fast may leave some)."""
        self._fill()
        while self.running:
            future = next(as_completed(list(self.running)))
            job, name, submitted_at = self.running.pop(future)
            future.wait()
            if future.state.is_completed():
                self._completed(job, name, future, submitted_at)
            else:
                job.failed[name] = future.state.result(raise_on_failure=False)
            if job in self.active and not any(j is job for j, _, _ in self.running.values()):
                self._finish(job)
            self._fill()
        return self.started

    def _submit_ready(self, job: Job) -> None:
        if job.failed:
            return
        for name, stage in self.stages.items():
            if name in job.results or name in job.submitted:
                continue
            if all(need in job.results for need in stage.needs):
                task_obj, retries = self._task_of(stage, job.recompute)
                # all of it crosses to a Dask worker process: plain, picklable values
                parameters = {
                    "pipeline": self.spec.name,
                    "stage": stage,
                    "partition": job.partition,
                    "ref": job.stage_ref,
                    "upstream": {need: job.results[need] for need in stage.needs},
                    "warehouse": self.settings.warehouse_url,
                    "landing": str(self.settings.landing),
                    "retries": retries,
                }
                if self.runner is None:
                    future = task_obj.submit(**parameters)
                else:
                    future = self.runner.submit(task_obj, parameters)
                job.submitted.add(name)
                self.running[future] = (job, name, now())

    def _task_of(self, stage: StageSpec, recompute: bool) -> tuple[Any, int]:
        """The stage's task and its retries, worked out once per stage in this graph, not
        once per partition."""
        key = (stage.name, recompute)
        if key not in self.tasks:
            options = stage_task_options(self.spec, stage, self.settings, recompute=recompute)
            self.tasks[key] = (stage_task(options), options["retries"])
        return self.tasks[key]

    def _completed(self, job: Job, name: str, future, submitted_at: datetime) -> None:
        job.results[name] = future.result()
        stage = self.stages[name]
        if future.state.name == "Cached":  # the task body did not run: record the hit here
            record_stage_attempt(
                ref=job.stage_ref,
                stage=stage,
                attempt=1,
                started_at=submitted_at,
                upstream={need: job.results[need] for need in stage.needs},
                result=job.results[name],
                cached=True,
                task_run_id=str(future.task_run_id),
                ran_on=ran_on(),  # recorded here, in the flow run's process
            )
        if stage.contract and not job.failed and not job.recompute:  # verify holds nothing
            try:
                check_stage(job.gate, stage, job.results[name])
            except BareCountError as exc:
                job.failed[name] = exc
            if lineage_configured():  # OpenLineage: the gate's OTHER event
                from barecount.lineage.live import gate_settled  # loads openlineage

                gate_settled(
                    job.gate.ledger, run_id=job.ref.run_id, stage=name, manifests=manifests_folder()
                )
        self._submit_ready(job)

    def _fill(self) -> None:
        while self.waiting and len(self.active) < self.parallel and not self.stopping:
            job = self.waiting.pop(0)
            self.active.append(job)
            self.started.append(job)
            self._submit_ready(job)

    def _finish(self, job: Job) -> None:
        self.active.remove(job)
        if job.failed and self.fail_fast:
            self.stopping = True
        if self.on_done is not None:
            self.on_done(job)


def run_jobs(spec: Pipeline, jobs: list[Job], *, settings: Settings, **options) -> list[Job]:
    """Run every job's stages as one graph of tasks on the pipeline's task runner; return
    the jobs that started."""
    chosen = runner_spec(spec.spec.task_runner)
    if chosen.type != "threads" or chosen.workers:
        get_run_logger().info("%s: stages run on %s", spec.name, chosen.describe())
    with task_runner(chosen) as runner:
        return Graph(spec, jobs, settings=settings, runner=runner, **options).run()


def failure_of(spec: Pipeline, job: Job) -> BaseException | None:
    """The exception that describes a failed job, or None when it succeeded."""
    if not job.failed:
        return None
    governance = [e for e in job.failed.values() if isinstance(e, GovernanceError)]
    if governance:
        return governance[0]
    stages = [s.name for s in spec.spec.stages]
    blocked = [n for n in stages if n not in job.results and n not in job.failed]
    reasons = "; ".join(_reason(name, error) for name, error in job.failed.items())
    extra = f" (not run: {', '.join(blocked)})" if blocked else ""
    return PipelineFailed(
        f"pipeline {spec.name} partition {job.partition} failed at {reasons}{extra}"
    )


def _reason(stage: str, error: object) -> str:
    if isinstance(error, StageFailed):
        return f"{stage} (attempt {error.attempt}): {error.reason}"
    if isinstance(error, BareCountError):
        return f"{stage}: {error}"
    if isinstance(error, BaseException):
        return f"{stage}: {type(error).__name__}: {error}"
    return f"{stage}: {error}"
