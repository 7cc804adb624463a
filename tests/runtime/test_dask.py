"""Issue 12 item 5: stage tasks on a Dask cluster (prefect-dask), chosen by the manifest."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest
from sqlalchemy import select

from barecount.errors import ManifestError, TaskRunnerError
from barecount.ledger import get_ledger
from barecount.ledger.models import Publication, StageAttempt
from barecount.manifest import load_manifests
from barecount.manifest.runners import TaskRunnerSpec
from barecount.runtime.runners import runner_spec

DASK_WORKER = re.compile(r"tcp://127\.0\.0\.1:\d+")


def finance(manifests: Path, task_runner: str | None = None, per_day: int = 20) -> Path:
    """The shipped finance pipeline, small, with ``task_runner`` written into its spec."""
    path = manifests / "pipelines" / "finance-kpi.yaml"
    text = path.read_text().replace("invoices_per_day: 2000", f"invoices_per_day: {per_day}")
    if task_runner is not None:
        text = text.replace("\nspec:\n", f"\nspec:\n  task_runner: {task_runner}\n", 1)
    path.write_text(text)
    return manifests


def attempts_and_publications() -> tuple[list[StageAttempt], list[Publication]]:
    with get_ledger().session() as session:
        attempts = list(session.execute(select(StageAttempt)).scalars())
        publications = list(session.execute(select(Publication)).scalars())
    return attempts, publications


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ~45 s on an idle 2-core machine; each task pays Prefect's set-up in a Dask worker process
# (bench/backfill.py --task-runner dask), so a busy machine can triple it
@pytest.mark.timeout(600)
@pytest.mark.usefixtures("prefect_api")
def test_thirty_day_backfill_on_a_local_dask_cluster_publishes_each_partition_once(
    home: Path, manifests: Path
) -> None:
    from barecount.runtime.flows import governed_backfill

    finance(manifests, "{type: dask, workers: 2}")
    summary = governed_backfill(
        pipeline="finance-kpi",
        start="2026-10-01",
        end="2026-10-30",
        parallel=6,
        manifests=str(manifests),
    )
    assert summary["counts"] == {"published": 30, "skipped": 0}
    attempts, publications = attempts_and_publications()
    # exactly once: 30 distinct partitions, three KPIs each, no (kpi, partition) twice
    assert len({p.partition for p in publications}) == 30
    published = [(p.kpi, p.partition) for p in publications]
    assert len(published) == 90 and len(set(published)) == 90
    # every stage ran on a Dask worker process, and both workers took some
    assert len(attempts) == 90 and {a.state for a in attempts} == {"completed"}
    ran_on = {a.ran_on for a in attempts}
    assert all(where and DASK_WORKER.fullmatch(where) for where in ran_on), ran_on
    assert len(ran_on) == 2, ran_on
    assert this_process() not in ran_on


@pytest.mark.usefixtures("prefect_api")
def test_single_run_goes_to_the_scheduler_address_given_in_the_environment(
    home: Path, manifests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import LocalCluster

    from barecount.runtime.flows import governed_pipeline

    finance(manifests)  # the manifest says nothing: threads, overridden for this run
    # started after the home fixture set BARECOUNT_*: the worker inherits this test's ledger
    with LocalCluster(
        n_workers=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        monkeypatch.setenv("BARECOUNT_DASK_ADDRESS", cluster.scheduler_address)
        (worker,) = cluster.scheduler_info["workers"]
        summary = governed_pipeline(
            pipeline="finance-kpi", partition="2026-11-20", manifests=str(manifests)
        )
        again = governed_pipeline(
            pipeline="finance-kpi", partition="2026-11-20", manifests=str(manifests)
        )
    assert (summary["status"], again["status"]) == ("published", "already-published")
    attempts, publications = attempts_and_publications()
    assert len(publications) == 3
    first = [a for a in attempts if a.state == "completed"]
    assert len(first) == 3 and {a.ran_on for a in first} == {worker}
    # the second run's cache hits are recorded by the flow run, in this process
    assert {a.ran_on for a in attempts if a.state == "cached"} == {this_process()}


def test_threads_attempts_record_host_and_pid(home: Path, manifests: Path, prefect_api) -> None:
    from barecount.runtime.flows import governed_pipeline

    finance(manifests)
    governed_pipeline(pipeline="finance-kpi", partition="2026-11-21", manifests=str(manifests))
    attempts, _ = attempts_and_publications()
    assert {a.ran_on for a in attempts} == {this_process()}


def test_environment_overrides_the_manifest_task_runner() -> None:
    local = TaskRunnerSpec(type="dask", workers=2)
    assert runner_spec(local, {}) is local
    assert runner_spec(local, {"BARECOUNT_TASK_RUNNER": "threads"}) == TaskRunnerSpec()
    assert runner_spec(TaskRunnerSpec(), {"BARECOUNT_DASK_ADDRESS": "tcp://sched:8786"}) == (
        TaskRunnerSpec(type="dask", address="tcp://sched:8786")
    )
    assert runner_spec(local, {"BARECOUNT_TASK_RUNNER_WORKERS": "4"}).workers == 4
    assert runner_spec(TaskRunnerSpec(), {"BARECOUNT_TASK_RUNNER": "dask"}) == (
        TaskRunnerSpec(type="dask")
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BARECOUNT_TASK_RUNNER": "ray"}, "type: Input should be 'threads' or 'dask'"),
        ({"BARECOUNT_TASK_RUNNER_WORKERS": "many"}, "'many' is not a whole number"),
        (
            {"BARECOUNT_DASK_ADDRESS": "sched 8786"},
            "is not a Dask scheduler address; write protocol://host:port",
        ),
        (
            {"BARECOUNT_DASK_ADDRESS": "tcp://s:8786", "BARECOUNT_TASK_RUNNER_WORKERS": "2"},
            "drop 'workers'",
        ),
    ],
)
def test_bad_task_runner_environment_is_one_clear_line(environ, message) -> None:
    with pytest.raises(TaskRunnerError) as caught:
        runner_spec(TaskRunnerSpec(), environ)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_manifest_task_runner_mistakes_name_the_file_and_the_fix(manifests: Path) -> None:
    finance(manifests, "{type: threads, address: 'tcp://sched:8786'}")
    with pytest.raises(ManifestError) as caught:
        load_manifests(manifests)
    assert "finance-kpi.yaml:" in str(caught.value)
    assert "task_runner has an address but type 'threads'; set 'type: dask'" in str(caught.value)
