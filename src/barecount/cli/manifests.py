"""validate, graph and compile: commands that read manifests and need no server."""

from __future__ import annotations

from pathlib import Path

import typer

from barecount.cli import params
from barecount.cli.output import err, literal, out, print_json
from barecount.settings import get_settings

MANIFESTS_HELP = "Manifests folder (default: BARECOUNT_MANIFESTS or ./manifests)."
DEFAULT_OUTPUT = Path("deployments/prefect.yaml")


def _manifests(path: Path | None):
    """The manifests, checked as the manifest loader does and their crons as Prefect does."""
    from barecount.deploy.crons import prefect_cron_problems
    from barecount.manifest import load_manifests

    return load_manifests(path or get_settings().manifests, document_checks=[prefect_cron_problems])


def validate(
    path: Path | None = typer.Argument(None, help=MANIFESTS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check every manifest: schema, references, cycles, cron, time zones, stage code."""
    from barecount.governance.demokeys import demo_key_warnings

    found = _manifests(path)
    summary = {
        "manifests": str(found.root),
        "pipelines": sorted(found.pipelines),
        "teams": sorted(found.teams),
        "contracts": sorted(found.contracts),
    }
    warnings = demo_key_warnings(found)  # valid, but nobody should trust those signatures
    if as_json:
        print_json({"valid": True, **summary, "warnings": warnings})
        return
    for warning in warnings:
        err.print(f"warning: {warning}", markup=False)
    out.print(
        f"[green]valid:[/] {len(found.pipelines)} pipeline(s), {len(found.teams)} team(s), "
        f"{len(found.contracts)} contract(s) in {literal(found.root)}"
    )


def graph(
    pipeline: str | None = typer.Argument(
        None, help="Pipeline to draw; omit with --all.", callback=params.name
    ),
    all_: bool = typer.Option(False, "--all", help="Draw how pipelines trigger each other."),
    fmt: str = typer.Option("text", "--format", "-f", help="text, mermaid or dot."),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help=MANIFESTS_HELP),
) -> None:
    """Print a pipeline's stage graph, or the cross-pipeline graph with --all."""
    from barecount.errors import BareCountError
    from barecount.manifest.graph import render_pipeline, render_pipelines

    if fmt not in ("text", "mermaid", "dot"):
        raise typer.BadParameter(
            f"unknown format {fmt!r}; use text, mermaid or dot", param_hint="--format"
        )
    if all_ == (pipeline is not None):
        raise BareCountError("name one pipeline, or pass --all for the cross-pipeline graph")
    found = _manifests(manifests)
    if all_:
        text = render_pipelines([loaded.model for loaded in found.pipelines.values()], fmt)
    else:
        text = render_pipeline(found.pipeline(pipeline), fmt)
    out.file.write(text)


def compile_(
    output: Path = typer.Option(DEFAULT_OUTPUT, "--output", "-o", help="prefect.yaml to write."),
    check: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 with a diff when OUTPUT is stale."
    ),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help=MANIFESTS_HELP),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Project config (default: ./barecount.yaml if any)."
    ),
) -> None:
    """Compile the manifests and barecount.yaml into a prefect.yaml 'prefect deploy' accepts."""
    import difflib

    from barecount.deploy.compile import compile_project, render_prefect_yaml
    from barecount.deploy.source import compiled_pull
    from barecount.manifest.projectconfig import find_project_config

    current = params.existing_text(output, "--output")
    if not check:
        params.writable_file(output, "--output")  # before any work: /proc, read-only, missing
    setup = find_project_config(config)
    text = render_prefect_yaml(compile_project(_manifests(manifests), setup), compiled_pull(setup))
    if check:
        if current == text:
            out.print(f"[green]up to date:[/] {literal(output)}")
            return
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{output} (committed)",
            tofile=f"{output} (compiled)",
        )
        out.file.write("".join(diff))
        fix = "run 'barecount compile' and commit the result"
        out.print(f"[red]stale:[/] {literal(output)}; {fix}")
        raise typer.Exit(1)
    if current == text:
        out.print(f"unchanged: {output}", markup=False)
        return
    tmp = output.with_suffix(output.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    out.print(f"[green]wrote[/] {literal(output)}")


def schema(
    folder: Path = typer.Option(Path("schemas"), "--output", "-o", help="Folder to write to."),
    check: bool = typer.Option(False, "--check", help="Exit 1 when the files are stale."),
) -> None:
    """Write the manifests' JSON Schema files (generated from the models)."""
    from barecount.manifest.schema import stale_schemas, write_schemas

    if check:
        stale = stale_schemas(folder)
        if stale:
            listed = literal(f"{', '.join(stale)} in {folder}")
            out.print(f"[red]stale:[/] {listed}; run 'barecount schema'")
            raise typer.Exit(1)
        out.print(f"[green]up to date:[/] {literal(folder)}")
        return
    params.writable_folder(folder, "--output")
    for path in write_schemas(folder):
        out.print(f"wrote {path}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
    app.command("validate")(validate)
    app.command("graph")(graph)
    app.command("compile")(compile_)
