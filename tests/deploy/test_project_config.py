"""barecount.yaml: where deployments get their code (pull steps) and where they run (work
pool, job variables checked against the pool type's base job template). No server here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from barecount.cli.main import main
from barecount.deploy.compile import compile_project, render_prefect_yaml
from barecount.deploy.source import compiled_pull, pull_steps
from barecount.errors import GitOpsError, ManifestError
from barecount.manifest import load_manifests
from barecount.manifest.projectconfig import find_project_config, load_project_config

REPO = Path(__file__).resolve().parents[2]
GIT_CLONE = "prefect.deployments.steps.git_clone"
SET_DIRECTORY = "prefect.deployments.steps.set_working_directory"
SHA = "0123456789abcdef0123456789abcdef01234567"


def write_config(folder: Path, text: str) -> Path:
    path = folder / "barecount.yaml"
    path.write_text("apiVersion: barecount/v1\nkind: Project\n" + text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_project_config(path, required=True)
    return caught.value.problems


def compile_problems(manifests: Path, path: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        compile_project(load_manifests(manifests), load_project_config(path))
    assert str(caught.value).startswith(f"{len(caught.value.problems)} problem")
    return caught.value.problems


def pools(manifests: Path, path: Path) -> dict[str, dict]:
    """Deployment name -> its work_pool entry, compiled with the config at `path`."""
    specs = compile_project(load_manifests(manifests), load_project_config(path))
    return {spec["name"]: spec["work_pool"] for spec in specs}


# --- where the code comes from ------------------------------------------------------------


def test_without_a_project_config_workers_run_the_local_checkout(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    setup = find_project_config()
    assert setup.path is None
    assert setup.config.spec.work_pool.model_dump() == {"name": "barecount", "type": "process"}
    assert pull_steps(setup, project_dir=None) == [{SET_DIRECTORY: {"directory": str(tmp_path)}}]
    project = tmp_path / "project"
    assert pull_steps(setup, project_dir=Path("project")) == [
        {SET_DIRECTORY: {"directory": str(project)}}
    ]
    assert compiled_pull(setup) is None  # prefect deploy pulls from where it runs


def test_the_committed_project_config_keeps_the_local_behaviour(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    setup = load_project_config(REPO / "barecount.yaml", required=True)
    assert pull_steps(setup, project_dir=None) == [{SET_DIRECTORY: {"directory": str(REPO)}}]
    assert compiled_pull(setup) is None
    assert setup.config.job_variables("finance-kpi") == {}
    specs = compile_project(load_manifests(REPO / "manifests"), setup)
    assert {s["work_pool"]["name"] for s in specs} == {"barecount"}


def test_git_clone_pulls_the_branch_or_the_commit_with_a_secret_block_token(tmp_path) -> None:
    path = write_config(
        tmp_path,
        "spec:\n"
        "  pull:\n"
        "    git_clone:\n"
        "      repository: https://github.com/acme/data.git\n"
        "      branch: main\n"
        "      access_token_block: github-token\n",
    )
    setup = load_project_config(path)
    token = "{{ prefect.blocks.secret.github-token }}"
    repo = "https://github.com/acme/data.git"
    branch = [{GIT_CLONE: {"repository": repo, "branch": "main", "access_token": token}}]
    assert compiled_pull(setup) == branch
    assert pull_steps(setup, project_dir=Path("/elsewhere")) == branch
    # Prefect's git_clone takes a branch or a commit, not both: the commit wins
    assert pull_steps(setup, project_dir=None, commit=SHA) == [
        {GIT_CLONE: {"repository": repo, "commit_sha": SHA, "access_token": token}}
    ]
    with pytest.raises(GitOpsError) as caught:
        pull_steps(setup, project_dir=None, commit="main")
    assert "--commit 'main' is not a commit SHA (4 to 64 hexadecimal digits)" in str(caught.value)


def test_a_public_repository_needs_no_token_and_a_directory_pull_its_path(tmp_path) -> None:
    path = write_config(tmp_path, "spec:\n  pull: {git_clone: {repository: 'file:///srv/r.git'}}\n")
    assert compiled_pull(load_project_config(path)) == [
        {GIT_CLONE: {"repository": "file:///srv/r.git"}}
    ]
    path = write_config(tmp_path, "spec:\n  pull: {directory: /srv/checkout}\n")
    setup = load_project_config(path)
    expected = [{SET_DIRECTORY: {"directory": "/srv/checkout"}}]
    assert (compiled_pull(setup), pull_steps(setup, project_dir=None)) == (expected, expected)
    # --project (or BARECOUNT_PROJECT_DIR) still wins for a directory pull
    assert pull_steps(setup, project_dir=Path("/opt/p")) == [
        {SET_DIRECTORY: {"directory": "/opt/p"}}
    ]


def test_prefect_yaml_carries_the_git_clone_pull_section(manifests: Path, tmp_path) -> None:
    path = write_config(
        tmp_path, "spec:\n  pull: {git_clone: {repository: 'file:///r.git', branch: main}}\n"
    )
    setup = load_project_config(path)
    text = render_prefect_yaml(
        compile_project(load_manifests(manifests), setup), compiled_pull(setup)
    )
    document = yaml.safe_load(text)
    assert list(document) == ["name", "prefect-version", "build", "push", "pull", "deployments"]
    assert document["pull"] == [{GIT_CLONE: {"repository": "file:///r.git", "branch": "main"}}]


# --- where it runs: docker and kubernetes job variables ------------------------------------


def test_docker_pool_compiles_image_env_and_resources(manifests: Path, tmp_path) -> None:
    path = write_config(
        tmp_path,
        "spec:\n"
        "  work_pool: {name: containers, type: docker}\n"
        "  job_variables:\n"
        "    image: ghcr.io/acme/barecount:1.4\n"
        "    env: {BARECOUNT_HOME: /data, TZ: UTC}\n"
        "  pipelines:\n"
        "    finance-kpi:\n"
        "      job_variables: {env: {TZ: Europe/Berlin}, mem_limit: 2g, auto_remove: true}\n",
    )
    found = pools(manifests, path)
    kpi = {
        "image": "ghcr.io/acme/barecount:1.4",
        "env": {"BARECOUNT_HOME": "/data", "TZ": "Europe/Berlin"},  # merged, the pipeline's wins
        "mem_limit": "2g",
        "auto_remove": True,
    }
    default = {
        "image": "ghcr.io/acme/barecount:1.4",
        "env": {"BARECOUNT_HOME": "/data", "TZ": "UTC"},
    }
    assert found == {
        "finance-kpi": {"name": "containers", "work_queue_name": "default", "job_variables": kpi},
        "finance-rollup": {
            "name": "containers",
            "work_queue_name": "default",
            "job_variables": default,
        },
        "finance-kpi-backfill": {
            "name": "containers",
            "work_queue_name": "default",
            "job_variables": kpi,  # a pipeline's backfill runs in the pipeline's image
        },
        "finance-rollup-backfill": {
            "name": "containers",
            "work_queue_name": "default",
            "job_variables": default,
        },
    }


def test_kubernetes_pool_compiles_image_namespace_and_resources(manifests: Path, tmp_path) -> None:
    path = write_config(
        tmp_path,
        "spec:\n"
        "  work_pool: {name: k8s, type: kubernetes}\n"
        "  job_variables: {image: 'ghcr.io/acme/barecount:1.4', namespace: data}\n"
        "  pipelines:\n"
        "    finance-kpi:\n"
        "      job_variables:\n"
        "        cpu_request: 500m\n"
        "        memory_limit: 2Gi\n"
        "        image_pull_policy: Always\n"
        "        env: {BARECOUNT_LEDGER_URL: 'postgresql://ledger/db'}\n",
    )
    found = pools(manifests, path)
    assert found["finance-kpi"]["name"] == "k8s"
    assert found["finance-kpi"]["job_variables"] == {
        "image": "ghcr.io/acme/barecount:1.4",
        "namespace": "data",
        "cpu_request": "500m",
        "memory_limit": "2Gi",
        "image_pull_policy": "Always",
        "env": {"BARECOUNT_LEDGER_URL": "postgresql://ledger/db"},
    }
    assert found["finance-rollup"]["job_variables"] == {
        "image": "ghcr.io/acme/barecount:1.4",
        "namespace": "data",
    }


def test_an_unknown_job_variable_is_refused_at_its_line(manifests: Path, tmp_path) -> None:
    path = write_config(
        tmp_path,
        "spec:\n"
        "  job_variables:\n"
        "    env: {TZ: UTC}\n"
        "    image: python:3.11\n",  # line 6; a process pool runs no image
    )
    assert compile_problems(manifests, path) == [
        f"{path}:6: spec.job_variables.image: unknown job variable 'image' for a process "
        "work pool; process pools take: command, env, labels, name, stream_output, working_dir"
    ]


def test_job_variables_are_checked_against_the_pool_type(manifests: Path, tmp_path) -> None:
    path = write_config(
        tmp_path,
        "spec:\n"
        "  work_pool: {type: kubernetes}\n"
        "  job_variables:\n"
        "    imag: python:3.11\n"
        "    env: {DEBUG: true}\n"
        "  pipelines:\n"
        "    finance-kpi:\n"
        "      job_variables: {image_pull_policy: Sometimes, mem_limit: 2g}\n"
        "    finance-kpy: {}\n",
    )
    found = compile_problems(manifests, path)
    assert found[0] == (
        f"{path}:11: spec.pipelines: unknown pipeline 'finance-kpy' (did you mean "
        "'finance-kpi'?); pipelines in the manifests: finance-kpi, finance-rollup"
    )
    assert found[1].startswith(
        f"{path}:6: spec.job_variables.imag: unknown job variable 'imag' for a kubernetes work "
        "pool (did you mean 'image'?); kubernetes pools take: cluster_config, command, "
        "cpu_limit, cpu_request, env,"
    )
    assert found[2:] == [
        f"{path}:7: spec.job_variables.env.DEBUG: got True; should be string",
        f"{path}:10: spec.pipelines.finance-kpi.job_variables.mem_limit: unknown job variable "
        "'mem_limit' for a kubernetes work pool (did you mean 'memory_limit'?); kubernetes "
        + found[3].split("; kubernetes ", 1)[1],
        f"{path}:10: spec.pipelines.finance-kpi.job_variables.image_pull_policy: got "
        "'Sometimes'; should be 'IfNotPresent' or 'Always' or 'Never'",
    ]


# --- a bad barecount.yaml: every problem at its line ----------------------------------------


def test_config_errors_name_file_line_and_fix(tmp_path) -> None:
    path = write_config(
        tmp_path,
        "spec:\n"  # 3
        "  pull:\n"
        "    git_clone:\n"
        "      repository: 'https://bot:s3cret@github.com/acme/data.git'\n"  # 6
        "      brnch: main\n"  # 7
        "  work_pool: {name: Big Pool, type: docker-swarm}\n"  # 8
        "  job_variables: [image]\n"  # 9
        "  schedule: daily\n",  # 10
    )
    found = problems(path)
    assert found == [
        f"{path}:6: spec.pull.git_clone.repository: repository "
        "'https://bot:s3cret@github.com/acme/data.git' holds a user name and password; keep "
        "secrets out of barecount.yaml: put the token in a Prefect Secret block and name it "
        "in 'access_token_block'",
        f"{path}:7: spec.pull.git_clone: unknown field 'brnch' (did you mean 'branch'?); "
        "allowed: repository, branch, access_token_block",
        f"{path}:8: spec.work_pool.name: 'Big Pool' is not valid: use lower-case letters, "
        "digits and dashes, starting with a letter (e.g. 'finance-kpi')",
        f"{path}:8: spec.work_pool.type: got 'docker-swarm'; should be 'process', 'docker' "
        "or 'kubernetes'",
        f"{path}:9: spec.job_variables: should be a valid dictionary",
        f"{path}:10: spec: unknown field 'schedule'; allowed: pull, work_pool, job_variables, "
        "pipelines",
    ]


def test_pull_takes_one_source_and_an_absolute_directory(tmp_path) -> None:
    path = write_config(
        tmp_path,
        "spec:\n  pull:\n    directory: /srv/x\n    git_clone: {repository: 'file:///r.git'}\n",
    )
    assert problems(path) == [
        f"{path}:4: spec.pull: pull gives both a directory and git_clone; the code comes from "
        "one: keep git_clone for workers on other machines, directory for local development"
    ]
    path = write_config(tmp_path, "spec:\n  pull:\n    directory: checkout\n")
    assert problems(path) == [
        f"{path}:5: spec.pull.directory: directory 'checkout' is relative, and a worker would "
        "resolve it against its own folder; write an absolute path, or leave it out to use "
        "the project folder"
    ]
    path = write_config(tmp_path, "spec:\n  pull: {git_clone: {repository: github.com/acme}}\n")
    assert problems(path) == [
        f"{path}:4: spec.pull.git_clone.repository: repository 'github.com/acme' is not a git "
        "URL; write e.g. 'https://github.com/acme/data.git' or 'file:///srv/git/data.git'"
    ]


def test_yaml_problems_in_the_config_are_reported_at_their_line(tmp_path) -> None:
    path = write_config(tmp_path, "spec:\n  work_pool: {name: a}\n  work_pool: {name: b}\n")
    assert problems(path) == [f"{path}:5: duplicate key 'work_pool' (first on line 4); keep one"]
    path = write_config(tmp_path, "spec: {}\n---\nkind: Project\n")
    assert problems(path) == [
        f"{path}:5: a second YAML document; barecount.yaml holds one project config: remove "
        "the '---' and what follows"
    ]
    path = tmp_path / "barecount.yaml"
    path.write_text("- just\n- a list\n")
    assert problems(path) == [
        f"{path}:1: the project config must be a mapping with apiVersion: barecount/v1, "
        "kind: Project and spec"
    ]
    path.write_text("kind: Pipeline\nspec: {}\n")
    assert problems(path) == [
        f"{path}:1: (document): missing required field 'apiVersion' (Always barecount/v1.)",
        f"{path}:1: kind: got 'Pipeline'; should be 'Project'",
    ]


def test_compile_reports_a_bad_config_in_one_message(capsys, manifests, tmp_path) -> None:
    path = write_config(tmp_path, "spec:\n  work_pool: {type: docker}\n  job_variables: {img: x}\n")
    code = main(["compile", "-m", str(manifests), "-c", str(path), "-o", str(tmp_path / "p.yaml")])
    captured = capsys.readouterr()
    assert code == 2  # an invalid project config, like invalid manifests
    assert captured.err.startswith(f"error: 1 problem in {path}:\n  {path}:5: ")
    assert "unknown job variable 'img' for a docker work pool (did you mean 'image'?)" in (
        captured.err.replace("\n", " ")
    )
    assert "Traceback" not in captured.out + captured.err
    assert not (tmp_path / "p.yaml").exists()
    code = main(["compile", "-m", str(manifests), "-c", str(tmp_path / "nope.yaml"), "--check"])
    assert code == 2
    assert "nope.yaml: no such project config" in capsys.readouterr().err


def test_compile_writes_the_config_into_prefect_yaml(capsys, manifests, tmp_path) -> None:
    path = write_config(
        tmp_path,
        "spec:\n"
        "  pull: {git_clone: {repository: 'file:///r.git', branch: main}}\n"
        "  work_pool: {name: containers, type: docker}\n"
        "  job_variables: {image: 'acme/bc:1'}\n",
    )
    output = tmp_path / "prefect.yaml"
    assert main(["compile", "-m", str(manifests), "-c", str(path), "-o", str(output)]) == 0
    document = yaml.safe_load(output.read_text())
    assert document["pull"] == [{GIT_CLONE: {"repository": "file:///r.git", "branch": "main"}}]
    assert {json.dumps(d["work_pool"], sort_keys=True) for d in document["deployments"]} == {
        json.dumps(
            {
                "job_variables": {"image": "acme/bc:1"},
                "name": "containers",
                "work_queue_name": "default",
            },
            sort_keys=True,
        )
    }


def test_the_deploy_workflow_deploys_the_commit_it_runs_for() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    commands = [line.strip() for run in runs for line in run.splitlines()]
    plan = [c for c in commands if c.startswith("barecount plan")]
    apply = [c for c in commands if c.startswith("barecount apply")]
    assert plan and apply
    assert all('--commit "${{ github.sha }}"' in c for c in plan + apply)
    assert "barecount.yaml" in workflow[True]["push"]["paths"]  # YAML 1.1 reads 'on' as True


def test_the_readme_example_config_compiles(manifests: Path, tmp_path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Deploying: where the code comes from") :]
    example = section[section.index("```yaml\n") + 8 : section.index("```\n")]
    path = tmp_path / "barecount.yaml"
    path.write_text(example)
    setup = load_project_config(path, required=True)
    specs = compile_project(load_manifests(manifests), setup)
    (kpi,) = [s for s in specs if s["name"] == "finance-kpi"]
    assert kpi["work_pool"]["job_variables"]["memory_limit"] == "2Gi"
    assert compiled_pull(setup)[0][GIT_CLONE]["access_token"] == (
        "{{ prefect.blocks.secret.github-token }}"
    )
