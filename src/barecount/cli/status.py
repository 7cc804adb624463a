"""barecount status: every pipeline at a glance, from the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from barecount.cli.output import DataTable, out, print_json
from barecount.settings import get_settings


def status(
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help="Manifests folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Pipelines with their last partition, state, attempts and retries, holds, last alert."""
    from barecount.ledger import get_ledger
    from barecount.ledger.views import pipeline_statuses
    from barecount.manifest import load_manifests

    found = load_manifests(manifests or get_settings().manifests)
    with get_ledger().session() as session:
        rows = [
            _row(s) for s in pipeline_statuses(session=session, pipelines=sorted(found.pipelines))
        ]
    if as_json:
        print_json(rows)
        return
    table = DataTable(
        "pipeline", "last partition", "state", "attempts", "retries", "approvals", "last alert"
    )
    for r in rows:
        alert = r["last_alert"]
        table.add_row(
            r["pipeline"],
            r["last_partition"] or "-",
            r["state"],
            str(r["attempts"]),
            str(r["retries"]),
            str(len(r["pending_approvals"])),
            f"{alert['kind']} {alert['partition']} ({'sent' if alert['delivered'] else 'failed'})"
            if alert
            else "-",
        )
    out.print(table)


def _row(found: Any) -> dict[str, Any]:
    last, alert = found.last, found.alert
    return {
        "pipeline": found.pipeline,
        "last_partition": last.run.partition if last else None,
        "state": str(found.state),
        "attempts": last.attempt_count if last else 0,
        "retries": last.retries if last else 0,
        "token": last.run.token if last else None,
        "in_force": {"version": found.in_force.version, "token": found.in_force.token}
        if found.in_force
        else None,
        "pending_approvals": [
            {
                "flow_run_id": c.flow_run_id,
                "partition": c.partition,
                "contract": f"{c.contract}@{c.contract_version}",
            }
            for c in found.holds
        ],
        "last_alert": {
            "kind": alert.kind,
            "partition": alert.partition,
            "delivered": alert.delivered,
            "at": alert.recorded_at.isoformat(timespec="seconds"),
        }
        if alert
        else None,
    }


def register(app: typer.Typer) -> None:
    app.command("status")(status)
