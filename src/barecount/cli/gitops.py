"""plan and apply: make the Prefect server match the manifests (GitOps)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from barecount.cli import params
from barecount.cli.output import err, out, print_json
from barecount.names import BACKFILL_ENTRYPOINT, ENTRYPOINT

if TYPE_CHECKING:
    from barecount.deploy.plan import Plan

MANIFESTS_HELP = "Manifests folder (default: BARECOUNT_MANIFESTS or ./manifests)."
PROJECT_HELP = (
    "Folder holding flows/governed_pipeline.py and flows/governed_backfill.py. With a "
    "directory pull (the default) workers run the flows there, and it may be a path on the "
    "workers' machines that does not exist here (default: barecount.yaml's pull.directory, "
    "else the folder holding barecount.yaml, else the current directory)."
)
CONFIG_HELP = (
    "Project config: where workers get the code (pull), the work pool and job variables "
    "(default: ./barecount.yaml if there is one, else a directory pull on the 'barecount' "
    "process pool)."
)
COMMIT_HELP = (
    "Commit to deploy: pins the git_clone pull step to this SHA instead of the branch "
    "(CI passes the commit it deploys)."
)
PROJECT_ENV = "BARECOUNT_PROJECT_DIR"
ONLY_HELP = (
    "Limit to this pipeline's deployment and its backfill deployment (repeatable); other "
    "deployments are left as they are."
)
ENTRY_FILES = tuple(entrypoint.split(":")[0] for entrypoint in (ENTRYPOINT, BACKFILL_ENTRYPOINT))


def _plan(
    manifests: Path | None,
    project: Path | None,
    only: list[str] | None,
    config: Path | None = None,
    commit: str | None = None,
):
    """Desired state, the plan to reach it, and the API it was read from."""
    from barecount.deploy.apply import check_secret_block, read_actual
    from barecount.deploy.compile import compile_project
    from barecount.deploy.desired import desired_state
    from barecount.deploy.plan import diff
    from barecount.deploy.source import pull_steps
    from barecount.manifest import load_manifests
    from barecount.manifest.projectconfig import find_project_config
    from barecount.prefect_api import resolve_api_url, use_api
    from barecount.settings import get_settings

    setup = find_project_config(config)
    clone = setup.config.spec.pull.git_clone
    _check_entry_files(setup, project)
    if commit is not None and clone is None:
        err.print(
            "note: --commit is ignored: the project config pulls from a directory, not git",
            markup=False,
        )
    found = load_manifests(manifests or get_settings().manifests)
    steps = pull_steps(setup, project_dir=project, commit=commit)
    desired = desired_state(compile_project(found, setup), pull_steps=steps)
    scope = set(only) if only else None
    pool = setup.config.spec.work_pool
    api = resolve_api_url()
    with use_api(api), _client() as client:
        if clone is not None and clone.access_token_block is not None:
            check_secret_block(client, clone.access_token_block)
        actual = read_actual(client, work_pool=pool.name)
        return desired, diff(desired, actual, only=scope, work_pool=pool), scope, api


def _check_entry_files(setup: Any, project: Path | None) -> None:
    """The local project folder, when it exists here, holds the flows' entry files."""
    from barecount.deploy.source import local_project
    from barecount.errors import BareCountError

    local = local_project(setup, project)
    missing = [f for f in ENTRY_FILES if not (local / f).is_file()]
    if local.exists() and missing:
        raise BareCountError(
            f"{local} has no {', '.join(missing)}, so workers could not find the flows "
            f"there; run from the repository root or pass --project (or set {PROJECT_ENV})"
        )


def _client():
    from prefect import get_client

    return get_client(sync_client=True)


