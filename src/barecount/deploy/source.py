"""Where a deployment's code comes from: the project config's pull steps, as Prefect's own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from barecount.errors import GitOpsError
from barecount.manifest.projectconfig import GitClone, ProjectFile

GIT_CLONE = "prefect.deployments.steps.git_clone"
SET_WORKING_DIRECTORY = "prefect.deployments.steps.set_working_directory"
# what Prefect's GitRepository accepts as a commit (prefect/runner/storage.py)
_COMMIT = re.compile(r"^[0-9a-fA-F]{4,64}$")


def git_clone_step(clone: GitClone, commit: str | None = None) -> dict[str, Any]:
    """Prefect's git_clone step; a commit replaces the branch (Prefect takes one of them)."""
    step: dict[str, Any] = {"repository": clone.repository}
    if commit is not None:
        step["commit_sha"] = commit
    elif clone.branch is not None:
        step["branch"] = clone.branch
    if clone.access_token_block is not None:
        # resolved by the worker when it runs the step, as `prefect deploy` writes it
        step["access_token"] = "{{ prefect.blocks.secret." + clone.access_token_block + " }}"
    return {GIT_CLONE: step}


def compiled_pull(project: ProjectFile) -> list[dict[str, Any]] | None:
    """The pull section of deployments/prefect.yaml; None for a directory pull without a
    directory, where `prefect deploy` pulls from the folder it runs in."""
    pull = project.config.spec.pull
    if pull.git_clone is not None:
        return [git_clone_step(pull.git_clone)]
    if pull.directory is not None:
        return [{SET_WORKING_DIRECTORY: {"directory": pull.directory}}]
    return None


def pull_steps(
    project: ProjectFile, *, project_dir: Path | None, commit: str | None = None
) -> list[dict[str, Any]]:
    """The pull steps `apply` gives every deployment.

    git_clone: clone the repository at `commit` (else the branch) into the worker's folder.
    Directory: `project_dir` when given (--project), else the config's directory, else the
    folder holding barecount.yaml, else the current directory, made absolute.

    Raises:
        GitOpsError: `commit` is not a commit SHA.
    """
    if commit is not None and not _COMMIT.match(commit):
        raise GitOpsError(
            f"--commit {commit!r} is not a commit SHA (4 to 64 hexadecimal digits); "
            "pass the commit being deployed, e.g. --commit ${{ github.sha }}"
        )
    pull = project.config.spec.pull
    if pull.git_clone is not None:
        return [git_clone_step(pull.git_clone, commit)]
    directory = local_project(project, project_dir)
    return [{SET_WORKING_DIRECTORY: {"directory": str(directory.absolute().resolve())}}]


def local_project(project: ProjectFile, project_dir: Path | None) -> Path:
    """The project folder on this machine: --project, else the config's directory, else the
    folder holding barecount.yaml, else the current directory."""
    if project_dir is not None:
        return Path(project_dir).absolute()
    if project.config.spec.pull.directory is not None:
        return Path(project.config.spec.pull.directory)
    if project.path is not None:
        return project.path.absolute().parent
    return Path.cwd()
