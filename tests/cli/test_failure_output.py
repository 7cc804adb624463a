"""Expected ends of a run print one line, never a traceback (issue 16, item 1).

Each case runs the real `barecount run` in a subprocess against the session's Prefect server:
a stage that fails for good, a drift nobody decides on in time, a drift rejected by a signed
decision, and a run blocked by another run's pending drift. Each exits with the README's
code, prints no "Traceback" (Prefect logs none: the flow returns a Failed state with
BareCount's message instead of raising), and prints one error line naming the cause and the
next step. The flow run's Prefect state carries the same message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bc_testkit import spawn_cli, spawn_run, wait_for_pause, write_pipeline

from barecount.cli.main import main
from barecount.examples.finance import write_extract

SUPPORT = Path(__file__).resolve().parents[1] / "support"
DAILY_UTC = {"calendar": "daily", "timezone": "UTC"}

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def stages(home: Path, manifests: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Manifests with a pipeline whose stage fails for good, and one whose extract drifts
    with a 3-second approval timeout."""
    monkeypatch.setenv("PYTHONPATH", str(SUPPORT))  # the subprocesses import bc_test_stages
    monkeypatch.setenv("COLUMNS", "400")
    broken = {"name": "load", "kind": "transform", "run": "bc_test_stages:broken"}
    write_pipeline(manifests, "breaks", [broken], partition=DAILY_UTC)
    drift = {
        "name": "extract",
        "kind": "ingestion",
        "run": "bc_test_stages:drift_with",
        "contract": "items",
        "params": {"column": "note"},
    }
    expiring = {"approval_timeout_seconds": 3, "hold": "pause"}
    write_pipeline(manifests, "expires", [drift], partition=DAILY_UTC, governance=expiring)
    return manifests


def ended(process) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=240)
    assert "Traceback" not in out + err, out + err
    assert "Encountered exception" not in out + err, err
    return process.returncode, out, err


def error_line(err: str) -> str:
    """The one error line (Prefect's own log lines of the flow run come before it)."""
    [line] = [line for line in err.splitlines() if line.startswith("error: ")]
    return line


def prefect_state(flow_run_id: str):
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state


def test_a_stage_failing_for_good_is_one_line_exit_1(stages: Path) -> None:
    code, _, err = ended(spawn_run(stages, "2026-04-01", "breaks"))
    assert code == 1, err
    assert error_line(err) == (
        "error: pipeline breaks partition 2026-04-01 failed at load (attempt 1): invoice "
        "amounts are not numbers; next: fix the cause and run the partition again (the "
        "Prefect run below has every attempt's log)"
    )
    assert "Prefect run: http://127.0.0.1:" in err


def test_json_prints_the_errors_and_the_state_carries_the_message(stages: Path) -> None:
    code, out, err = ended(spawn_run(stages, "2026-04-02", "breaks", "--json"))
    assert code == 1, err
    printed = json.loads(out)
    assert printed["status"] == "failed"
    [problem] = printed["errors"]
    assert problem.startswith("pipeline breaks partition 2026-04-02 failed at load (attempt 1)")
    state = prefect_state(printed["flow_run_id"])
    assert state.is_failed()
    assert state.message == (
        "pipeline breaks partition 2026-04-02 failed at load (attempt 1): invoice amounts "
        "are not numbers"
    )


def test_a_governance_timeout_prints_barecount_words_exit_1(stages: Path) -> None:
    code, out, err = ended(spawn_run(stages, "2026-04-03", "expires", "--json"))
    assert code == 1, err
    printed = json.loads(out)
    assert printed["status"] == "timed-out"
    [problem] = printed["errors"]
    assert problem.startswith(
        "drift on items held: no governance decision within 3 s; next: nothing was published; "
        "run again to hold the drift for a decision"
    ), problem
    assert "never resumed" not in out + err
    state = prefect_state(printed["flow_run_id"])
    assert state.is_failed()
    assert state.message == "drift on items held: no governance decision within 3 s"


@pytest.fixture
def governed(manifests: Path, home: Path) -> Path:
    """Shipped manifests with signed approvals: alice and bob hold keys."""
    from bc_testkit import require_signed_approvals

    return require_signed_approvals(manifests)


def test_a_rejected_drift_and_a_blocked_run_are_one_line_each(governed: Path, home) -> None:
    held = "2026-04-10"
    write_extract(home / "landing", "erp.invoices", held, 300, drift="drop-column")
    process = spawn_run(governed, held)
    check = wait_for_pause(held, process)

    code, _, err = ended(spawn_run(governed, "2026-04-09"))
    assert code == 3, err
    assert error_line(err) == (
        f"error: blocked: drift on invoices awaiting governance (run {check.flow_run_id}, "
        f"finance-kpi {held}); it runs again when the hold is approved ('barecount pending' "
        "lists it)"
    )

    decided = spawn_cli("reject", check.token, "--as", "bob", "--reason", "due dates needed")
    assert ended(decided)[0] == 0
    code, _, err = ended(process)
    assert code == 1, err
    assert error_line(err) == (
        "error: drift on invoices rejected by bob: due dates needed; next: nothing was "
        "published; fix the extract at its source or amend the contract, then run again"
    )
    assert prefect_state(check.flow_run_id).message == (
        "drift on invoices rejected by bob: due dates needed"
    )
    assert main(["pending"]) == 0
