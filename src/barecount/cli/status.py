"""barecount status: every pipeline at a glance, from the ledger."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from barecount.cli.output import out, print_json
from barecount.settings import get_settings


def status(
    manifests: Path | None = typer.Option(None, "--manifests", "-m", help="Manifests folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Pipelines with their last partition, state, attempts and retries, holds, last alert."""
    from sqlalchemy import func, select

    from barecount.ledger.db import session_scope
    from barecount.ledger.governance_store import pending_holds
    from barecount.ledger.models import Alert, PipelineRun, RunSummary, StageAttempt
    from barecount.manifest import load_manifests

    found = load_manifests(manifests or get_settings().manifests)
    rows = []
    with session_scope(get_settings().ledger_url) as session:
        holds = pending_holds(session=session)
        for name in sorted(found.pipelines):
            last = session.execute(
                select(PipelineRun)
                .where(PipelineRun.pipeline == name)
                .order_by(PipelineRun.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            ended = None
            attempts = retries = 0
            if last is not None:
                ended = session.execute(
                    select(RunSummary.status).where(RunSummary.run_id == last.id)
                ).scalar_one_or_none()
                attempts = session.execute(
                    select(func.count())
                    .select_from(StageAttempt)
                    .where(StageAttempt.run_id == last.id)
                ).scalar_one()
                retries = session.execute(
                    select(func.count())
                    .select_from(StageAttempt)
                    .where(StageAttempt.run_id == last.id, StageAttempt.attempt > 1)
                ).scalar_one()
            alert = session.execute(
                select(Alert).where(Alert.pipeline == name).order_by(Alert.id.desc()).limit(1)
            ).scalar_one_or_none()
            waiting = [c for c, _ in holds if c.pipeline == name]
            rows.append(
                {
                    "pipeline": name,
                    "last_partition": last.partition if last else None,
                    "state": (ended or ("paused for governance" if waiting else "running"))
                    if last
                    else "never run",
                    "attempts": attempts,
                    "retries": retries,
                    "token": last.token if last else None,
                    "pending_approvals": [
                        {
                            "flow_run_id": c.flow_run_id,
                            "partition": c.partition,
                            "contract": f"{c.contract}@{c.contract_version}",
                        }
                        for c in waiting
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
            )
    if as_json:
        print_json(rows)
        return
    table = Table(
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
            str(len(r["pending_approvals"])) or "0",
            f"{alert['kind']} {alert['partition']} ({'sent' if alert['delivered'] else 'failed'})"
            if alert
            else "-",
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
