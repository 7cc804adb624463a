"""replay: a past run re-made under its token, to show it gives the same outputs."""

from __future__ import annotations

from pathlib import Path

import typer

from barecount.cli import params
from barecount.cli.output import literal, out, print_json
from barecount.errors import BareCountError
from barecount.settings import get_settings


def replay(
    token: str = typer.Argument(..., help="Run token to replay.", callback=params.token),
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
        out.print(
            f"replayed {first.pipeline} {first.partition} under {token}: {summary['status']}",
            markup=False,
        )
        for name, v in summary.get("verify", {}).items():
            mark = "same" if v["deterministic"] else "[red]DIFFERENT[/]"
            seen = literal(f"recorded {v['recorded']}, now {v['recomputed']}")
            out.print(f"  {literal(name)}: {mark} ({seen})")
    if drifted:
        raise BareCountError(
            f"not deterministic: stage(s) {', '.join(drifted)} gave a different output under the "
            "same token"
        )


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
