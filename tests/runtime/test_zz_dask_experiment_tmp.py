import time
from pathlib import Path

import pytest

from barecount.runtime import runners


def finance(manifests: Path, per_day: int = 20) -> Path:
    path = manifests / "pipelines" / "finance-kpi.yaml"
    path.write_text(path.read_text().replace("invoices_per_day: 2000", f"invoices_per_day: {per_day}"))
    return manifests


@pytest.mark.parametrize("variant", ["threads", "dask1", "dask4"])
def test_exp(home, manifests, monkeypatch, prefect_api, variant):
    from prefect_dask import DaskTaskRunner
    from barecount.runtime.flows import governed_backfill

    finance(manifests)
    if variant != "threads":
        tpw = int(variant[-1])
        monkeypatch.setenv("BARECOUNT_TASK_RUNNER", "dask")
        monkeypatch.setattr(runners, "_dask_runner", lambda spec: DaskTaskRunner(cluster_kwargs={
            "n_workers": 2, "threads_per_worker": tpw, "processes": True, "host": "127.0.0.1", "dashboard_address": None}))
    t = time.perf_counter()
    s = governed_backfill(pipeline="finance-kpi", start="2026-10-01", end="2026-10-12", parallel=6, manifests=str(manifests))
    wall = time.perf_counter() - t
    with open("/tmp/dask_exp/out.txt", "a") as f:
        f.write(f"{variant}: {wall:.1f}s {s['counts']}\n")
