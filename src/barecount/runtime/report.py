"""What a finished run leaves in Prefect: artifacts for people, an event for other pipelines."""

from __future__ import annotations

import re
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from barecount import names as events
from barecount.ledger import Ledger
from barecount.runtime.chain_artifact import short_chain
from barecount.status import RunStatus, StageState


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key (``^[a-z0-9-]*$``) built from names and partition keys."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", "-".join(parts).lower())).strip("-")


def stage_rows(*, ledger: Ledger, run_id: int) -> list[dict[str, Any]]:
    """One row per stage of a run: attempts, retries, duration, cache hit, rows."""
    attempts = ledger.attempts_of(run_id=run_id)
    table: dict[str, dict[str, Any]] = {}
    for a in attempts:
        row = table.setdefault(
            a.stage, {"stage": a.stage, "attempts": 0, "first_start": a.started_at}
        )
        row["attempts"] += 1
        row.update(
            state=a.state,
            retries=row["attempts"] - 1,
            duration_s=round((a.ended_at - row["first_start"]).total_seconds(), 3),
            cache_hit=a.state == StageState.CACHED,
            rows=a.rows,
            fingerprint=(a.output_fingerprint or "")[:19],
        )
    for row in table.values():
        row.pop("first_start")
    return list(table.values())


def write_artifacts(summary: dict[str, Any], *, ledger: Ledger, console: str) -> None:
    """A table of the stages and a Markdown summary, keyed by pipeline and partition."""
    base = artifact_key(summary["pipeline"], summary["partition"])
    rows = stage_rows(ledger=ledger, run_id=summary["run_id"])
    create_table_artifact(
        key=f"{base}-stages",
        table=rows,
        description=f"Stages of {summary['pipeline']} {summary['partition']}",
    )
    kpi_lines = (
        "\n".join(f"| {name} | {value} |" for name, value in summary["kpis"].items())
        or "| (none) | |"
    )
    status = {
        RunStatus.PUBLISHED: "published under this token",
        RunStatus.ALREADY_PUBLISHED: "already published under this token earlier; "
        "nothing published again",
        RunStatus.COMPLETED: "completed (this pipeline publishes no KPIs)",
    }.get(summary["status"], summary["status"])
    markdown = (
        f"# {summary['pipeline']} {summary['partition']}\n\n"
        f"- run token: `{summary['token']}`\n"
        f"- status: **{status}**\n"
        f"- trigger: {summary['trigger']}\n"
        f"- contracts: {', '.join(f'{k}@{v}' for k, v in summary['contracts'].items()) or '-'}\n"
        f"- ledger run id: {summary['run_id']}\n"
        f"- evidence chain: [{console}/evidence/{summary['token']}]"
        f"({console}/evidence/{summary['token']})\n"
        f"- evidence, verified: `barecount evidence --token {summary['token']}`"
        + "".join(
            f"; `barecount evidence {kpi} --partition {summary['partition']} "
            f"--pipeline {summary['pipeline']}`"
            for kpi in summary["kpis"]
        )
        + "\n\n| KPI | value |\n|---|---|\n"
        f"{kpi_lines}\n"
    )
    if summary["status"] in (RunStatus.PUBLISHED, RunStatus.RESTATED):
        markdown += "\n" + short_chain(ledger, token=summary["token"])
    create_markdown_artifact(
        key=f"{base}-summary", markdown=markdown, description="BareCount run summary"
    )


def emit_published(
    *, pipeline: str, partition: str, token: str, kpis: dict[str, float | None]
) -> None:
    """Tell downstream pipelines (pipeline-published triggers) that a partition is out."""
    emit_event(
        event=events.PIPELINE_PUBLISHED,
        resource={"prefect.resource.id": events.pipeline_resource(pipeline)},
        payload={"pipeline": pipeline, "partition": partition, "token": token, "kpis": kpis},
    )
