"""barecount run: one pipeline partition, in this process, recorded on the Prefect server."""

from __future__ import annotations

from pathlib import Path

import typer

from barecount.cli import params
from barecount.cli.output import DataTable, fail, out, print_json
from barecount.errors import BareCountError, RunEnded
from barecount.settings import get_settings
from barecount.status import RunStatus


def run(
    pipeline: str = typer.Argument(..., help="Pipeline name.", callback=params.name),
    partition: str | None = typer.Option(
        None,
        "--partition",
        "-p",
        help="Partition key, e.g. 2026-11-26 (default: current).",
        callback=params.partition_key,
    ),
    token: str | None = typer.Option(
        None, "--token", help="Run under this run token (replay).", callback=params.token
    ),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help="Manifests folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
    deployment: bool = typer.Option(
        False,
        "--deployment",
        help="Create a run of the pipeline's deployment for a worker instead of running here; "
        "the run token is its idempotency key.",
    ),
    restate: bool = typer.Option(
        False,
        "--restate",
        help="Publish a new version of a partition already published under another token.",
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why (required with --restate)."),
) -> None:
    """Run PIPELINE for one partition and print its KPIs and the Prefect UI link."""
    from barecount.manifest import load_manifests
    from barecount.manifest.partitions import parse_partition
    from barecount.manifest.tokens import check_token

    settings = get_settings()
    folder = manifests or settings.manifests
    spec = load_manifests(folder).pipeline(pipeline)  # bad input fails here, before Prefect
    if partition is not None:
        partition = parse_partition(partition, spec.spec.partition).key
    if token is not None:
        check_token(token)
    restate_reason = restate_reason_of(restate, reason)

    from barecount.prefect_api import resolve_api_url

    api = resolve_api_url(settings)
    if deployment:
        _submit(folder, pipeline, partition, token, api, as_json)
        return
    try:
        summary = _run_here(api, pipeline, partition, token, folder, restate_reason)
    except RunEnded as ended:
        if not as_json:
            raise
        print_json({"errors": [ended.line], **ended.facts})
        fail(str(ended))
        raise typer.Exit(ended.exit_code) from None
    if as_json:
        print_json(summary)
        return
    _print_summary(summary)


# What to do next, by how a run ended (the message says why; blocked says what to do itself).
NEXT_STEP = {
    RunStatus.FAILED: "fix the cause and run the partition again (the Prefect run below has "
    "every attempt's log)",
    RunStatus.REJECTED: "nothing was published; fix the extract at its source or amend the "
    "contract, then run again",
    RunStatus.TIMED_OUT: "nothing was published; run again to hold the drift for a decision, "
    "and decide with 'barecount approve' or 'barecount reject' in time",
    RunStatus.HELD: "decide with 'barecount approve' or 'barecount reject' "
    "('barecount pending' lists it)",
}


def _run_here(api, pipeline, partition, token, folder, restate_reason) -> dict:
    """Run the flow in this process; its summary, or a RunEnded saying why not and what next."""
    from barecount.prefect_api import ui_url, use_api

    with use_api(api):
        from barecount.runtime.flows import governed_pipeline

        state = governed_pipeline(
            pipeline=pipeline,
            partition=partition,
            run_token=token,
            manifests=str(folder.absolute()),
            trigger="cli",
            restate_reason=restate_reason,
            return_state=True,
        )
    run_url = f"{ui_url(api)}/runs/flow-run/{state.state_details.flow_run_id}"
    if not state.is_completed():
        raise run_ended(state, run_url)
    return state.result() | {"prefect_run_url": run_url}


def run_ended(state, run_url: str) -> RunEnded:
    """How a run that did not complete ended: one line with the cause and the next step."""
    try:
        error = None if state.is_paused() else state.result(raise_on_failure=False)
    except Exception:  # no result to read (e.g. the server ended the run): its message
        error = None
    if isinstance(error, BaseException):
        message, status = str(error), getattr(error, "status", RunStatus.FAILED)
    elif state.is_paused():  # suspended at the gate: a worker runs it again once decided
        message, status = "held for governance: the run is suspended at its gate", RunStatus.HELD
    else:
        message, status = state.message or state.name, RunStatus.FAILED
    message = " ".join(message.split())
    step = NEXT_STEP.get(status, "")
    line = f"{message}; next: {step}" if step else message
    code = error.exit_code if isinstance(error, BareCountError) else (3 if state.is_paused() else 1)
    facts = {
        "status": str(status),
        "flow_run_id": str(state.state_details.flow_run_id),
        "prefect_run_url": run_url,
    }
    return RunEnded(line, exit_code=code, link=run_url, facts=facts)


def restate_reason_of(restate: bool, reason: str | None) -> str | None:
    """The restatement's reason; --restate and --reason go together."""
    if restate and not (reason or "").strip():
        raise BareCountError('a restatement needs a reason: --restate --reason "..."')
    if reason is not None and not restate:
        raise BareCountError("--reason goes with --restate; add --restate to publish a new version")
    return reason.strip() if restate and reason else None


def _submit(folder, pipeline, partition, token, api, as_json) -> None:
    from barecount.deploy.submit import submit_run
    from barecount.ledger import get_ledger
    from barecount.manifest import load_manifests
    from barecount.manifest.partitions import partition_for
    from barecount.prefect_api import ui_url, use_api

    loaded = load_manifests(folder)
    if partition is None:
        from datetime import UTC, datetime

        partition = partition_for(datetime.now(UTC), loaded.pipeline(pipeline).spec.partition).key
    with use_api(api):
        plan, flow_run = submit_run(
            get_ledger(),
            loaded,
            pipeline,
            partition,
            token=token,
            manifests_path=str(folder.absolute()),
        )
    result = {
        "pipeline": pipeline,
        "partition": plan.partition,
        "token": plan.token,
        "flow_run_id": str(flow_run.id),
        "state": flow_run.state_name,
        "prefect_run_url": f"{ui_url(api)}/runs/flow-run/{flow_run.id}",
    }
    if as_json:
        print_json(result)
        return
    out.print(
        f"flow run {result['flow_run_id']} ({result['state']}) for {pipeline} {plan.partition}, "
        f"token {plan.token}; a worker on the 'barecount' pool runs it\n"
        f"Prefect run: {result['prefect_run_url']}",
        markup=False,
    )


def _print_summary(summary: dict) -> None:
    table = DataTable(title=f"{summary['pipeline']} {summary['partition']}", title_justify="left")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for name, value in summary["kpis"].items():
        table.add_row(name, "—" if value is None else f"{value:,.4f}".rstrip("0").rstrip("."))
    out.print(table)
    out.print(f"run token:   {summary['token']}", markup=False)
    out.print(f"evidence:    {_evidence_line(summary)}", markup=False)
    if summary["status"] in (RunStatus.NEEDS_RESTATEMENT, RunStatus.RESTATED):
        out.print(f"publication: {summary['detail']}", markup=False)  # quotes a --reason
    if summary["status"] in (RunStatus.WAITING, RunStatus.SKIPPED):  # why, and what runs it
        out.print(f"not run:     {summary['detail']}", markup=False)
    out.print(f"Prefect run: {summary['prefect_run_url']}", markup=False)


def _evidence_line(summary: dict) -> str:
    from barecount.ledger import get_ledger
    from barecount.runtime.report import stage_rows

    rows = stage_rows(ledger=get_ledger(), run_id=summary["run_id"])
    cached = sum(1 for r in rows if r["cache_hit"])
    retries = sum(r["retries"] for r in rows)
    status = {
        RunStatus.PUBLISHED: f"published {len(summary['kpis'])} KPI(s) under this token",
        RunStatus.ALREADY_PUBLISHED: "already published under this token: nothing published again",
        RunStatus.RESTATED: f"restated {len(summary['kpis'])} KPI(s) under this token",
        RunStatus.NEEDS_RESTATEMENT: "published under another token: nothing published",
    }.get(summary["status"], summary["status"])
    return (
        f"{len(rows)} stage(s), {sum(r['attempts'] for r in rows)} attempt(s), "
        f"{retries} retr{'y' if retries == 1 else 'ies'}, {cached} cache hit(s); {status}; "
        f"ledger run {summary['run_id']} ('barecount ledger show --token {summary['token']}')"
    )


def register(app: typer.Typer) -> None:
    app.command("run")(run)
