"""keys, pending, approve, reject: governance from the command line."""

from __future__ import annotations

import typer
from rich.table import Table

from barecount.cli.output import out, print_json
from barecount.errors import BareCountError
from barecount.settings import get_settings

keys_app = typer.Typer(help="Approver signing keys.", no_args_is_help=True)


@keys_app.command("generate")
def generate(
    name: str = typer.Argument(..., help="Approver name, as in the team manifest."),
    force: bool = typer.Option(False, "--force", help="Replace an existing key."),
) -> None:
    """Create NAME's Ed25519 key (0600, under BARECOUNT_HOME/keys) and print the public key."""
    from barecount.governance.signing import generate_key, key_path

    settings = get_settings()
    line = generate_key(settings.home, name, overwrite=force)
    out.print(f"private key: {key_path(settings.home, name)} (keep it; mode 0600)")
    out.print("add this approver to the team manifest (spec.approvers):")
    out.file.write(f'    - {{name: {name}, public_key: "{line}"}}\n')


def pending(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Runs paused at a contract gate, waiting for a governance decision."""
    from barecount.ledger import get_ledger

    holds = get_ledger().pending_holds()
    rows = [
        {
            "flow_run_id": check.flow_run_id,
            "token": check.token,
            "pipeline": check.pipeline,
            "partition": check.partition,
            "contract": f"{check.contract}@{check.contract_version}",
            "drift": event.detail,
            "waiting_since": event.recorded_at.isoformat(timespec="seconds"),
        }
        for check, event in holds
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("nothing waits for governance")
        return
    table = Table("flow run", "pipeline", "partition", "contract", "drift", "waiting since (UTC)")
    for row in rows:
        table.add_row(
            row["flow_run_id"],
            row["pipeline"],
            row["partition"],
            row["contract"],
            row["drift"],
            row["waiting_since"],
        )
    out.print(table)


def approve(
    run: str = typer.Argument(..., help="Prefect flow run id or run token of the paused run."),
    approver: str = typer.Option(..., "--as", help="Your approver name."),
    reason: str = typer.Option("", "--reason", help="Why; kept in the ledger."),
    wait: float = typer.Option(60, "--wait", help="Seconds to wait for the run's verdict."),
) -> None:
    """Approve the drift a paused run waits on; the run continues under its token."""
    _decide(run, "approve", approver, reason, wait)


def reject(
    run: str = typer.Argument(..., help="Prefect flow run id or run token of the paused run."),
    approver: str = typer.Option(..., "--as", help="Your approver name."),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    wait: float = typer.Option(60, "--wait", help="Seconds to wait for the run's verdict."),
) -> None:
    """Reject the drift a paused run waits on; the run fails and nothing downstream runs."""
    _decide(run, "reject", approver, reason, wait)


def _decide(run: str, decision: str, approver: str, reason: str, wait: float) -> None:
    from barecount.ledger import get_ledger
    from barecount.runtime.resume import send_decision

    sent = send_decision(
        get_settings(),
        get_ledger(),
        run,
        decision=decision,
        approver=approver,
        reason=reason,
        wait=wait,
    )
    check, verdict = sent.check, sent.verdict
    out.print(
        f"sent {decision} by {approver} ({'signed' if sent.signed else 'unsigned'}) to flow run "
        f"{check.flow_run_id}"
    )
    if verdict is None:
        out.print(f"no verdict from the run within {wait:g} s; check 'barecount pending'")
        return
    if not verdict.accepted:
        raise BareCountError(f"refused: {verdict.verdict}; the run is paused again")
    version = (
        f"; contract {check.contract} is now version {verdict.new_version}"
        if verdict.new_version
        else ""
    )
    out.print(f"[green]accepted:[/] {decision}{version}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command("pending")(pending)
    app.command("approve")(approve)
    app.command("reject")(reject)
