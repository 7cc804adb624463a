"""keys, pending, approve, reject: governance from the command line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from barecount.cli import params
from barecount.cli import pending as pending_cmds
from barecount.cli.output import literal, out, print_json
from barecount.errors import BareCountError
from barecount.settings import get_settings

keys_app = typer.Typer(help="Approver signing keys.", no_args_is_help=True)


@keys_app.command("generate")
def generate(
    name: str = typer.Argument(
        ..., help="Approver name, as in the team manifest.", callback=params.name
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing key."),
) -> None:
    """Create NAME's Ed25519 key (0600, under BARECOUNT_HOME/keys) and print the public key."""
    from barecount.governance.signing import generate_key, key_path

    settings = get_settings()
    keys = settings.home / "keys"
    params.inside(keys, key_path(settings.home, name), "key file")  # a symlink out of keys/
    line = generate_key(settings.home, name, overwrite=force)
    out.print(f"private key: {key_path(settings.home, name)} (keep it; mode 0600)", markup=False)
    out.print("add this approver to the team manifest (spec.approvers):")
    out.file.write(f'    - {{name: {name}, public_key: "{line}"}}\n')


@keys_app.command("demo")
def demo(
    force: bool = typer.Option(
        False, "--force", help="Replace other keys of alice and bob (they stop working)."
    ),
) -> None:
    """Write the example team's published DEMO keys (alice, bob) under BARECOUNT_HOME/keys.

    Anyone can sign with a demo key: for real use, 'barecount keys generate NAME'."""
    from barecount.governance.demokeys import write_demo_keys

    for key in write_demo_keys(get_settings().home, force=force):
        if key.outcome == "kept":
            text = (
                f"kept {key.path}: it is not {key.name}'s demo key, so the example team's "
                f"public key for {key.name} does not match it (--force replaces it)"
            )
        else:
            text = f"{key.outcome} {key.path}: {key.name}'s demo key (published: anyone can sign)"
        out.print(text, markup=False)


RUN_HELP = (
    "Hold id, run token or Prefect flow run id of the held run, or a unique prefix of one "
    "(see 'barecount pending')."
)
MANIFESTS_HELP = "Manifests folder (the owning team's approvers and the contract)."
KEY_HELP = "Private key to sign with (default: BARECOUNT_HOME/keys/NAME.key)."
WAIT_HELP = "Seconds to wait for a paused run's verdict."


def approve(
    run: str = typer.Argument(..., help=RUN_HELP, callback=params.run_ref),
    approver: str = typer.Option(..., "--as", help="Your approver name.", callback=params.name),
    reason: str = typer.Option("", "--reason", help="Why; kept in the ledger."),
    wait: float = typer.Option(60, "--wait", min=0, max=params.WAIT_MAX_SECONDS, help=WAIT_HELP),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help=MANIFESTS_HELP),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
) -> None:
    """Approve a held drift: a paused run continues under its token; for an orphaned hold the
    new contract version is registered and the held partitions are queued again."""
    _decide(run, "approve", approver, reason, wait, manifests, key)


def reject(
    run: str = typer.Argument(..., help=RUN_HELP, callback=params.run_ref),
    approver: str = typer.Option(..., "--as", help="Your approver name.", callback=params.name),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    wait: float = typer.Option(60, "--wait", min=0, max=params.WAIT_MAX_SECONDS, help=WAIT_HELP),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help=MANIFESTS_HELP),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
) -> None:
    """Reject a held drift: the run fails (or, orphaned, is recorded as rejected) and nothing
    downstream runs; the contract is no longer blocked."""
    _decide(run, "reject", approver, reason, wait, manifests, key)


