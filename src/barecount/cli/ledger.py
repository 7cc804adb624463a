"""runs, ledger show and ledger verify: reading the Evidence Ledger."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import typer

from barecount.cli import params
from barecount.cli.output import DataTable, literal, out, print_json

app = typer.Typer(help="Read and verify the Evidence Ledger.", no_args_is_help=True)


def runs(
    pipeline: str | None = typer.Argument(None, help="Only this pipeline.", callback=params.name),
    limit: int = typer.Option(
        20, "--limit", "-n", min=1, max=params.RUNS_LISTED_MAX, help="How many runs."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recent pipeline runs with their tokens and outcomes."""
    from barecount.ledger import get_ledger
    from barecount.ledger.views import run_views

    with get_ledger().session() as session:
        found = run_views(session=session, pipeline=pipeline, limit=limit)
    rows = [
        {
            "run_id": v.run.id,
            "pipeline": v.run.pipeline,
            "partition": v.run.partition,
            "token": v.run.token,
            "trigger": v.run.trigger,
            "started": v.run.recorded_at.isoformat(timespec="seconds"),
            "status": str(v.status),
            "flow_run_id": v.run.flow_run_id,
        }
        for v in found
    ]
    if as_json:
        print_json(rows)
        return
    table = DataTable("run", "pipeline", "partition", "status", "trigger", "started (UTC)", "token")
    for row in rows:
        table.add_row(
            str(row["run_id"]),
            row["pipeline"],
            row["partition"],
            row["status"],
            row["trigger"],
            row["started"],
            row["token"],
        )
    out.print(table if rows else "no runs recorded yet")


