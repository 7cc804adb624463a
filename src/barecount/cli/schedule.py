"""partitions and emit: calendars and events from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from barecount.cli import params
from barecount.cli.output import out, print_json
from barecount.errors import BareCountError
from barecount.settings import get_settings

emit_app = typer.Typer(help="Emit BareCount events to the Prefect server.", no_args_is_help=True)


def partitions(
    pipeline: str = typer.Argument(..., help="Pipeline name.", callback=params.name),
    start: str = typer.Option(
        ..., "--start", help="First partition key.", callback=params.partition_key
    ),
    end: str = typer.Option(
        ..., "--end", help="Last partition key (inclusive).", callback=params.partition_key
    ),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help="Manifests folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the calendar partitions of PIPELINE from START to END, with their time spans."""
    from barecount.manifest import load_manifests
    from barecount.manifest.partitions import partition_range

    spec = load_manifests(manifests or get_settings().manifests).pipeline(pipeline)
    found = partition_range(start, end, spec.spec.partition)
    rows = [
        {
            "key": p.key,
            "start": p.start.isoformat(),
            "end": p.end.isoformat(),
            "hours": round(p.duration.total_seconds() / 3600, 2),
        }
        for p in found
    ]
    if as_json:
        print_json(rows)
        return
    cal = spec.spec.partition
    out.print(
        f"{len(rows)} {cal.calendar} partition(s) of {pipeline} in {cal.timezone}:", markup=False
    )
    for row in rows:
        line = f"  {row['key']}  {row['start']} .. {row['end']}  ({row['hours']:g} h)"
        out.print(line, markup=False)


@emit_app.command("source-updated")
def source_updated(
    source: str = typer.Argument(
        ..., help="Source name, e.g. erp.invoices.", callback=params.source
    ),
    partition: str = typer.Option(
        ..., "--partition", "-p", help="Partition that landed.", callback=params.partition_key
    ),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help="Manifests folder."),
) -> None:
    """Announce that SOURCE published data for a partition; pipelines triggered by it start."""
    from barecount.manifest import load_manifests
    from barecount.manifest.models import SourceUpdated
    from barecount.manifest.partitions import parse_partition

    found = load_manifests(manifests or get_settings().manifests)
    consumers = [
        loaded.model
        for loaded in found.pipelines.values()
        if any(
            isinstance(t, SourceUpdated) and t.source == source for t in loaded.model.spec.triggers
        )
    ]
    for pipeline in consumers:
        parse_partition(partition, pipeline.spec.partition)  # bad keys fail before emitting
    _emit(
        "barecount.source.updated",
        f"barecount.source.{source}",
        {"source": source, "partition": partition},
    )
    names = ", ".join(p.name for p in consumers) or "no pipeline (none declares this source)"
    out.print(
        f"emitted barecount.source.updated for {source} {partition}; triggers: {names}",
        markup=False,
    )


def _emit(event: str, resource: str, payload: dict) -> None:
    from prefect.events import emit_event
    from prefect.events.worker import EventsWorker

    from barecount.prefect_api import resolve_api_url, use_api

    with use_api(resolve_api_url(get_settings())):
        sent = emit_event(event=event, resource={"prefect.resource.id": resource}, payload=payload)
        if sent is None:
            raise BareCountError("Prefect did not accept the event (events are disabled?)")
        EventsWorker.drain_all(timeout=30)  # a short-lived process must not exit before sending


def serve_command(
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help="Manifests folder."),
    limit: int | None = typer.Option(
        None, "--limit", min=1, max=params.SERVED_RUNS_MAX, help="Most runs at once."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Take over deployments that run on a work pool (deletes them)."
    ),
) -> None:
    """Serve every pipeline's deployment (schedules and triggers) until interrupted."""
    from barecount.manifest import load_manifests
    from barecount.prefect_api import resolve_api_url, ui_url, use_api

    folder = manifests or get_settings().manifests
    found = load_manifests(folder)
    api = resolve_api_url(get_settings())
    with use_api(api):
        from barecount.deploy.serve import delete_deployments, serve_all, worker_deployments

        taken = worker_deployments(found)
        if taken and not replace:
            raise BareCountError(
                f"{', '.join(taken)} already run on a work pool on this server (barecount "
                "apply / prefect deploy); serve them from here with --replace, which deletes "
                "those deployments, or stop serving and start a worker instead"
            )
        if taken:
            delete_deployments(taken)
            out.print(f"replaced work-pool deployments: {', '.join(taken)}", markup=False)

        for name in sorted(found.pipelines):
            pipeline = found.pipeline(name)
            when = (
                [f"cron '{pipeline.spec.schedule.cron}' {pipeline.spec.schedule.timezone}"]
                if pipeline.spec.schedule
                else []
            )
            when += [f"on {t.on}" for t in pipeline.spec.triggers]
            line = f"serving governed-pipeline/{name}: {', '.join(when) or 'on demand'}"
            out.print(line, markup=False)
        out.print(f"Prefect UI: {ui_url(api)}  (Ctrl-C stops serving)", markup=False)
        serve_all(found, manifests_path=str(folder.absolute()), limit=limit)


def register(app: typer.Typer) -> None:
    app.command("partitions")(partitions)
    app.add_typer(emit_app, name="emit")
    app.command("serve")(serve_command)
