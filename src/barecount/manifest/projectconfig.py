"""barecount.yaml: where deployments get their code and where they run (pure, no Prefect)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from barecount.errors import ManifestError
from barecount.manifest.errors import problems_from_validation
from barecount.manifest.limits import capped, shown
from barecount.manifest.models import Name, Strict
from barecount.manifest.suggest import did_you_mean
from barecount.manifest.yamlsource import Document, YamlProblem, read_documents

PROJECT_FILE = "barecount.yaml"
DEFAULT_POOL = "barecount"
# what git accepts as a repository: a URL with a scheme, or scp-like 'user@host:path'
_REPOSITORY = re.compile(r"^([a-z][a-z0-9+.-]*://[^\s]+|[\w.-]+@[\w.-]+:[^\s]+)$")
_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]*@")


class GitClone(Strict):
    repository: str = Field(
        max_length=2048,
        description="Repository the workers clone: https://host/org/repo.git, "
        "git@host:org/repo.git or file:///path/repo.git.",
    )
    branch: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Branch to clone (default: the repository's default branch); "
        "'barecount apply --commit SHA' pins one commit instead.",
    )
    access_token_block: Name | None = Field(
        default=None,
        description="Name of the Prefect Secret block holding an access token for a private "
        "repository (passed as {{ prefect.blocks.secret.NAME }}).",
    )

    @field_validator("repository")
    @classmethod
    def _repository_is_a_url(cls, value: str) -> str:
        if _CREDENTIALS.match(value):
            raise ValueError(
                f"repository {shown(value)} holds a user name and password; keep secrets out "
                "of barecount.yaml: put the token in a Prefect Secret block and name it in "
                "'access_token_block'"
            )
        if not _REPOSITORY.match(value):
            raise ValueError(
                f"repository {shown(value)} is not a git URL; write e.g. "
                "'https://github.com/acme/data.git' or 'file:///srv/git/data.git'"
            )
        return value

    @field_validator("branch")
    @classmethod
    def _branch_is_a_name(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("-") or any(c.isspace() for c in value)):
            raise ValueError(
                f"branch {shown(value)} is not a branch name (no spaces, no '-' first)"
            )
        return value


class Pull(Strict):
    directory: str | None = Field(
        default=None,
        max_length=4096,
        description="Absolute folder where the workers find this project (local development). "
        "Default: the --project folder, else the folder holding barecount.yaml.",
    )
    git_clone: GitClone | None = Field(
        default=None, description="Clone a git repository: any worker on any machine can run."
    )

    @field_validator("directory")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not (
            PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute()
        ):
            raise ValueError(
                f"directory {shown(value)} is relative, and a worker would resolve it against "
                "its own folder; write an absolute path, or leave it out to use the project folder"
            )
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Pull:
        if self.directory is not None and self.git_clone is not None:
            raise ValueError(
                "pull gives both a directory and git_clone; the code comes from one: "
                "keep git_clone for workers on other machines, directory for local development"
            )
        return self


class WorkPool(Strict):
    name: Name = Field(default=DEFAULT_POOL, description="Work pool the deployments run on.")
    type: Literal["process", "docker", "kubernetes"] = Field(
        default="process", description="Worker type of the pool; apply creates it if missing."
    )


JOB_VARIABLES_HELP = (
    "Prefect job variables (image, env, resources such as mem_limit or cpu_request...): "
    "names and types as in the work pool type's base job template."
)


class PipelineDeployment(Strict):
    job_variables: dict[str, Any] = Field(
        default_factory=dict,
        description=JOB_VARIABLES_HELP + " Laid over the project's; env and labels merge.",
    )


class ProjectSpec(Strict):
    pull: Pull = Field(default_factory=Pull, description="Where workers get the code.")
    work_pool: WorkPool = Field(default_factory=WorkPool, description="Where the runs run.")
    job_variables: dict[str, Any] = Field(
        default_factory=dict, description=JOB_VARIABLES_HELP + " The default of every pipeline."
    )
    pipelines: dict[str, PipelineDeployment] = Field(
        default_factory=dict, description="Per pipeline (by name): its own job variables."
    )


class ProjectConfig(Strict):
    """barecount.yaml: how every pipeline's deployment gets its code and where it runs."""

    apiVersion: Literal["barecount/v1"] = Field(description="Always barecount/v1.")
    kind: Literal["Project"] = Field(description="Always Project.")
    spec: ProjectSpec = Field(default_factory=ProjectSpec, description="Code source and pool.")

    def job_variables(self, pipeline: str) -> dict[str, Any]:
        """The pipeline's job variables over the project's: mappings (env, labels) merge."""
        merged = dict(self.spec.job_variables)
        own = self.spec.pipelines.get(pipeline)
        for key, value in (own.job_variables if own else {}).items():
            base = merged.get(key)
            both = isinstance(base, dict) and isinstance(value, dict)
            merged[key] = {**base, **value} if both else value
        return merged


