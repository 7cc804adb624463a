"""pending: the holds waiting for a governance decision, laid out for the terminal's width."""

from __future__ import annotations

import typer

from barecount.cli.output import DataTable, literal, out, print_json
from barecount.settings import get_settings

SHORT_TOKEN = 11  # 'rt-' and 8 hex digits: enough to tell holds apart, and to paste
HEADERS = ("hold", "token", "flow run", "pipeline", "partition", "contract", "waiting", "drift")
DRIFT_MIN = 24  # a table narrower than this for the drift column stacks instead


def pending(
    as_json: bool = typer.Option(False, "--json", help="Print JSON (full tokens)."),
) -> None:
    """Holds waiting for a governance decision: runs paused at a contract gate, and orphaned
    holds whose run no longer waits (killed, or a backfill that went on).

    Shows each hold's id, short token and full flow run id: 'barecount approve', 'reject'
    and 'sign' take any of them, or a unique prefix."""
    rows = pending_rows()
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("nothing waits for governance")
        return
    shorts = short_tokens([str(row["token"]) for row in rows])
    cells = [_cells(row, short) for row, short in zip(rows, shorts, strict=True)]
    if _table_fits(cells):
        table = DataTable(*HEADERS)
        for row in cells:
            table.add_row(*row)
        table.columns[2].no_wrap = True  # the flow run id is what people copy
        table.columns[1].no_wrap = True
        out.print(table)
        return
    for index, (hold, token, flow_run, pipeline, partition, contract, waiting, drift) in enumerate(
        cells
    ):
        if index:
            out.print()
        out.print(f"[bold]hold {literal(hold)}[/]  token {literal(token)}  {literal(waiting)}")
        out.print(f"  flow run  {flow_run}", markup=False)
        out.print(f"  {pipeline} {partition}, contract {contract}", markup=False)
        out.print(f"  drift: {drift}", markup=False)


def pending_rows() -> list[dict[str, object]]:
    """The pending holds, with how each waits (paused, suspended or orphaned)."""
    from barecount.ledger import get_ledger
    from barecount.prefect_api import resolve_api_url, use_api
    from barecount.runtime.orphans import is_orphaned
    from barecount.runtime.suspend import is_suspended, sweep

    settings = get_settings()
    ledger = get_ledger(settings)
    with use_api(resolve_api_url(settings)):
        sweep(ledger, None)  # suspended holds whose run expired are timed out, not pending
        holds = ledger.pending_holds()
        orphaned = {check.id: is_orphaned(ledger, check) for check, _ in holds}
    waiting = {
        check.id: "orphaned"
        if orphaned[check.id]
        else ("suspended" if is_suspended(ledger, check) else "paused")
        for check, _ in holds
    }
    return [
        {
            "hold": check.id,
            "flow_run_id": check.flow_run_id,
            "token": check.token,
            "pipeline": check.pipeline,
            "partition": check.partition,
            "contract": f"{check.contract}@{check.contract_version}",
            "waiting": waiting[check.id],
            "drift": event.detail,
            "waiting_since": event.recorded_at.isoformat(timespec="seconds"),
        }
        for check, event in holds
    ]


def short_tokens(tokens: list[str]) -> list[str]:
    """Each token cut to SHORT_TOKEN characters, or longer where that would not be unique."""
    shorts = []
    for token in tokens:
        size = SHORT_TOKEN
        others = [t for t in tokens if t != token]
        while size < len(token) and any(t.startswith(token[:size]) for t in others):
            size += 1
        shorts.append(token[:size])
    return shorts


def _cells(row: dict[str, object], short: str) -> tuple[str, ...]:
    return (
        str(row["hold"]),
        short,
        str(row["flow_run_id"] or "-"),
        str(row["pipeline"]),
        str(row["partition"]),
        str(row["contract"]),
        str(row["waiting"]),
        str(row["drift"]),
    )


def _table_fits(cells: list[tuple[str, ...]]) -> bool:
    """Whether a table of every column but the drift, at full width, leaves room for it."""
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(HEADERS[:-1])]
    # a box table: a border and a space either side of each cell
    used = sum(widths) + 3 * len(HEADERS) + 1
    return out.width - used >= DRIFT_MIN
