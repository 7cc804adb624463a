"""Start conditions: the schedule's time window, and upstream publications."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from barecount.ledger import get_ledger
from barecount.ledger.models import Alert, RunSummary
from barecount.runtime.flows import governed_pipeline


def window_away_from_now() -> tuple[str, str]:
    """A one-hour window that does not contain the current Berlin time."""
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Europe/Berlin"))
    start = (now + timedelta(hours=2)).hour
    if start >= 22 or start < 2:
        start = (now - timedelta(hours=3)).hour
    return f"{start:02d}:00", f"{start + 1:02d}:00"


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.parametrize("late", ["skip", "run"])
def test_scheduled_run_outside_its_window(late: str, home: Path, manifests: Path) -> None:
    start, end = window_away_from_now()
    path = manifests / "pipelines" / "finance-kpi.yaml"
    path.write_text(
        path.read_text().replace(
            'window: {start: "00:00", end: "04:00", late: skip}',
            f'window: {{start: "{start}", end: "{end}", late: {late}}}',
        )
    )
    summary = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-14", manifests=str(manifests), trigger="schedule"
    )
    with get_ledger().session() as session:
        recorded = session.execute(select(RunSummary)).scalars().all()
    assert len(recorded) == 1
    expected = f"outside its window {start}-{end} (late: {late})"
    assert expected in recorded[0].detail
    if late == "skip":
        assert (summary["status"], recorded[0].status) == ("skipped", "skipped")
        assert summary["kpis"] == {}
        with get_ledger().session() as session:
            alerts = session.execute(select(Alert)).scalars().all()
        assert [(a.kind, a.partition) for a in alerts] == [("late", "2026-11-14")]
        assert expected in alerts[0].message
    else:
        assert (summary["status"], recorded[0].status) == ("published", "published")


@pytest.mark.usefixtures("prefect_api")
def test_manual_runs_ignore_the_window(home: Path, manifests: Path) -> None:
    start, end = window_away_from_now()
    path = manifests / "pipelines" / "finance-kpi.yaml"
    path.write_text(
        path.read_text().replace('start: "00:00", end: "04:00"', f'start: "{start}", end: "{end}"')
    )
    summary = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-13", manifests=str(manifests), trigger="cli"
    )
    assert summary["status"] == "published"


@pytest.mark.usefixtures("prefect_api")
def test_downstream_waits_until_upstream_published(home: Path, manifests: Path) -> None:
    early = governed_pipeline(
        pipeline="finance-rollup", partition="2026-11-12", manifests=str(manifests), trigger="cli"
    )
    assert early["status"] == "waiting"
    assert early["detail"] == "waiting on upstream: finance-kpi has not published 2026-11-12"
    upstream = governed_pipeline(
        pipeline="finance-kpi", partition="2026-11-12", manifests=str(manifests)
    )
    later = governed_pipeline(
        pipeline="finance-rollup",
        partition="2026-11-12",
        manifests=str(manifests),
        trigger="pipeline-published:finance-kpi",
    )
    assert later["status"] == "published"
    assert later["kpis"] == {
        "revenue_7d": upstream["kpis"]["revenue_daily"],
        "revenue_7d_days": 1.0,
    }
    lineage = later["stages"]["rollup-revenue"]
    assert lineage["kpis"]["revenue_7d"] > 0
    with get_ledger().session() as session:
        from barecount.ledger.store import evidence

        attempts = evidence(session=session, token=later["token"]).attempts
    assert attempts[0].lineage["upstream_pipelines"] == {"finance-kpi": upstream["token"]}
