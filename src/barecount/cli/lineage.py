"""barecount lineage export: past runs as OpenLineage events, one JSON document per line."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from barecount.cli import params
from barecount.cli.output import err

app = typer.Typer(help="OpenLineage events of the Evidence Ledger.", no_args_is_help=True)


@app.command("export")
def export(
    since: str = typer.Option(
        ..., "--since", help="Runs recorded since: a date (2026-11-01), a date-time, or 24h, 7d."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="JSONL file to write (default: standard output)."
    ),
    namespace: str | None = typer.Option(
        None, "--namespace", help="Job namespace (default: OPENLINEAGE_NAMESPACE or barecount)."
    ),
    manifests: Path | None = typer.Option(
        None, "--manifests", "-m", help="Manifests folder (owners, partition calendars)."
    ),
) -> None:
    """Write every stage attempt of the runs recorded since --since as OpenLineage events:
    START and COMPLETE/FAIL per attempt, an OTHER event per contract gate check."""
    from barecount.ledger import get_ledger
    from barecount.lineage.export import export_since, parse_since
    from barecount.lineage.naming import naming

    moment = parse_since(since)
    if output is not None:
        params.writable_file(output, "--output")
    names = naming(namespace=namespace, manifests=manifests)
    with get_ledger().session() as session:
        if output is None:
            runs, events = export_since(session, names, moment, sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as file:
                runs, events = export_since(session, names, moment, file)
    where = str(output) if output is not None else "standard output"
    err.print(f"exported {events} event(s) of {runs} run(s) to {where}", markup=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="lineage")
