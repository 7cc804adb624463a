"""Issue 16 item 5: 'pending' shows what to paste (short token, full flow run id) at any
terminal width, and approve/reject/sign take a unique prefix of a hold id, token or flow run
id."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from bc_testkit import pending_hold_for, spawn_cli

from barecount.ledger import get_ledger

pytestmark = pytest.mark.usefixtures("home")


def cli(*args: str, columns: int = 80) -> tuple[int, str, str]:
    """`barecount ARGS...` in a subprocess on a terminal ``columns`` wide."""
    os.environ["COLUMNS"] = str(columns)
    try:
        process = spawn_cli(*args)
    finally:
        del os.environ["COLUMNS"]
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def run_id(prefix: str) -> str:
    """A flow run id (no such run on the server: its hold is orphaned) starting ``prefix``."""
    return str(uuid.UUID(prefix + uuid.uuid4().hex[len(prefix) :]))


def test_pending_at_80_columns_shows_the_short_token_and_the_whole_flow_run_id() -> None:
    first = pending_hold_for(run_id("abcd0001"), partition="2026-11-22")
    second = pending_hold_for(run_id("abcd0002"), partition="2026-11-23")
    code, out, err = cli("pending", columns=80)
    assert code == 0, err
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines if "drift:" not in line), out
    for check in (first, second):
        short = check.token[:11]  # 'rt-hold-202': the same for both, so they get longer
        assert short == "rt-hold-202"
        assert f"  flow run  {check.flow_run_id}" in lines
        assert f"hold {check.id}  token {check.token}  orphaned" in lines  # unique only whole
        assert f"  finance-kpi {check.partition}, contract invoices@1.0.0" in lines
    assert "  drift: renamed customer_id" in lines

    code, wide, err = cli("pending", columns=200)
    assert code == 0, err
    assert "flow run" in wide.splitlines()[1]  # a table now: one header row
    for check in (first, second):
        [row] = [line for line in wide.splitlines() if check.flow_run_id in line]
        assert check.token in row and check.partition in row and "orphaned" in row

    code, out, err = cli("pending", "--json")
    assert code == 0, err
    assert {(r["hold"], r["token"], r["flow_run_id"]) for r in json.loads(out)} == {
        (c.id, c.token, c.flow_run_id) for c in (first, second)
    }


def test_a_long_token_is_shortened_where_it_stays_unique() -> None:
    from barecount.cli.pending import short_tokens

    tokens = ["rt-0123456789abcdef", "rt-0123456799abcdef", "rt-ffff"]
    assert short_tokens(tokens) == ["rt-012345678", "rt-012345679", "rt-ffff"]
    assert short_tokens(["rt-" + "a" * 32, "rt-" + "b" * 32]) == ["rt-aaaaaaaa", "rt-bbbbbbbb"]


def test_approve_reject_and_sign_take_a_unique_prefix_and_refuse_an_ambiguous_one(
    manifests: Path,
) -> None:
    first = pending_hold_for(run_id("abcd0001"), partition="2026-11-22")
    second = pending_hold_for(run_id("abcd0002"), partition="2026-11-23")
    code, _, err = cli("keys", "demo", "--force")
    assert code == 0, err

    code, out, err = cli("sign", "abcd", "--as", "alice", "--decision", "approve")
    assert code == 2, out
    assert err.replace("\n", "") == (
        f"error: 'abcd' matches 2 held runs: hold {first.id} (token {first.token}, flow run "
        f"{first.flow_run_id}); hold {second.id} (token {second.token}, flow run "
        f"{second.flow_run_id}); give more of it"
    )
    code, out, err = cli("reject", "rt-hold-2026-11-2", "--as", "bob", "--reason", "no")
    assert code == 2, out
    assert "'rt-hold-2026-11-2' matches 2 held runs" in err
    assert get_ledger().decisions_for(check_id=first.id) == []  # nothing was sent

    code, out, err = cli("sign", "abcd0002", "--as", "alice", "--decision", "approve")
    assert code == 0, err
    assert f"(hold {second.id}), flow run {second.flow_run_id}" in out.replace("\n", " ")

    code, out, err = cli(
        "reject", first.token, "--as", "bob", "--reason", "no", "-m", str(manifests)
    )
    assert code == 0, err
    assert f"orphaned hold of finance-kpi {first.partition}" in out.replace("\n", " ")
    code, out, err = cli(
        "reject", second.flow_run_id[:6], "--as", "bob", "--reason", "no", "-m", str(manifests)
    )  # only one hold is left under 'abcd00'
    assert code == 0, err
    assert f"orphaned hold of finance-kpi {second.partition}" in out.replace("\n", " ")
    assert [d.approver for d in get_ledger().decisions_for(check_id=second.id)] == ["bob"]
    code, out, err = cli("pending")
    assert "nothing waits for governance" in out