@dataclass(frozen=True)
class ProjectFile:
    """A project config and the file it came from; no file (defaults) when `path` is None."""

    config: ProjectConfig
    path: Path | None = None
    document: Document | None = None

    def where(self, *path: str | int) -> str:
        """'file:line' of a path inside the file."""
        if self.document is None:
            return f"{PROJECT_FILE} (not found: defaults)"
        return f"{self.document.file}:{self.document.line_of(path)}"


def default_project() -> ProjectFile:
    """No barecount.yaml: a local directory pull on the 'barecount' process pool."""
    return ProjectFile(ProjectConfig(apiVersion="barecount/v1", kind="Project"))


def find_project_config(path: Path | None = None) -> ProjectFile:
    """The project config at `path` (which must exist), else ./barecount.yaml when there is
    one, else the defaults (a local directory pull on the 'barecount' process pool).

    Raises:
        ManifestError: the file is missing (given) or invalid.
    """
    if path is not None:
        return load_project_config(path, required=True)
    return load_project_config(Path(PROJECT_FILE))


def load_project_config(path: Path | str, *, required: bool = False) -> ProjectFile:
    """Read and validate a barecount.yaml; the defaults when it is missing and not required.

    Raises:
        ManifestError: every problem, each as 'file:line: field: what; how to fix'.
    """
    path = Path(path)
    if not path.exists():
        if not required:
            return default_project()
        raise ManifestError(
            [
                f"{path}: no such project config; write one (see README 'Deploying') or leave "
                "out --config to deploy from the local folder"
            ],
            where=str(path),
        )
    try:
        documents = list(read_documents(path))
    except YamlProblem as exc:
        raise ManifestError([f"{path}:{exc.line}: {exc.message}"], where=str(path)) from None
    doc = documents[0]
    problems = _document_problems(doc, documents)
    if not problems:
        try:
            return ProjectFile(ProjectConfig.model_validate(doc.data), path, doc)
        except ValidationError as exc:
            problems = problems_from_validation(doc, exc, ProjectConfig)
    raise ManifestError(capped(path, problems), where=str(path))


def _document_problems(doc: Document, documents: list[Document]) -> list[str]:
    if len(documents) > 1:
        extra = documents[1]
        return [
            f"{extra.file}:{extra.line_of(())}: a second YAML document; barecount.yaml holds one "
            "project config: remove the '---' and what follows"
        ]
    if not isinstance(doc.data, dict):
        return [
            f"{doc.file}:{doc.line_of(())}: the project config must be a mapping with "
            "apiVersion: barecount/v1, kind: Project and spec"
        ]
    return []


def pipeline_problems(project: ProjectFile, pipelines: Iterable[str]) -> list[str]:
    """Pipelines named in the config that no manifest declares, each at its line."""
    known = sorted(pipelines)
    return [
        f"{project.where('spec', 'pipelines', name)}: spec.pipelines: unknown pipeline "
        f"{shown(name)}{did_you_mean(name, known)}; pipelines in the manifests: "
        f"{', '.join(known) or 'none'}"
        for name in project.config.spec.pipelines
        if name not in known
    ]
