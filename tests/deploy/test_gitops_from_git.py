"""GitOps from git: deployments whose code a worker clones, so any worker can run them.

A bare repository on this machine (file://) holds the project; `barecount apply` gives the
deployment a git_clone pull step, pinned to the commit deployed; a process worker started in
an empty folder runs `prefect deployment run` and the run publishes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bc_testkit import (
    REPO,
    ProcessWorker,
    clear_pool,
    cli,
    deploy_project,
    flow_state,
    forget_deployments,
    published,
    wait_for,
)
from prefect import get_client

PREFECT = str(Path(sys.executable).parent / "prefect")
GIT_CLONE = "prefect.deployments.steps.git_clone"
DAY = "2026-09-14"
TRIGGERS = (
    "  triggers:\n    - {on: source-updated, source: erp.invoices}\n"
    "    - {on: contract-approved, contract: invoices}\n"
)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bc",
    "GIT_AUTHOR_EMAIL": "bc@example.com",
    "GIT_COMMITTER_NAME": "bc",
    "GIT_COMMITTER_EMAIL": "bc@example.com",
}

pytestmark = [
    pytest.mark.usefixtures("prefect_api"),
    # finance-kpi's deployment and a worker on the 'barecount' pool: shared server state
    pytest.mark.xdist_group("finance-kpi-deployment"),
]


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.fixture
def restore_server():
    """Leave the server as other tests expect it: no finance-kpi deployments of ours."""
    yield
    forget_deployments("governed-pipeline/finance-kpi", "governed-backfill/finance-kpi-backfill")
    clear_pool()


def test_a_worker_in_an_empty_folder_runs_the_deployment_cloned_from_git(
    capsys, manifests: Path, home: Path, tmp_path: Path, restore_server
) -> None:
    # small extracts; no event triggers, which other tests' events would fire
    pipeline = manifests / "pipelines" / "finance-kpi.yaml"
    text = pipeline.read_text().replace("invoices_per_day: 2000", "invoices_per_day: 60")
    assert TRIGGERS in text
    pipeline.write_text(text.replace(TRIGGERS, ""))

    bare = tmp_path / "repo.git"
    git("init", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    project = tmp_path / "project"
    shutil.copytree(REPO / "src" / "barecount" / "examples", project / "src/barecount/examples")
    config = project / "barecount.yaml"
    config.write_text(
        "apiVersion: barecount/v1\n"
        "kind: Project\n"
        "spec:\n"
        f"  pull: {{git_clone: {{repository: '{bare.as_uri()}', branch: main}}}}\n"
        "  work_pool: {name: barecount, type: process}\n"
    )
    # applied with the branch (copies flows/ and the manifests into the project first) ...
    deploy_project(manifests, project, "finance-kpi", config=config)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("governed-pipeline/finance-kpi")
    assert deployment.pull_steps == [{GIT_CLONE: {"repository": bare.as_uri(), "branch": "main"}}]

    # ... then the project is pushed, and apply pins the commit it deploys, as CI does
    git("init", "--initial-branch=main", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "finance-kpi", cwd=project)
    git("push", "-q", str(bare), "main", cwd=project)
    deployed = git("rev-parse", "HEAD", cwd=project)
    common = ("-m", str(project / "manifests"), "--project", str(project), "-c", str(config))
    only = ("--only", "finance-kpi", "--commit", deployed)
    code, out, err = cli(capsys, "plan", *common, *only)
    assert code == 0, err
    assert out.splitlines() == [
        "~ update deployment governed-pipeline/finance-kpi: pull steps",
        "~ update deployment governed-backfill/finance-kpi-backfill: pull steps",
        "Plan: 0 to create, 2 to update, 0 to delete.",
    ]
    code, out, err = cli(capsys, "apply", *common, *only)
    assert code == 0, err
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("governed-pipeline/finance-kpi")
    assert deployment.pull_steps == [
        {GIT_CLONE: {"repository": bare.as_uri(), "commit_sha": deployed}}
    ]

    # a later commit on main breaks the flow: a worker must run the deployed one
    entry = project / "flows" / "governed_pipeline.py"
    entry.write_text('raise SystemExit("not the deployed commit")\n')
    git("commit", "-q", "-am", "broken", cwd=project)
    git("push", "-q", str(bare), "main", cwd=project)

    empty = tmp_path / "worker"
    empty.mkdir()
    with ProcessWorker(empty):
        started = subprocess.run(
            [
                PREFECT,
                "deployment",
                "run",
                "governed-pipeline/finance-kpi",
                "--param",
                f"partition={DAY}",
            ],
            cwd=empty,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", started.stdout).group(1)

        def finished() -> str | None:
            state = flow_state(flow_run_id)
            return state if state in ("Completed", "Failed", "Crashed", "Cancelled") else None

        assert wait_for(finished, timeout=180, what="the worker's run to finish") == "Completed"
    assert [p.partition for p in published(DAY)] == [DAY, DAY, DAY]  # its three KPIs
    assert {p.kpi for p in published(DAY)} == {"revenue_daily", "dso_days", "overdue_ratio"}
    assert list(empty.iterdir()) == []  # the worker cloned into the run's own folder
