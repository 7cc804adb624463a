"""The compiled prefect.yaml is accepted by 'prefect deploy' on a real server."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bc_testkit import forget_deployments, wait_for
from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists

from barecount.deploy.compile import compile_project, render_prefect_yaml
from barecount.manifest import load_manifests
from barecount.names import WORK_POOL

REPO = Path(__file__).resolve().parents[2]


def ensure_process_pool() -> None:
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
        except ObjectAlreadyExists:
            pass


async def automations_of(deployment_id) -> list:
    async with get_client() as client:
        return await client.read_resource_related_automations(f"prefect.deployment.{deployment_id}")


@pytest.mark.xdist_group("finance-kpi-deployment")  # tests/conftest.py: SHARED_DEPLOYMENTS
def test_prefect_deploy_accepts_compiled_file(prefect_api: str, tmp_path: Path) -> None:
    # deploy from a copy of the project, with a manifest changed so that the test
    # proves the file we compiled (not the committed one) is what Prefect reads
    project = tmp_path / "project"
    shutil.copytree(REPO / "flows", project / "flows")
    shutil.copytree(REPO / "manifests", project / "manifests")
    pipeline = project / "manifests" / "pipelines" / "finance-kpi.yaml"
    pipeline.write_text(pipeline.read_text().replace('cron: "0 0 * * *"', 'cron: "15 1 * * *"'))
    compiled = render_prefect_yaml(compile_project(load_manifests(project / "manifests")))
    forget_deployments("governed-pipeline/finance-kpi", "governed-pipeline/finance-rollup")
    (project / "deployments").mkdir()
    (project / "deployments" / "prefect.yaml").write_text(compiled)
    ensure_process_pool()

    prefect = Path(sys.executable).parent / "prefect"
    result = subprocess.run(
        [
            str(prefect),
            "--no-prompt",
            "deploy",
            "--all",
            "--prefect-file",
            "deployments/prefect.yaml",
        ],
        cwd=project,
        env={**os.environ, "PREFECT_API_URL": prefect_api},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "governed-pipeline/finance-kpi" in result.stdout

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("governed-pipeline/finance-kpi")
    assert deployment.entrypoint == "flows/governed_pipeline.py:governed_pipeline"
    assert deployment.parameters == {"pipeline": "finance-kpi"}
    assert deployment.work_pool_name == WORK_POOL
    assert {"barecount", "owner:finance-data"} <= set(deployment.tags)
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "15 1 * * *"
    assert schedule.schedule.timezone == "Europe/Berlin"
    assert schedule.active is True

    # the scheduler's runs, read back from the API, fall at 01:15 Berlin time
    from zoneinfo import ZoneInfo

    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    def scheduler_runs() -> list:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
            )
        scheduled = [r for r in runs if r.auto_scheduled]  # made by the scheduler service
        return scheduled if len(scheduled) >= 3 else []

    scheduled = wait_for(scheduler_runs, timeout=60, what="three runs made by the scheduler")
    starts = sorted(
        r.expected_start_time.astimezone(ZoneInfo("Europe/Berlin"))
        for r in scheduled
        if r.state_name == "Scheduled"
    )
    assert len(starts) >= 3
    assert {(s.hour, s.minute) for s in starts} == {(1, 15)}
    assert len({s.date() for s in starts}) == len(starts)  # one a day
    assert {r.parameters.get("trigger") for r in scheduled} == {"schedule"}

    # the backfill of each pipeline is a deployment too, startable from the UI with a range
    with get_client(sync_client=True) as client:
        backfill = client.read_deployment_by_name("governed-backfill/finance-kpi-backfill")
    assert backfill.parameters == {"pipeline": "finance-kpi"}
    assert {"start", "end", "mode", "contracts"} <= set(
        backfill.parameter_openapi_schema["properties"]
    )

    automations = asyncio.run(automations_of(deployment.id))
    triggers = {
        (tuple(a.trigger.expect), a.trigger.match.root["prefect.resource.id"]): a
        for a in automations
    }
    assert set(triggers) == {
        (("barecount.source.updated",), "barecount.source.erp.invoices"),
        (("barecount.contract.approved",), "barecount.contract.invoices"),
    }
    source = triggers[(("barecount.source.updated",), "barecount.source.erp.invoices")]
    (action,) = source.actions
    assert action.deployment_id == deployment.id
    assert action.parameters["partition"] == "{{ event.payload.partition }}"


@pytest.fixture(autouse=True)
def _isolated_prefect_cwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
