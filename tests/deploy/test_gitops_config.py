"""plan and apply with a project config, against the session's real Prefect server: a docker
pool with job variables and a git_clone pull step whose token is a Secret block."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from bc_testkit import forget_deployments, write_pipeline
from prefect import get_client
from prefect.blocks.system import Secret
from prefect.exceptions import ObjectNotFound

from barecount.cli.main import main
from barecount.deploy import apply as server_side
from barecount.deploy.compile import compile_project, render_prefect_yaml
from barecount.deploy.plan import Plan
from barecount.deploy.source import compiled_pull
from barecount.manifest import load_manifests
from barecount.manifest.projectconfig import WorkPool, load_project_config
from barecount.names import BACKFILL_FLOW_NAME, FLOW_NAME

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")
GIT_CLONE = "prefect.deployments.steps.git_clone"
SHA = "89abcdef0123456789abcdef0123456789abcdef"

# deployments of a test pipeline on a pool of its own, yet plan/apply read the whole server
pytestmark = pytest.mark.xdist_group("finance-kpi-deployment")


def run(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def name() -> str:
    return f"gc-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def project(tmp_path: Path, manifests: Path, name: str):
    """A project folder (flows/, manifests with pipeline `name`, barecount.yaml): deploys
    `name` from git on a docker pool `name`-docker; removed from the server afterwards."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "flows").symlink_to(REPO / "flows")
    stages = [{"name": "total", "kind": "transform", "run": "bc_test_stages:sleepy"}]
    write_pipeline(manifests, name, stages, partition={"calendar": "daily"})
    (folder / "barecount.yaml").write_text(
        "apiVersion: barecount/v1\n"
        "kind: Project\n"
        "spec:\n"
        "  pull:\n"
        "    git_clone:\n"
        "      repository: https://git.example.com/acme/data.git\n"
        "      branch: main\n"
        f"      access_token_block: {name}-token\n"
        f"  work_pool: {{name: {name}-docker, type: docker}}\n"
        "  job_variables:\n"
        "    image: ghcr.io/acme/barecount:1.4\n"
        "    env: {TZ: UTC}\n"
        "  pipelines:\n"
        f"    {name}:\n"
        "      job_variables: {mem_limit: 2g, env: {BARECOUNT_HOME: /data}}\n"
    )
    yield folder
    forget_deployments(f"{FLOW_NAME}/{name}", f"{BACKFILL_FLOW_NAME}/{name}-backfill")
    with get_client(sync_client=True) as client:
        for delete in (
            lambda: client.delete_work_pool(f"{name}-docker"),
            lambda: client.delete_block_document(
                client.read_block_document_by_name(f"{name}-token", "secret").id
            ),
        ):
            try:
                delete()
            except ObjectNotFound:
                pass


def test_docker_pool_and_git_clone_deploy_as_prefect_deploy_does(
    prefect_api, capsys, manifests: Path, project: Path, name: str
) -> None:
    config = project / "barecount.yaml"
    common = ("-m", str(manifests), "--project", str(project), "-c", str(config))
    only = ("--only", name)

    # the token's Secret block must exist first, or no worker could clone
    code, out, err = run(capsys, "plan", *common, *only)
    assert code == 1
    assert f"the Prefect server has no Secret block '{name}-token'" in err.replace("\n", " ")
    Secret(value="s3cret-token").save(f"{name}-token")

    # `prefect deploy` of the compiled prefect.yaml, onto the pool apply creates ...
    setup = load_project_config(config)
    specs = [
        s
        for s in compile_project(load_manifests(manifests), setup)
        if s["name"] in (name, f"{name}-backfill")
    ]
    (project / "deployments").mkdir()
    (project / "deployments" / "prefect.yaml").write_text(
        render_prefect_yaml(specs, compiled_pull(setup))
    )
    pool = WorkPool(name=f"{name}-docker", type="docker")
    with get_client(sync_client=True) as client:
        assert server_side.apply(Plan(create_work_pool=True, changes=(), work_pool=pool), client)
        created = client.read_work_pool(pool.name)
    assert created.type == "docker"
    assert {"image", "env", "mem_limit"} <= set(
        created.base_job_template["variables"]["properties"]
    )
    result = subprocess.run(
        [PREFECT, "--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml"],
        cwd=project,
        env={**os.environ, "PREFECT_API_URL": prefect_api},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # ... is what plan wants: nothing to change
    code, out, err = run(capsys, "plan", *common, *only)
    assert (code, out.strip()) == (0, "no changes: 2 deployment(s) match the manifests"), err
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(f"{FLOW_NAME}/{name}")
    assert deployment.work_pool_name == pool.name
    assert deployment.job_variables == {
        "image": "ghcr.io/acme/barecount:1.4",
        "env": {"TZ": "UTC", "BARECOUNT_HOME": "/data"},
        "mem_limit": "2g",
    }
    token = f"{{{{ prefect.blocks.secret.{name}-token }}}}"  # resolved by the worker
    repository = "https://git.example.com/acme/data.git"
    assert deployment.pull_steps == [
        {GIT_CLONE: {"repository": repository, "branch": "main", "access_token": token}}
    ]

    # the commit CI deploys replaces the branch, in both deployments
    code, out, err = run(capsys, "apply", *common, *only, "--commit", SHA)
    assert code == 0, err
    assert out.splitlines() == [
        f"updated deployment {FLOW_NAME}/{name}: pull steps",
        f"updated deployment {BACKFILL_FLOW_NAME}/{name}-backfill: pull steps",
        "applied: 2 change(s)",
    ]
    with get_client(sync_client=True) as client:
        for full_name in (f"{FLOW_NAME}/{name}", f"{BACKFILL_FLOW_NAME}/{name}-backfill"):
            steps = client.read_deployment_by_name(full_name).pull_steps
            assert steps == [
                {GIT_CLONE: {"repository": repository, "commit_sha": SHA, "access_token": token}}
            ]
    assert "s3cret-token" not in out + err


def test_a_pool_of_another_type_is_not_taken_over(
    prefect_api, capsys, manifests: Path, project: Path, name: str
) -> None:
    from prefect.client.schemas.actions import WorkPoolCreate

    Secret(value="x").save(f"{name}-token")
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=f"{name}-docker", type="process"))
    config = project / "barecount.yaml"
    code, out, err = run(capsys, "apply", "-m", str(manifests), "-c", str(config), "--only", name)
    assert code == 1
    assert (
        f"work pool '{name}-docker' on the server is a process pool, but the project config "
        "asks for docker" in err.replace("\n", " ")
    )
    assert "Traceback" not in out + err
