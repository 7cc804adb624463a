"""The task runner a run's stage tasks go to: the flow run's threads, or Dask (prefect-dask).

The manifest's ``task_runner`` chooses; ``BARECOUNT_TASK_RUNNER`` (threads|dask),
``BARECOUNT_DASK_ADDRESS`` and ``BARECOUNT_TASK_RUNNER_WORKERS`` override it for one run.
The choice is made in the flow body because only there is the manifest read: a deployment
loads the flow from its entrypoint, so ``with_options(task_runner=...)`` at call time cannot
follow the manifest. A run left on threads keeps the flow run's own task runner, so a caller's
``governed_pipeline.with_options(task_runner=...)`` still counts.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from pydantic import ValidationError

from barecount.errors import TaskRunnerError
from barecount.manifest.runners import TaskRunnerSpec

ENV_TYPE = "BARECOUNT_TASK_RUNNER"
ENV_ADDRESS = "BARECOUNT_DASK_ADDRESS"
ENV_WORKERS = "BARECOUNT_TASK_RUNNER_WORKERS"


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def runner_spec(spec: TaskRunnerSpec, environ: Mapping[str, str] | None = None) -> TaskRunnerSpec:
    """The manifest's task runner with the ``BARECOUNT_TASK_RUNNER*`` overrides applied.

    An override of the type drops the manifest's address and workers; an address alone
    means dask at that address.

    Raises:
        TaskRunnerError: an override that is not a usable task runner, said in one line.
    """
    environ = os.environ if environ is None else environ
    kind, address = (_env(environ, ENV_TYPE) or "").lower() or None, _env(environ, ENV_ADDRESS)
    workers = _env(environ, ENV_WORKERS)
    if kind is None and address is None and workers is None:
        return spec
    fields: dict[str, Any] = spec.model_dump()
    if kind is not None and kind != spec.type:
        fields = {"type": kind, "address": None, "workers": None}
    if address is not None:
        fields |= {"type": kind or "dask", "address": address, "workers": None}
    if workers is not None:
        if not workers.isdigit():
            raise TaskRunnerError(f"{ENV_WORKERS}={workers!r} is not a whole number; e.g. 4")
        fields["workers"] = int(workers)
    try:
        return TaskRunnerSpec.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        detail = error["msg"].removeprefix("Value error, ")
        names = f"{ENV_TYPE}, {ENV_ADDRESS}, {ENV_WORKERS}"
        raise TaskRunnerError(
            f"task runner from {names}: {where + ': ' if where else ''}{detail}"
        ) from None


def _dask_runner(spec: TaskRunnerSpec) -> TaskRunner:
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise TaskRunnerError(
            "task runner 'dask' needs prefect-dask: pip install 'barecount[dask]', or set "
            "'task_runner: {type: threads}'"
        ) from None
    if spec.address:
        return DaskTaskRunner(address=spec.address)
    cluster: dict[str, Any] = {
        "processes": True,
        "host": "127.0.0.1",  # a run's own cluster is reached from this machine only
        "dashboard_address": "127.0.0.1:0",  # a free port: 8787, Dask's own, is the console's
    }
    if spec.workers:
        cluster["n_workers"] = spec.workers
    return DaskTaskRunner(cluster_kwargs=cluster)


@contextmanager
def task_runner(spec: TaskRunnerSpec) -> Iterator[TaskRunner | None]:
    """The started task runner for ``spec``, or None for the flow run's own (threads).

    A local Dask cluster starts here and stops when the block ends.
    """
    if spec.type == "threads" and spec.workers is None:
        yield None
    elif spec.type == "threads":
        with ThreadPoolTaskRunner(max_workers=spec.workers) as threads:
            yield threads
    else:
        runner = _dask_runner(spec)
        # Dask's scheduler and nannies log every connection at INFO into the flow run's log
        distributed = logging.getLogger("distributed")
        level = distributed.level
        distributed.setLevel(max(level, logging.WARNING))
        try:
            with runner:
                yield runner
        finally:
            distributed.setLevel(level)


def ran_on() -> str:
    """Where the calling code runs: its Dask worker's address, else host:pid."""
    if "distributed" in sys.modules:  # not imported: certainly not in a Dask worker
        from distributed import get_worker

        try:
            return str(get_worker().address)
        except ValueError:  # not in a Dask worker
            pass
    return f"{socket.gethostname()}:{os.getpid()}"
