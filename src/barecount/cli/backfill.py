"""backfill, backfills and replay: history, re-made under governance."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from barecount.cli.output import out, print_json
from barecount.errors import BareCountError
from barecount.settings import get_settings
from barecount.status import FAILED, RunStatus

# partitions that make a backfill exit 1
NOT_DONE = FAILED | {RunStatus.HELD, RunStatus.WAITING, RunStatus.NOT_RUN}


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
            raise BareCountError("give the backfill ID: barecount backfill show ID")
        _show(backfill_id, as_json)
        return
    if start is None or end is None:
        raise BareCountError("a backfill needs --start and --end partition keys")
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
    from barecount.runtime.backfill import MODES, check_pins, parse_pins
    from barecount.runtime.plan import contract_names

    if mode not in MODES:
        raise BareCountError(f"unknown --mode {mode!r}; use one of {', '.join(MODES)}")
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

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=out, disable=quiet) as bar:
            task = bar.add_task(f"backfill {pipeline}", total=None)

            def listen(done: int, total: int, outcome: dict) -> None:
                description = f"backfill {pipeline} {outcome['partition']}"
                bar.update(task, completed=done, total=total, description=description)

            with watching(listen):
                return governed_backfill(pipeline=pipeline, return_state=True, **parameters)


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
        f"{record.pins or '-'}: {data['status']}"
    )
    for o in data["outcomes"]:
        out.print(f"  {o['partition']}  {o['outcome']:<18} {o['token'] or ''}  {o['detail']}")


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
        False,
        "--verify",
        help="Recompute every stage into a scratch warehouse and compare output fingerprints; "
        "exit 1 on a difference. Changes nothing live.",
    ),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help="Manifests folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Re-run a past run under its token and the contract versions it ended under (after any
    approval): same outputs, nothing published. --verify recomputes into a scratch warehouse."""
    from barecount.ledger import get_ledger
    from barecount.ledger.views import versions_ended_under
    from barecount.prefect_api import resolve_api_url, use_api

    settings = get_settings()
    with get_ledger(settings).session() as session:
        first, pins = versions_ended_under(session=session, token=token)
    folder = manifests or settings.manifests
    with use_api(resolve_api_url(settings)):
        from barecount.runtime.flows import governed_pipeline

        state = governed_pipeline(
            pipeline=first.pipeline,
            partition=first.partition,
            run_token=token,
            manifests=str(folder.absolute()),
            trigger="replay",
            contract_pins=pins,
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
