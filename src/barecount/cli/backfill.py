"""backfill run/show/list: history, re-made under governance (replay: cli/replay.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from barecount.cli import backfill_records as records
from barecount.cli import params
from barecount.cli import replay as replay_cmds
from barecount.cli.output import DataTable, err, out, print_json
from barecount.errors import BareCountError, UsageError
from barecount.settings import get_settings
from barecount.status import FAILED, RunStatus

# partitions that make a backfill exit 1
NOT_DONE = FAILED | {RunStatus.HELD, RunStatus.WAITING, RunStatus.NOT_RUN}


def deprecated(old: str, new: str) -> None:
    """Say on stderr that a spelling goes away (stdout stays the command's own output)."""
    err.print(
        f"warning: '{old}' is deprecated and goes away in the next release; use '{new}'",
        markup=False,
    )


class _BackfillGroup(TyperGroup):
    """'backfill run|show|list', and for one release the old 'backfill PIPELINE ...'."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            deprecated("barecount backfill PIPELINE ...", "barecount backfill run PIPELINE ...")
            args = ["run", *args]
        return super().parse_args(ctx, args)


backfill_app = typer.Typer(
    cls=_BackfillGroup,
    help="Backfills: run one over a range of partitions, show one, list them.",
    no_args_is_help=True,
)


def _mode(value: str) -> str:
    from barecount.runtime.backfill import MODES

    return params.choice(*MODES)(value)


@backfill_app.command("run")
def backfill(
    pipeline: str = typer.Argument(
        ..., metavar="PIPELINE", help="Pipeline name.", callback=params.name
    ),
    start: str | None = typer.Option(
        None, "--start", metavar="KEY", help="First partition key.", callback=params.partition_key
    ),
    end: str | None = typer.Option(
        None,
        "--end",
        metavar="KEY",
        help="Last partition key (inclusive).",
        callback=params.partition_key,
    ),
    contract: list[str] = typer.Option(
        [],
        "--contract",
        metavar="NAME@VERSION",
        help="Pin a contract version (repeatable).",
        callback=params.contract_pins,
    ),
    mode: str = typer.Option(
        "missing", "--mode", metavar="MODE", help="missing, failed or all.", callback=_mode
    ),
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
    """Backfill PIPELINE from --start to --end, each partition under its own token.

    Exits 1 when any partition failed, was blocked or held, naming them.
    """
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


def backfills(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Deprecated: 'barecount backfill list'."""
    deprecated("barecount backfills", "barecount backfill list")
    records.list_backfills(as_json)


def register(app: typer.Typer) -> None:
    backfill_app.command("show")(records.show)
    backfill_app.command("list")(records.list_backfills)
    app.add_typer(backfill_app, name="backfill")
    app.command("backfills", hidden=True)(backfills)
    replay_cmds.register(app)
