"""Ledger and user text prints as text, never as Rich markup (issue 13, item 5).

A real stage fails with an error holding a closing tag that matches nothing ('[/x]', which
made Rich raise MarkupError), a link tag and an emoji code; a real extract drifts with a
column of that name. The real CLI, in a subprocess against the session's Prefect server,
must print each of them literally in every command that shows them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bc_testkit import spawn_cli, write_pipeline

SUPPORT = Path(__file__).resolve().parents[1] / "support"
LINK = "[link=https://evil.example]click[/link]"
HOSTILE = f"bad [/x] and {LINK} :smile: [bold]b[/bold]"
DAILY_UTC = {"calendar": "daily", "timezone": "UTC"}


@pytest.fixture
def hostile(home: Path, manifests: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Manifests with a pipeline whose stage fails with HOSTILE, and one whose extract adds
    a column named with markup."""
    monkeypatch.setenv("PYTHONPATH", str(SUPPORT))  # the subprocesses import bc_test_stages
    monkeypatch.setenv("COLUMNS", "400")  # wide tables: each cell stays on one line
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    stage = {"kind": "transform", "run": "bc_test_stages:fail_with", "params": {"message": HOSTILE}}
    write_pipeline(manifests, "hostile", [{"name": "boom", **stage}], partition=DAILY_UTC)
    ingest = {
        "name": "ingest",
        "kind": "ingestion",
        "contract": "items",
        "run": "bc_test_stages:drift_with",
        "params": {"column": f"po[/x]{LINK}"},
    }
    write_pipeline(manifests, "drifty", [ingest], partition=DAILY_UTC)
    return manifests


def barecount(*args: str) -> tuple[int, str, str]:
    process = spawn_cli(*args)
    out, err = process.communicate(timeout=240)
    return process.returncode, out, err


def printed_plainly(result: tuple[int, str, str], text: str, code: int = 0) -> str:
    returncode, out, err = result
    assert "MarkupError" not in out + err, err
    assert "Traceback" not in out + err, err
    assert returncode == code, (out, err)
    assert text in out + err, out + err
    return out


@pytest.mark.usefixtures("prefect_api")
def test_a_stage_error_with_markup_prints_as_text_in_run_ledger_show_and_backfills(
    hostile: Path,
) -> None:
    returncode, out, err = barecount("run", "hostile", "-p", "2026-03-01", "-m", str(hostile))
    assert returncode == 1, out + err
    assert "MarkupError" not in out + err
    # the run's one error line (Prefect's own log of the failed flow run comes before it)
    [line] = [line for line in err.splitlines() if line.startswith("error: ")]
    assert line.startswith(  # then the next step (tests/cli/test_failure_output.py)
        f"error: pipeline hostile partition 2026-03-01 failed at boom (attempt 1): {HOSTILE}; "
    )

    [run] = json.loads(barecount("runs", "--json")[1])
    shown = printed_plainly(barecount("ledger", "show", "--token", run["token"]), HOSTILE)
    assert f"TerminalError: {HOSTILE}" in shown  # the attempts table's error cell
    assert f"failed at boom (attempt 1): {HOSTILE}" in shown  # how the run ended
    printed_plainly(barecount("runs"), run["token"])
    printed_plainly(barecount("status", "-m", str(hostile)), "failure 2026-03-01 (failed)")

    backfill = barecount(
        "backfill", "hostile", "--start", "2026-03-02", "--end", "2026-03-02", "-m", str(hostile)
    )
    printed_plainly(backfill, "2026-03-02 (failed)", code=1)
    [record] = json.loads(barecount("backfills", "--json")[1])
    printed_plainly(barecount("backfills"), "failed 1")
    detail = printed_plainly(barecount("backfill", "show", str(record["id"])), HOSTILE)
    assert f"failed at boom (attempt 1): {HOSTILE}" in detail


@pytest.mark.usefixtures("prefect_api")
def test_a_link_in_ledger_text_is_no_link_on_a_colour_terminal(
    hostile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert barecount("run", "hostile", "-p", "2026-03-03", "-m", str(hostile))[0] == 1
    [run] = json.loads(barecount("runs", "--json")[1])
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich writes styles and OSC 8 links now
    shown = printed_plainly(barecount("ledger", "show", "--token", run["token"]), LINK)
    assert "\x1b]8;" not in shown  # no hyperlink escape
    assert "\x1b[" in shown  # while our own styling is still there
    assert "😄" not in shown and ":smile:" in shown


@pytest.mark.usefixtures("prefect_api")
def test_a_drifted_column_with_markup_prints_as_text_in_pending(hostile: Path) -> None:
    held = barecount(
        "backfill", "drifty", "--start", "2026-03-04", "--end", "2026-03-04", "-m", str(hostile)
    )
    printed_plainly(held, "2026-03-04 (held)", code=1)
    shown = printed_plainly(barecount("pending"), f"non-breaking: po[/x]{LINK} added")
    assert "drifty" in shown and "orphaned" in shown
