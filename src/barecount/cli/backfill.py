"""backfill and backfills: history, re-made under governance (replay: cli/replay.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from barecount.cli import params
from barecount.cli import replay as replay_cmds
from barecount.cli.output import DataTable, out, print_json
from barecount.errors import BareCountError, UsageError
from barecount.settings import get_settings
from barecount.status import FAILED, RunStatus

# partitions that make a backfill exit 1
NOT_DONE = FAILED | {RunStatus.HELD, RunStatus.WAITING, RunStatus.NOT_RUN}


def _mode(value: str) -> str:
    from barecount.runtime.backfill import MODES

    return params.choice(*MODES)(value)


def backfill(
    pipeline: str = typer.Argument(
        ..., help="Pipeline name, or 'show' followed by an ID.", callback=params.name
    ),
    backfill_id: int | None = typer.Argument(
        None, min=1, max=params.ROW_ID_MAX, help="With 'show': the backfill ID."
    ),
    start: str | None = typer.Option(
        None, "--start", help="First partition key.", callback=params.partition_key
    ),
    end: str | None = typer.Option(
        None, "--end", help="Last partition key (inclusive).", callback=params.partition_key
    ),
    contract: list[str] = typer.Option(
        [], "--contract", help="Pin NAME@VERSION (repeatable).", callback=params.contract_pins
    ),
    mode: str = typer.Option("missing", "--mode", help="missing, failed or all.", callback=_mode),
    parallel: int = typer.Option(
        4, "--parallel", min=1, max=params.PARALLEL_MAX, help="Partitions in flight at once."
    ),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop after the first failure."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; run nothing."),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help="Manifests folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    restate: bool = typer.Option(
        False, "--restate", help="With --mode all: publish new versions (restatements)."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why (required with --restate)."),
) -> None:
    """Backfill PIPELINE from --start to --end; 'barecount backfill show ID' shows one.

    Exits 1 when any partition failed, was blocked or held, naming them.
    """
    if pipeline == "show":
        if backfill_id is None:
            raise UsageError("give the backfill ID: barecount backfill show ID")
        _show(backfill_id, as_json)
        return
    if backfill_id is not None:
        raise UsageError(f"an ID goes with 'show': barecount backfill show {backfill_id}")
    if start is None or end is None:
        raise UsageError("a backfill needs --start and --end partition keys")
    folder = manifests or get_settings().manifests
    restate_reason = _check_request(folder, pipeline, start, end, contract, mode, restate, reason)
    state = _run_backfill(
        pipeline,
        quiet=as_json or dry_run,
        start=start,
        end=end,
        contracts=contract,
        mode=mode,
        parallel=parallel,
        fail_fast=fail_fast,
        dry_run=dry_run,
        manifests=str(folder.absolute()),
        restate_reason=restate_reason,
    )
    _report(state, as_json)


def _report(state, as_json: bool) -> None:
    """Print how the backfill went; a BareCountError when any partition is not published."""
    if not state.is_completed():
        error = state.result(raise_on_failure=False)
        raise BareCountError(str(error) if isinstance(error, BaseException) else state.message)
    summary = state.result()
    if as_json:
        print_json(summary)
    else:
        _print_plan(summary)
    unfinished = [o for o in summary.get("outcomes", []) if o["outcome"] in NOT_DONE]
    if unfinished:
        listed = ", ".join(f"{o['partition']} ({o['outcome']})" for o in unfinished)
        raise BareCountError(
            f"backfill {summary['backfill_id']}: {len(unfinished)} partition(s) not published: "
            f"{listed}; 'barecount backfill show {summary['backfill_id']}' has the details"
        )


def _check_request(folder, pipeline, start, end, contract, mode, restate, reason) -> str | None:
    """Refuse bad input here, before Prefect: keys, mode, pins and the versions they name.
    Returns the restatement's reason, if one was asked for."""
    from barecount.cli.run import restate_reason_of
    from barecount.ledger import get_ledger
    from barecount.manifest import load_manifests
    from barecount.manifest.partitions import partition_range
    from barecount.runtime.backfill import check_pins, parse_pins
    from barecount.runtime.plan import contract_names

    restate_reason = restate_reason_of(restate, reason)
    if restate_reason and mode != "all":
        raise BareCountError("--restate republishes published partitions: use it with --mode all")
    loaded = load_manifests(folder)
    spec = loaded.pipeline(pipeline)
    partition_range(start, end, spec.spec.partition)
    pins = parse_pins(contract)
    unknown = sorted(set(pins) - set(contract_names(spec)))
    if unknown:
        raise BareCountError(
            f"pipeline {pipeline!r} is not governed by contract(s) {', '.join(unknown)}; its "
            f"contracts: {', '.join(contract_names(spec)) or 'none'}"
        )
    check_pins(get_ledger(), loaded, pins)
    return restate_reason


def _run_backfill(pipeline: str, *, quiet: bool, **parameters):
    """Run the backfill flow here, with a progress bar fed as partitions finish."""
    from barecount.prefect_api import resolve_api_url, use_api

    with use_api(resolve_api_url(get_settings())):
        from barecount.runtime.backfill import watching
        from barecount.runtime.flows import governed_backfill

        columns = (
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
        )
        with Progress(*columns, TimeElapsedColumn(), console=out, disable=quiet) as bar:
            task = bar.add_task(f"backfill {pipeline}", total=None)

            def listen(done: int, total: int, outcome: dict) -> None:
                description = f"backfill {pipeline} {outcome['partition']}"
                bar.update(task, completed=done, total=total, description=description)

            with watching(listen):
                return governed_backfill(pipeline=pipeline, return_state=True, **parameters)


def _print_plan(summary: dict) -> None:
    table = DataTable(
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
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary["counts"].items()))
    out.print(f"counts: {counts}", markup=False)


def _show(backfill_id: int, as_json: bool) -> None:
    from sqlalchemy import select

    from barecount.ledger import get_ledger
    from barecount.ledger.models import Backfill, BackfillEnd, BackfillOutcome
    from barecount.status import BackfillState

    with get_ledger().session() as session:
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
        "status": BackfillState.FINISHED if end else BackfillState.UNFINISHED,
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
        f"{record.pins or '-'}: {data['status']}",
        markup=False,  # requested_by and the outcomes' details are data
    )
    for o in data["outcomes"]:
        line = f"  {o['partition']}  {o['outcome']:<18} {o['token'] or ''}  {o['detail']}"
        out.print(line, markup=False)


def backfills(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Backfills on record, newest first."""
    from barecount.ledger import get_ledger
    from barecount.ledger.views import backfill_views

    with get_ledger().session() as session:
        views = backfill_views(session=session, limit=1000)
    rows = [
        {
            "id": v.backfill.id,
            "pipeline": v.backfill.pipeline,
            "start": v.backfill.start,
            "end": v.backfill.end,
            "mode": v.backfill.mode,
            "requested_by": v.backfill.requested_by,
            "status": str(v.state),
            "counts": dict(v.end.counts) if v.end else dict(v.outcomes),
        }
        for v in views
    ]
    if as_json:
        print_json(rows)
        return
    table = DataTable("id", "pipeline", "range", "mode", "by", "status", "counts")
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


def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill)
    app.command("backfills")(backfills)
    replay_cmds.register(app)
