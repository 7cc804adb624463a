"""Crons as Prefect reads them: a manifest's cron must be one Prefect's scheduler accepts.

The manifests check crons with cronsim (barecount.manifest stays Prefect-free), which accepts
a few forms Prefect's validator refuses (``5L``, ``LW``, ``L/2``); ``validate`` and the
commands that compile deployments add this check so they fail at the manifest's line instead
of later, inside Prefect.
"""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from barecount.manifest.fields import Cron
from barecount.manifest.limits import shown
from barecount.manifest.yamlsource import Document

_CRON_PATH = ("spec", "schedule", "cron")
_manifest_cron = TypeAdapter(Cron)


def prefect_cron_problems(doc: Document) -> list[str]:
    """The problem with a Pipeline document's cron that cronsim accepts and Prefect does not."""
    from prefect.client.schemas.schedules import CronSchedule

    data = doc.data
    if not isinstance(data, dict) or data.get("kind") != "Pipeline":
        return []
    schedule = (
        (data.get("spec") or {}).get("schedule") if isinstance(data.get("spec"), dict) else None
    )
    cron = schedule.get("cron") if isinstance(schedule, dict) else None
    if not isinstance(cron, str):
        return []
    try:
        _manifest_cron.validate_python(cron)
    except ValidationError:
        return []  # the manifest check reports it already, in its own words
    try:
        CronSchedule(cron=cron)
    except ValidationError:
        return [
            f"{doc.file}:{doc.line_of(_CRON_PATH)}: spec.schedule.cron: Prefect's scheduler "
            f"rejects cron {shown(cron)} (it has no 'L' with a weekday, 'LW' or 'L/N'); write "
            "it with plain fields, e.g. '0 0 * * 5' for every Friday"
        ]
    return []
