"""Alerts reach a real HTTP receiver once per failure streak, escalate, and resolve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bc_testkit import write_pipeline
from sqlalchemy import select

from barecount.ledger import get_ledger
from barecount.ledger.models import Alert
from barecount.runtime.flows import governed_pipeline

SECRET = "s3cr3t-webhook-token"


@pytest.mark.usefixtures("prefect_api")
def test_one_alert_per_streak_then_escalation_then_resolution(
    home: Path, manifests: Path, receiver, team_channels, monkeypatch, caplog
) -> None:
    # a token in a webhook's path is no credential to Apprise, so the manifest may hold it,
    # but the ledger shows no path; the escalation URL has a password: it comes from the
    # environment at send time
    monkeypatch.setenv(
        "BC_TEST_ONCALL_URL", f"json://bot:{SECRET}@127.0.0.1:{receiver.port}/oncall"
    )
    team_channels([f"json://127.0.0.1:{receiver.port}/alerts/{SECRET}"], ["env:BC_TEST_ONCALL_URL"])
    write_pipeline(
        manifests,
        "fragile",
        [{"name": "load", "kind": "kpi", "run": "bc_test_stages:switch", "publishes": ["total"]}],
        alerts={"team": "finance-data", "after_failed_runs": 1, "escalate_after": 3},
    )
    flag = home / "fail.flag"
    home.mkdir(parents=True, exist_ok=True)
    flag.write_text("x")

    def run_once() -> str:
        state = governed_pipeline(
            pipeline="fragile",
            partition="2026-11-26",
            manifests=str(manifests),
            run_token=None,
            return_state=True,
        )
        return state.type.value

    assert [run_once() for _ in range(4)] == ["FAILED"] * 4
    assert receiver.paths() == [f"/alerts/{SECRET}", "/oncall"]
    first = receiver.received[0][1]
    assert "fragile 2026-11-26 failed (failed)" in first["message"]
    assert "the upstream export is corrupt" in first["message"]
    assert "3 consecutive runs" in receiver.received[1][1]["message"]

    flag.unlink()
    assert run_once() == "COMPLETED"
    assert receiver.paths() == [f"/alerts/{SECRET}", "/oncall", f"/alerts/{SECRET}"]
    assert "recovered" in receiver.received[2][1]["title"]

    with get_ledger().session() as session:
        alerts = session.execute(select(Alert).order_by(Alert.id)).scalars().all()
    assert [(a.kind, a.delivered, a.channel) for a in alerts] == [
        ("failure", True, f"json://127.0.0.1:{receiver.port}/***"),
        ("escalation", True, "env:BC_TEST_ONCALL_URL"),
        ("resolution", True, f"json://127.0.0.1:{receiver.port}/***"),
    ]
    assert len({a.dedupe_key for a in alerts}) == 1
    stored = json.dumps([a.model_dump(mode="json") for a in alerts])
    assert SECRET not in stored
    assert SECRET not in caplog.text


@pytest.mark.usefixtures("prefect_api")
def test_a_dead_channel_is_retried_recorded_and_never_fails_the_run(
    home: Path, manifests: Path, team_channels
) -> None:
    team_channels(["json://127.0.0.1:9/x"])
    write_pipeline(
        manifests,
        "fragile",
        [{"name": "load", "kind": "kpi", "run": "bc_test_stages:switch", "publishes": ["total"]}],
    )
    home.mkdir(parents=True, exist_ok=True)
    (home / "fail.flag").write_text("x")
    state = governed_pipeline(
        pipeline="fragile", partition="2026-11-25", manifests=str(manifests), return_state=True
    )
    assert "the upstream export is corrupt" in str(state.result(raise_on_failure=False))
    with get_ledger().session() as session:
        (alert,) = session.execute(select(Alert)).scalars().all()
    assert (alert.kind, alert.delivered, alert.attempts) == ("failure", False, 4)


@pytest.mark.usefixtures("prefect_api")
def test_status_shows_last_state_retries_and_alert(
    capsys, home: Path, manifests: Path, team_channels
) -> None:
    from barecount.cli.main import main

    team_channels(["json://127.0.0.1:9/x"])
    write_pipeline(
        manifests,
        "fragile",
        [{"name": "load", "kind": "kpi", "run": "bc_test_stages:switch", "publishes": ["total"]}],
    )
    home.mkdir(parents=True, exist_ok=True)
    (home / "fail.flag").write_text("x")
    governed_pipeline(
        pipeline="fragile", partition="2026-11-24", manifests=str(manifests), return_state=True
    )
    capsys.readouterr()
    assert main(["status", "-m", str(manifests), "--json"]) == 0
    rows = {r["pipeline"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["finance-kpi"]["state"] == "never run"
    fragile = rows["fragile"]
    assert (fragile["last_partition"], fragile["state"], fragile["attempts"]) == (
        "2026-11-24",
        "failed",
        1,
    )
    assert fragile["last_alert"]["kind"] == "failure"
    assert fragile["last_alert"]["delivered"] is False
