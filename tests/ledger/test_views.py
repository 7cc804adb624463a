"""The one status vocabulary and the views derived from ledger rows (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from barecount.ledger.models import GateCheck, HoldEvent, StageAttempt
from barecount.ledger.views import run_status, stage_states
from barecount.status import FAILED, RERUN, SUCCEEDED, TERMINAL, RunStatus

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def attempt(row_id: int, stage: str, state: str, number: int = 1) -> StageAttempt:
    return StageAttempt(
        id=row_id,
        run_id=1,
        token="t",
        stage=stage,
        attempt=number,
        state=state,
        started_at=NOW,
        ended_at=NOW,
    )


def check(stage: str, outcome: str = "hold") -> GateCheck:
    return GateCheck(
        id=9,
        run_id=1,
        token="t",
        pipeline="p",
        partition="2026-11-26",
        stage=stage,
        contract="invoices",
        contract_version="1.0.0",
        schema_fingerprint="sha256:x",
        outcome=outcome,
        classification="breaking",
    )


def hold(status: str) -> HoldEvent:
    return HoldEvent(check_id=9, contract="invoices", contract_version="1.0.0", status=status)


@pytest.mark.parametrize(
    ("ended", "held", "word"),
    [
        (None, False, "running"),
        (None, True, "held"),
        ("held", True, "held"),  # a backfilled partition ends its run while held
        ("published", False, "published"),
        ("timed-out", False, "timed-out"),
    ],
)
def test_a_run_has_one_word(ended: str | None, held: bool, word: str) -> None:
    assert run_status(ended, held) == word


def test_an_unknown_status_is_refused_not_passed_through() -> None:
    with pytest.raises(ValueError):
        run_status("paused for governance", False)


def test_the_named_sets() -> None:
    assert RunStatus.HELD not in TERMINAL and RunStatus.RUNNING not in TERMINAL
    assert FAILED <= TERMINAL and SUCCEEDED <= TERMINAL and not FAILED & SUCCEEDED
    assert RunStatus.BLOCKED in FAILED and RunStatus.TIMED_OUT in FAILED
    assert RERUN == FAILED | {RunStatus.HELD, RunStatus.WAITING, RunStatus.INTERRUPTED}


def test_stage_states_last_attempt_decides_and_the_gate_overrides() -> None:
    attempts = [
        attempt(1, "load", "retrying"),
        attempt(2, "load", "completed", 2),
        attempt(3, "gdp", "cached"),
    ]
    assert stage_states(attempts, []) == {"load": "completed", "gdp": "cached"}
    assert stage_states(attempts, [(check("load"), hold("pending"))])["load"] == "held"
    assert stage_states(attempts, [(check("load"), hold("rejected"))])["load"] == "failed"
    assert stage_states(attempts, [(check("load"), hold("approved"))])["load"] == "completed"
    assert stage_states(attempts, [(check("load", "blocked"), None)])["load"] == "failed"
