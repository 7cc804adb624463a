"""backfill, backfills and replay: history, re-made under governance."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from barecount.cli.output import out, print_json
from barecount.errors import BareCountError
from barecount.settings import get_settings


def backfill(
    pipeline: str = typer.Argument(..., help="Pipeline name, or 'show' followed by an ID."),
    backfill_id: int | None = typer.Argument(None, help="With 'show': the backfill ID."),
    start: str | None = typer.Option(None, "--start", help="First partition key."),
    end: str | None = typer.Option(None, "--end", help="Last partition key (inclusive)."),
    contract: list[str] = typer.Option([], "--contract", help="Pin NAME@VERSION (repeatable)."),
    mode: str = typer.Option("missing", "--mode", help="missing, failed or all."),
    parallel: int = typer.Option(4, "--parallel", min=1, help="Partitions in flight at once."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop after the first failure."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; run nothing."),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help="Manifests folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Backfill PIPELINE from --start to --end; 'barecount backfill show ID' shows one."""
    if pipeline == "show":
        if backfill_id is None:
            raise BareCountError("give the backfill ID: barecount backfill show ID")
        _show(backfill_id, as_json)
        return
    if start is None or end is None:
        raise BareCountError("a backfill needs --start and --end partition keys")
    from barecount.manifest import load_manifests
    from barecount.runtime.backfill import parse_pins
    from barecount.runtime.partitions import partition_range
    from barecount.runtime.server import resolve_api_url, use_api

    folder = manifests or get_settings().manifests
    spec = load_manifests(folder).pipeline(pipeline)
    partition_range(start, end, spec.spec.partition)  # bad keys fail here, before Prefect
    parse_pins(contract)
    with use_api(resolve_api_url(get_settings())):
        from barecount.runtime import backfill as engine

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
            disable=as_json or dry_run,
        ) as bar:
            task = bar.add_task(f"backfill {pipeline}", total=None)

            def listen(done: int, total: int, outcome: dict) -> None:
                bar.update(
                    task,
                    completed=done,
                    total=total,
                    description=f"backfill {pipeline} {outcome['partition']}",
                )

            engine.progress_listeners.append(listen)
            try:
                state = engine.governed_backfill(
                    pipeline=pipeline,
                    start=start,
                    end=end,
                    contracts=contract,
                    mode=mode,
                    parallel=parallel,
                    fail_fast=fail_fast,
                    dry_run=dry_run,
                    manifests=str(folder.absolute()),
                    return_state=True,
                )
            finally:
                engine.progress_listeners.remove(listen)
    if not state.is_completed():
        error = state.result(raise_on_failure=False)
        raise BareCountError(str(error) if isinstance(error, BaseException) else state.message)
    summary = state.result()
    if as_json:
        print_json(summary)
        return
    _print_plan(summary)