@app.command("show")
def show(
    token: str = typer.Option(..., "--token", "-t", help="Run token.", callback=params.token),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Everything recorded under a run token: runs, attempts, retries, publications, and
    every version of its partition's KPIs (which one is in force, what each superseded)."""
    from barecount.ledger import get_ledger
    from barecount.ledger.publish import history

    ledger = get_ledger()
    found = ledger.evidence(token=token)
    with ledger.session() as session:
        first = found.runs[0]
        versions = history(session=session, pipeline=first.pipeline, partition=first.partition)
    if as_json:
        print_json(
            {
                "token": token,
                "runs": [r.model_dump(mode="json") for r in found.runs],
                "attempts": [a.model_dump(mode="json") for a in found.attempts],
                "publications": [p.model_dump(mode="json") for p in found.publications],
                "summaries": [s.model_dump(mode="json") for s in found.summaries],
                "versions": [v.model_dump(mode="json") for v in versions],
            }
        )
        return
    _print_evidence(token, found)
    _print_versions(versions)


def _print_versions(versions) -> None:
    if not versions:
        return
    in_force = max(v.version for v in versions)
    table = DataTable(
        "version",
        "KPI",
        "token",
        "supersedes",
        "by",
        "reason",
        "in force",
        title="versions of this partition's KPIs",
        title_justify="left",
    )
    for v in versions:
        table.add_row(
            str(v.version),
            v.kpi,
            v.token,
            str(v.supersedes or ""),
            v.requested_by or "",
            v.reason,  # what people typed is text, never markup
            "yes" if v.version == in_force else "",
        )
    out.print(table)


def _print_evidence(token: str, found) -> None:
    out.print(f"[bold]run token {literal(token)}[/]")
    for run in found.runs:
        out.print(
            f"run {run.id}: {run.pipeline} {run.partition}, trigger {run.trigger}, "
            f"contracts {run.contract_versions}, flow run {run.flow_run_id}",
            markup=False,
        )
    attempts = DataTable(
        "row",
        "run",
        "stage",
        "attempt",
        "state",
        "started (UTC)",
        "seconds",
        "rows",
        "output fingerprint",
        "error",
        title="stage attempts",
        title_justify="left",
    )
    for a in found.attempts:
        attempts.add_row(
            str(a.id),
            str(a.run_id),
            a.stage,
            str(a.attempt),
            a.state,
            a.started_at.isoformat(timespec="milliseconds"),
            f"{(a.ended_at - a.started_at).total_seconds():.3f}",
            "" if a.rows is None else str(a.rows),
            (a.output_fingerprint or "")[:23],
            f"{a.error_class}: {a.error_message}" if a.error_class else "",
        )
    out.print(attempts)
    published = DataTable(
        "row",
        "KPI",
        "partition",
        "value",
        "published (UTC)",
        title="publications",
        title_justify="left",
    )
    for p in found.publications:
        published.add_row(
            str(p.id), p.kpi, p.partition, str(p.value), p.recorded_at.isoformat(timespec="seconds")
        )
    out.print(published if found.publications else "publications: none")
    for s in found.summaries:
        detail = f": {s.detail}" if s.detail else ""
        out.print(f"run {s.run_id} ended: {s.status}{detail}", markup=False)


@app.command("verify")
def verify_command(
    against: Path | None = typer.Option(
        None, "--against", help="JSONL file of published checkpoints to check the ledger with."
    ),
    key: Path | None = typer.Option(
        None,
        "--key",
        help="Trusted public key (.pub) of the checkpoints; default: beside "
        "BARECOUNT_CHECKPOINT_KEY.",
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Start from checkpoint N, or 'last' (the last one verified "
        "--against), instead of from the first row.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check the hash chain; name the first row that does not match. Exit 1 if any."""
    from barecount.ledger import get_ledger
    from barecount.ledger.checkpoint_anchor import verify_against
    from barecount.ledger.checkpoint_keys import read_public_key
    from barecount.ledger.verify_state import remember, since_checkpoint, state_path
    from barecount.settings import get_settings

    ledger, state = get_ledger(), state_path(get_settings().home)
    start = since_checkpoint(ledger, since, state) if since else None
    with _progress(ledger, start) as progress:
        if against is None:
            result = ledger.verify(since=start, progress=progress)
        else:
            public = read_public_key(key) if key is not None else None
            result = verify_against(
                ledger, against, public_key=public, since=start, progress=progress
            )
            remember(ledger, result, state)
    fields = ("ok", "rows", "lanes", "checkpoints", "problem", "row_id", "table", "lane", "seq")
    if as_json:
        print_json({name: getattr(result, name) for name in fields})
    elif result.ok:
        anchored = f", {result.anchored} published checkpoint(s) agree" if against else ""
        out.print(f"[green]ledger verified:[/] {result.rows} rows, chain intact{anchored}")
    else:
        out.print(f"[red]ledger NOT verified:[/] {literal(result.problem)}")
    if not result.ok:
        raise typer.Exit(1)


@contextmanager
def _progress(ledger, start=None):
    """A progress callback for verify: a bar on stderr when it is a terminal and there are
    enough rows to wait for (over 100,000 after the checkpoint ``start``), else None."""
    from barecount.cli.output import err
    from barecount.ledger.checkpoints import current_heads

    if not err.is_terminal:
        yield None
        return
    with ledger.session() as session:
        total = sum(seq for seq, _ in current_heads(session).values())
    total -= start.rows if start is not None else 0
    if total <= 100_000:
        yield None
        return
    from rich.progress import Progress

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("verifying the ledger", total=total)
        yield lambda rows: bar.advance(task, rows)


@app.command("checkpoint")
def checkpoint_command(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Seal every lane's head in a signed checkpoint and publish it (the checkpoint file,
    Prefect); nothing new since the last one: print that one."""
    from barecount.ledger import get_ledger
    from barecount.ledger.checkpoints import write_checkpoint

    checkpoint = write_checkpoint(get_ledger(), reason="manual")
    if as_json:
        print_json({"id": checkpoint.id, "rows": checkpoint.rows, "hash": checkpoint.hash})
        return
    out.print(
        f"checkpoint {checkpoint.id}: {checkpoint.rows} rows sealed, {checkpoint.hash}",
        markup=False,
    )


@app.command("upgrade")
def upgrade_command() -> None:
    """Migrate the ledger's schema to this release (also done on first use unless
    BARECOUNT_LEDGER_AUTO_UPGRADE=false)."""
    from barecount.ledger import ledger_url
    from barecount.ledger.engine import upgrade_ledger
    from barecount.settings import get_settings

    before, after = upgrade_ledger(ledger_url(get_settings()))
    if before == after:
        out.print(f"ledger schema already at revision {after}", markup=False)
    else:
        out.print(f"ledger schema upgraded: {before or 'empty'} -> {after}", markup=False)


def register(root: typer.Typer) -> None:
    root.command("runs")(runs)
    root.add_typer(app, name="ledger")
