"""Stage functions for tests: real code paths, deterministic, with controllable failures."""

from __future__ import annotations

import json
import time
from pathlib import Path

from barecount.errors import TerminalError, TransientError
from barecount.governance.schema import ExtractedSchema, SchemaColumn
from barecount.runtime.stage import StageContext, StageResult, fingerprint_rows


def _journal(ctx: StageContext, event: str) -> None:
    """Append what happened to a JSON-lines file next to the warehouse, for assertions."""
    path = Path(ctx.warehouse).parent / "journal.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(
            json.dumps(
                {
                    "stage": ctx.stage,
                    "event": event,
                    "at": time.time(),
                    "partition": ctx.partition,
                    "token": ctx.token,
                }
            )
            + "\n"
        )


def journal(warehouse: Path) -> list[dict]:
    path = Path(warehouse).parent / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def extract(ctx: StageContext) -> StageResult:
    _journal(ctx, "start")
    rows = [(i, f"item-{i}") for i in range(int(ctx.params.get("rows", 3)))]
    _journal(ctx, "end")
    return StageResult(
        tables={"items": len(rows)},
        fingerprint=fingerprint_rows(rows),
        schema=ExtractedSchema(
            object="items",
            columns=(SchemaColumn(name="id", logical_type="integer", required=True),),
        ),
    )


def sleepy(ctx: StageContext) -> StageResult:
    _journal(ctx, "start")
    time.sleep(float(ctx.params.get("seconds", 1.0)))
    _journal(ctx, "end")
    return StageResult(fingerprint=fingerprint_rows([(ctx.stage,)]))


def combine(ctx: StageContext) -> StageResult:
    _journal(ctx, "start")
    upstream = sorted(ctx.upstream)
    value = float(sum(r.rows for r in ctx.upstream.values()))
    return StageResult(
        fingerprint=fingerprint_rows([(name,) for name in upstream]),
        kpis=dict.fromkeys(ctx.params.get("kpis", ["total"]), value),
        metadata={"upstream": upstream},
    )


def flaky(ctx: StageContext) -> StageResult:
    """Fails with a transient error until it has been attempted ``fail_times`` times."""
    attempts = [
        e for e in journal(ctx.warehouse) if e["stage"] == ctx.stage and e["event"] == "start"
    ]
    _journal(ctx, "start")
    if len(attempts) < int(ctx.params.get("fail_times", 2)):
        raise TransientError(f"source busy (attempt {len(attempts) + 1})")
    return StageResult(fingerprint=fingerprint_rows([("ok",)]), kpis={"total": 1.0})


def broken(ctx: StageContext) -> StageResult:
    _journal(ctx, "start")
    raise TerminalError("invoice amounts are not numbers")


def unstable(ctx: StageContext) -> StageResult:
    """Deliberately not deterministic: its output depends on the clock."""
    _journal(ctx, "start")
    return StageResult(fingerprint=fingerprint_rows([(time.time_ns(),)]), kpis={"total": 1.0})


def switch(ctx: StageContext) -> StageResult:
    """Fails (terminal) while a file 'fail.flag' lies beside the warehouse, succeeds after."""
    _journal(ctx, "start")
    if (Path(ctx.warehouse).parent / "fail.flag").exists():
        raise TerminalError("the upstream export is corrupt")
    return StageResult(fingerprint=fingerprint_rows([("ok",)]), kpis={"total": 1.0})


def fail_with(ctx: StageContext) -> StageResult:
    """Fails (terminal) with params['message']: hostile text in errors, e.g. Rich markup."""
    _journal(ctx, "start")
    raise TerminalError(str(ctx.params["message"]))


def drift_with(ctx: StageContext) -> StageResult:
    """Extracts 'items' with one more column, named params['column']: a drift to hold."""
    _journal(ctx, "start")
    columns = (
        SchemaColumn(name="id", logical_type="integer", required=True),
        SchemaColumn(name=str(ctx.params["column"]), logical_type="string"),
    )
    return StageResult(
        tables={"items": 1},
        fingerprint=fingerprint_rows([(1, "x")]),
        schema=ExtractedSchema(object="items", columns=columns),
    )