def plan_lines(plan: Plan) -> list[str]:
    """The plan for people, one change a line, like Terraform's."""
    pool = plan.work_pool
    lines = (
        [f"[green]+[/] create work pool {pool.name} ({pool.type})"] if plan.create_work_pool else []
    )
    for change in plan.changes:
        name = escape(change.full_name)
        if change.action == "create":
            lines.append(f"[green]+[/] create deployment {name}")
        elif change.action == "delete":
            lines.append(f"[red]-[/] delete deployment {name}")
        elif change.fields:
            lines.append(f"[yellow]~[/] update deployment {name}: {', '.join(change.fields)}")
        if change.action != "create":
            lines += [
                f"[red]-[/] delete schedule {name}: {s.describe()}" for s in change.delete_schedules
            ]
            lines += [
                f"[red]-[/] delete trigger {name}: {escape(t.name)}" for t in change.delete_triggers
            ]
        if change.action != "delete":
            lines += [
                f"[green]+[/] create schedule {name}: {s.describe()}"
                for s in change.create_schedules
            ]
            lines += [
                f"[green]+[/] create trigger {name}: {escape(t.name)}"
                for t in change.create_triggers
            ]
    return lines


def plan_summary(plan: Plan) -> str:
    if not plan.has_changes:
        return f"no changes: {len(plan.unchanged)} deployment(s) match the manifests"
    counts = {a: sum(c.action == a for c in plan.changes) for a in ("create", "update", "delete")}
    return "Plan: {create} to create, {update} to update, {delete} to delete.".format(**counts)


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan for machines."""
    return {
        "changes": plan.has_changes,
        "work_pool": {
            "name": plan.work_pool.name,
            "type": plan.work_pool.type,
            "create": plan.create_work_pool,
        },
        "deployments": [
            {
                "deployment": c.full_name,
                "action": c.action,
                "fields": list(c.fields),
                "schedules": {
                    "create": [s.describe() for s in c.create_schedules],
                    "delete": [s.describe() for s in c.delete_schedules],
                },
                "triggers": {
                    "create": [t.name for t in c.create_triggers],
                    "delete": [t.name for t in c.delete_triggers],
                },
            }
            for c in plan.changes
        ],
        "unchanged": list(plan.unchanged),
    }


def plan(
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help=MANIFESTS_HELP),
    project: Path | None = typer.Option(None, "--project", envvar=PROJECT_ENV, help=PROJECT_HELP),
    only: list[str] | None = typer.Option(None, "--only", help=ONLY_HELP, callback=params.names),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    commit: str | None = typer.Option(None, "--commit", help=COMMIT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    detailed_exitcode: bool = typer.Option(
        False, "--detailed-exitcode", help="Exit 2 when there are changes (0: none, 1: error)."
    ),
) -> None:
    """Show what 'barecount apply' would change on the Prefect server."""
    _, result, _, _ = _plan(manifests, project, only, config, commit)
    if as_json:
        print_json(plan_json(result))
    else:
        for line in plan_lines(result):
            out.print(line)
        out.print(plan_summary(result))
    if detailed_exitcode and result.has_changes:
        raise typer.Exit(2)


def apply(
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help=MANIFESTS_HELP),
    project: Path | None = typer.Option(None, "--project", envvar=PROJECT_ENV, help=PROJECT_HELP),
    only: list[str] | None = typer.Option(None, "--only", help=ONLY_HELP, callback=params.names),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    commit: str | None = typer.Option(None, "--commit", help=COMMIT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Make the Prefect server's deployments, schedules and triggers match the manifests."""
    from barecount.deploy.apply import apply as apply_plan
    from barecount.deploy.apply import read_actual
    from barecount.deploy.plan import diff
    from barecount.errors import GitOpsError
    from barecount.prefect_api import use_api

    desired, planned, scope, api = _plan(manifests, project, only, config, commit)
    pool = planned.work_pool
    with use_api(api), _client() as client:
        done = apply_plan(planned, client)
        # read back: what is left is a concurrent change or a bug, never silence
        left = diff(desired, read_actual(client, work_pool=pool.name), only=scope, work_pool=pool)
    if left.has_changes:
        raise GitOpsError(
            "the server still differs from the manifests after apply (changed meanwhile?):\n"
            + "\n".join(f"  {line}" for line in plan_lines(left))
            + "\nrun 'barecount plan' to see the difference"
        )
    if as_json:
        print_json({**plan_json(planned), "done": done})
        return
    for line in done:
        out.print(escape(line))
    out.print(
        f"[green]applied:[/] {len(done)} change(s)"
        if done
        else f"no changes: {len(planned.unchanged)} deployment(s) match the manifests"
    )


def register(app: typer.Typer) -> None:
    """Add plan and apply to the CLI."""
    app.command("plan")(plan)
    app.command("apply")(apply)