def _print_plan(summary: dict) -> None:
    table = Table(
        "partition",
        "plan",
        "why",
        "outcome",
        title=f"backfill {summary['backfill_id']}"
        f" of {summary['pipeline']} (mode {summary['mode']})",
        title_justify="left",
    )
    outcomes = {o["partition"]: o for o in summary.get("outcomes", [])}
    for p in summary["planned"]:
        outcome = outcomes.get(p["partition"], {})
        table.add_row(p["partition"], p["action"], p["reason"], outcome.get("outcome", ""))
    out.print(table)
    out.print("counts: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["counts"].items())))


def _show(backfill_id: int, as_json: bool) -> None:
    from sqlalchemy import select

    from barecount.ledger.db import session_scope
    from barecount.ledger.models import Backfill, BackfillEnd, BackfillOutcome

    with session_scope(get_settings().ledger_url) as session:
        record = session.get(Backfill, backfill_id)
        if record is None:
            raise BareCountError(f"no backfill {backfill_id}; 'barecount backfills' lists them")
        outcomes = (
            session.execute(
                select(BackfillOutcome)
                .where(BackfillOutcome.backfill_id == backfill_id)
                .order_by(BackfillOutcome.id)
            )
            .scalars()
            .all()
        )
        end = session.execute(
            select(BackfillEnd).where(BackfillEnd.backfill_id == backfill_id)
        ).scalar_one_or_none()
    data = {
        "id": record.id,
        "pipeline": record.pipeline,
        "range": [record.start, record.end],
        "mode": record.mode,
        "requested_by": record.requested_by,
        "pins": record.pins,
        "requested_at": record.recorded_at.isoformat(timespec="seconds"),
        "status": "finished" if end else "interrupted (no end recorded)",
        "counts": end.counts if end else {},
        "plan": record.plan,
        "outcomes": [
            {"partition": o.partition, "token": o.token, "outcome": o.outcome, "detail": o.detail}
            for o in outcomes
        ],
    }
    if as_json:
        print_json(data)
        return
    out.print(
        f"backfill {record.id}: {record.pipeline} {record.start}..{record.end}, mode "
        f"{record.mode}, by {record.requested_by} at {data['requested_at']}, pins "
        f"{record.pins or '-'}: {data['status']}"
    )
    for o in data["outcomes"]:
        out.print(f"  {o['partition']}  {o['outcome']:<18} {o['token'] or ''}  {o['detail']}")


def backfills(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Backfills on record, newest first."""
    from sqlalchemy import select

    from barecount.ledger.db import session_scope
    from barecount.ledger.models import Backfill, BackfillEnd

    with session_scope(get_settings().ledger_url) as session:
        records = session.execute(select(Backfill).order_by(Backfill.id.desc())).scalars().all()
        ended = {e.backfill_id: e for e in session.execute(select(BackfillEnd)).scalars()}
    rows = [
        {
            "id": r.id,
            "pipeline": r.pipeline,
            "start": r.start,
            "end": r.end,
            "mode": r.mode,
            "requested_by": r.requested_by,
            "status": "finished" if r.id in ended else "interrupted",
            "counts": ended[r.id].counts if r.id in ended else {},
        }
        for r in records
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "pipeline", "range", "mode", "by", "status", "counts")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["pipeline"],
            f"{r['start']}..{r['end']}",
            r["mode"],
            r["requested_by"],
            r["status"],
            ", ".join(f"{k} {v}" for k, v in sorted(r["counts"].items())),
        )
    out.print(table if rows else "no backfills recorded yet")


def replay(
    token: str = typer.Argument(..., help="Run token to replay."),
    verify: bool = typer.Option(
        False, "--verify", help="Recompute without the cache and compare output fingerprints."
    ),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help="Manifests folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Re-run a past run under its token and contract versions: same outputs, no new publication."""
    from barecount.ledger.db import session_scope
    from barecount.ledger.store import evidence
    from barecount.runtime.server import resolve_api_url, use_api

    settings = get_settings()
    with session_scope(settings.ledger_url) as session:
        first = evidence(session=session, token=token).runs[0]
    folder = manifests or settings.manifests
    with use_api(resolve_api_url(settings)):
        from barecount.runtime.flow import governed_pipeline

        state = governed_pipeline(
            pipeline=first.pipeline,
            partition=first.partition,
            run_token=token,
            manifests=str(folder.absolute()),
            trigger="replay",
            contract_pins=dict(first.contract_versions),
            verify=verify,
            return_state=True,
        )
    if not state.is_completed():
        error = state.result(raise_on_failure=False)
        raise BareCountError(str(error) if isinstance(error, BaseException) else state.message)
    summary = state.result()
    drifted = [n for n, v in summary.get("verify", {}).items() if not v["deterministic"]]
    if as_json:
        print_json(summary)
    else:
        out.print(f"replayed {first.pipeline} {first.partition} under {token}: {summary['status']}")
        for name, v in summary.get("verify", {}).items():
            mark = "same" if v["deterministic"] else "[red]DIFFERENT[/]"
            out.print(f"  {name}: {mark} (recorded {v['recorded']}, now {v['recomputed']})")
    if drifted:
        raise BareCountError(
            f"not deterministic: stage(s) {', '.join(drifted)} gave a different output under the "
            "same token"
        )


def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill)
    app.command("backfills")(backfills)
    app.command("replay")(replay)
