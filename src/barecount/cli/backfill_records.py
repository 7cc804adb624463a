"""backfill show and backfill list: the backfills on record in the ledger."""

from __future__ import annotations

import typer

from barecount.cli import params
from barecount.cli.output import DataTable, out, print_json
from barecount.errors import BareCountError


def show(
    backfill_id: int = typer.Argument(
        ..., metavar="ID", min=1, max=params.ROW_ID_MAX, help="The backfill's ID."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One backfill: who asked, range, pins, plan and each partition's outcome."""
    from sqlalchemy import select

    from barecount.ledger import get_ledger
    from barecount.ledger.models import Backfill, BackfillEnd, BackfillOutcome
    from barecount.status import BackfillState

    with get_ledger().session() as session:
        record = session.get(Backfill, backfill_id)
        if record is None:
            raise BareCountError(f"no backfill {backfill_id}; 'barecount backfill list' lists them")
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


def list_backfills(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
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
