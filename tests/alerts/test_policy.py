"""The alert policy as a pure function of a partition's run history: no server, no ledger."""

from __future__ import annotations

import pytest

from barecount.alerts.policy import Ended, notices_for
from barecount.manifest.models import Pipeline
from barecount.manifest.team import Team

TEAM = Team.model_validate(
    {
        "apiVersion": "barecount/v1",
        "kind": "Team",
        "metadata": {"name": "finance-data"},
        "spec": {
            "approvers": [{"name": "alice"}],
            "require_signed_approvals": False,
            "unsigned_approvals_reason": "alert policy tests decide nothing",
            "alerts": ["json://127.0.0.1:1/hook"],
            "escalation": ["json://127.0.0.1:2/pager"],
        },
    }
)


def pipeline(after_failed_runs: int = 1, escalate_after: int = 3) -> Pipeline:
    return Pipeline.model_validate(
        {
            "apiVersion": "barecount/v1",
            "kind": "Pipeline",
            "metadata": {"name": "finance-kpi", "owner": "finance-data"},
            "spec": {
                "alerts": {
                    "team": "finance-data",
                    "after_failed_runs": after_failed_runs,
                    "escalate_after": escalate_after,
                },
                "stages": [{"name": "load", "kind": "transform", "run": "bc_test_stages:combine"}],
            },
        }
    )


def notices(statuses: list[str], sent=(), *, detail: str = "boom", **policy):
    """The notices at the end of the last run of ``statuses`` (run ids 1, 2, ...)."""
    history = [Ended(run_id, status) for run_id, status in enumerate(statuses, start=1)]
    return notices_for(
        pipeline=pipeline(**policy),
        team=TEAM,
        partition="2026-11-26",
        token="rt-1",
        run_id=len(statuses),
        status=statuses[-1],
        detail=detail,
        history=history,
        sent=set(sent),
    )


def test_first_failure_alerts_the_team_once_per_streak() -> None:
    [notice] = notices(["failed"])
    assert (notice.kind, notice.dedupe_key) == ("failure", "finance-kpi:2026-11-26:streak-1")
    assert notice.channels == ("json://127.0.0.1:1/hook",)
    assert "finance-kpi 2026-11-26 failed (failed): boom" in notice.body
    # the second failure of the same streak: already sent, nothing new
    assert notices(["failed", "failed"], {("finance-kpi:2026-11-26:streak-1", "failure")}) == []


def test_streak_escalates_to_the_escalation_channel() -> None:
    sent = {("finance-kpi:2026-11-26:streak-1", "failure")}
    [notice] = notices(["failed", "rejected", "blocked"], sent)
    assert notice.kind == "escalation"
    assert notice.channels == ("json://127.0.0.1:2/pager",)
    assert "failed 3 consecutive runs" in notice.body


def test_after_failed_runs_waits_for_the_streak_to_reach_it() -> None:
    assert notices(["failed"], after_failed_runs=2) == []
    [notice] = notices(["failed", "timed-out"], after_failed_runs=2)
    assert notice.dedupe_key == "finance-kpi:2026-11-26:streak-1"


def test_success_after_an_alerted_streak_resolves_it_once() -> None:
    sent = {("finance-kpi:2026-11-26:streak-2", "failure")}
    [notice] = notices(["published", "failed", "failed", "already-published"], sent)
    assert (notice.kind, notice.dedupe_key) == ("resolution", "finance-kpi:2026-11-26:streak-2")
    sent.add(("finance-kpi:2026-11-26:streak-2", "resolution"))
    assert notices(["published", "failed", "failed", "published"], sent) == []


def test_success_without_an_alerted_failure_is_quiet() -> None:
    assert notices(["failed", "published"]) == []
    assert notices(["published", "published"]) == []


def test_a_neutral_run_neither_breaks_nor_extends_a_streak() -> None:
    sent = {("finance-kpi:2026-11-26:streak-1", "failure")}
    [notice] = notices(["failed", "waiting", "failed", "failed"], sent)
    assert notice.kind == "escalation"  # three failures, the waiting run between them ignored


def test_a_run_skipped_for_its_window_alerts_as_late() -> None:
    [notice] = notices(["skipped"], detail="started 05:00, outside its window 00:00-04:00")
    assert (notice.kind, notice.dedupe_key) == ("late", "finance-kpi:2026-11-26:late-1")
    assert notices(["skipped"], detail="the approval came from this pipeline's own run") == []


@pytest.mark.parametrize("status", ["held", "waiting", "running"])
def test_open_outcomes_alert_nobody(status: str) -> None:
    assert notices([status]) == []


def test_no_owning_team_no_alert() -> None:
    history = [Ended(1, "failed")]
    found = notices_for(
        pipeline=pipeline(),
        team=None,
        partition="2026-11-26",
        token="rt-1",
        run_id=1,
        status="failed",
        detail="x",
        history=history,
        sent=set(),
    )
    assert found == []
