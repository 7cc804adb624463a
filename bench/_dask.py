"""Dask for the benchmarks' ``--task-runner dask``: the same cluster settings on both sides.

Governed runs choose Dask the way an operator does (``BARECOUNT_TASK_RUNNER*`` /
``BARECOUNT_DASK_ADDRESS``, read by barecount.runtime.runners); plain Prefect flows get a
``DaskTaskRunner`` through ``flow.with_options(task_runner=...)``, Prefect's own way.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

ENV = ("BARECOUNT_TASK_RUNNER", "BARECOUNT_DASK_ADDRESS", "BARECOUNT_TASK_RUNNER_WORKERS")


def cluster_kwargs(workers: int) -> dict[str, Any]:
    """What barecount.runtime.runners gives a local cluster of ``workers`` processes."""
    return {
        "n_workers": workers,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
    }


@contextmanager
def local_cluster(workers: int) -> Iterator[tuple[str, float]]:
    """A LocalCluster of ``workers`` processes for the whole block: (address, start seconds).

    Its workers inherit this process's environment and sys.path as they are now.
    """
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)  # the bench prints its own
    start = time.perf_counter()
    with LocalCluster(**cluster_kwargs(workers)) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        yield cluster.scheduler_address, time.perf_counter() - start


@contextmanager
def governed_env(**values: str) -> Iterator[None]:
    """Set BARECOUNT_TASK_RUNNER* for governed runs in the block (and nothing else)."""
    saved = {name: os.environ.pop(name, None) for name in ENV}
    os.environ.update(values)
    try:
        yield
    finally:
        for name in ENV:
            os.environ.pop(name, None)
            if saved[name] is not None:
                os.environ[name] = saved[name]  # type: ignore[assignment]


def on_dask(fn: Callable[[], Any], **env: str) -> Callable[[], Any]:
    """``fn`` (a governed run) with the task runner chosen by ``env``."""

    def call() -> Any:
        with governed_env(**env):
            return fn()

    return call


def plain_on_dask(flow: Any, **runner: Any) -> Any:
    """A plain Prefect flow on a DaskTaskRunner(**runner), Prefect's way."""
    from prefect_dask import DaskTaskRunner

    logging.getLogger("distributed").setLevel(logging.WARNING)  # as governed runs set it
    return flow.with_options(task_runner=DaskTaskRunner(**runner))