def sign_decision(
    run: str = typer.Argument(..., help=RUN_HELP, callback=params.run_ref),
    approver: str = typer.Option(..., "--as", help="Your approver name.", callback=params.name),
    decision: str = typer.Option(
        ..., "--decision", help="approve or reject.", callback=params.choice("approve", "reject")
    ),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print the signature to paste into the Prefect UI's resume form of a held run, and the
    exact text it signs. Nothing is sent: fill the form with the same decision and approver
    name, and the signature, and submit it there."""
    from barecount.ledger import get_ledger
    from barecount.runtime.resume import sign_for_form

    settings = get_settings()
    signed = sign_for_form(
        settings, get_ledger(settings), run, approver=approver, decision=decision, key_file=key
    )
    check = signed.check
    if as_json:
        print_json(
            {
                "hold": check.id,
                "flow_run_id": check.flow_run_id,
                "approver": approver,
                "decision": decision,
                "signed_text": signed.message,
                "signature": signed.signature,
            }
        )
        return
    out.print(
        f"{approver} signs with {signed.key_file}: {decision} the drift of contract "
        f"{check.contract} on {check.pipeline} {check.partition} (hold {check.id}), flow run "
        f"{check.flow_run_id or '-'}",
        markup=False,
    )
    out.print("the exact text signed, line by line:")
    for line in signed.message.split("\n"):
        out.print(f"  {line}", markup=False)
    out.print(
        f"in the resume form: decision [bold]{literal(decision)}[/], approver "
        f"[bold]{literal(approver)}[/], your reason, and this signature:"
    )
    out.file.write(signed.signature + "\n")  # the last line: nothing else on it


def _decide(
    run: str,
    decision: str,
    approver: str,
    reason: str,
    wait: float,
    manifests: Path | None,
    key: Path | None,
) -> None:
    from barecount.ledger import get_ledger
    from barecount.runtime.resume import send_decision

    settings = get_settings()
    sent = send_decision(
        settings,
        get_ledger(settings),
        manifests or settings.manifests,
        run,
        decision=decision,
        approver=approver,
        reason=reason,
        wait=wait,
        key_file=key,
    )
    check, verdict = sent.check, sent.verdict
    signed = "signed" if sent.signed else "unsigned"
    where = (
        f"the orphaned hold of {check.pipeline} {check.partition} (flow run "
        f"{check.flow_run_id} no longer waits)"
        if sent.orphaned
        else f"flow run {check.flow_run_id}"
    )
    out.print(f"sent {decision} by {approver} ({signed}) to {where}", markup=False)
    if verdict is None:
        out.print(f"no verdict from the run within {wait:g} s; check 'barecount pending'")
        return
    if not verdict.accepted:
        still = "the hold still waits" if sent.orphaned else "the run is paused again"
        raise BareCountError(f"refused: {verdict.verdict}; {still}")
    version = (
        f"; contract {check.contract} is now version {verdict.new_version}"
        if verdict.new_version
        else ""
    )
    out.print(f"[green]accepted:[/] {escape(decision + version)}")
    if verdict.verdict != "accepted":  # accepted as unsigned, and why
        out.print(verdict.verdict, markup=False)
    if sent.orphaned:
        _print_requeued(check.id)
    elif decision == "approve":
        out.print("the run continues; it queues again the partitions its hold blocked")


def _print_requeued(hold_id: int) -> None:
    from sqlalchemy import select

    from barecount.ledger import get_ledger
    from barecount.ledger.models import RequeuedRun

    with get_ledger().session() as session:
        rows = (
            session.execute(select(RequeuedRun).where(RequeuedRun.hold_check_id == hold_id))
            .scalars()
            .all()
        )
    for row in rows:
        how = f"flow run {row.flow_run_id}" if row.flow_run_id else f"not queued: {row.error}"
        out.print(f"queued again: {row.pipeline} {row.partition} ({how})", markup=False)


hold_app = typer.Typer(help="Governance holds.", no_args_is_help=True)


@hold_app.command("withdraw")
def withdraw(
    hold: str = typer.Argument(
        ...,
        help="Hold id (see 'barecount pending'), flow run id or token.",
        callback=params.run_ref,
    ),
    approver: str = typer.Option(..., "--as", help="Your approver name.", callback=params.name),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help=MANIFESTS_HELP),
) -> None:
    """Withdraw a pending hold without deciding the drift: it stops blocking its contract."""
    from barecount.ledger import get_ledger
    from barecount.manifest import load_manifests
    from barecount.runtime.orphans import withdraw_hold
    from barecount.runtime.resume import find_hold

    settings = get_settings()
    ledger = get_ledger(settings)
    check = find_hold(ledger, hold)
    withdraw_hold(
        ledger,
        load_manifests(manifests or settings.manifests),
        check,
        approver=approver,
        reason=reason,
    )
    out.print(f"withdrew hold {check.id} of {check.pipeline} {check.partition}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(hold_app, name="hold")
    app.command("pending")(pending_cmds.pending)
    app.command("sign")(sign_decision)
    app.command("approve")(approve)
    app.command("reject")(reject)
