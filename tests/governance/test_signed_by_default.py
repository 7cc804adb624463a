"""Issue 13 item 6: signed approvals by default, on a real server through real CLI processes.

The audit resumed a held run through the Prefect API as "alice" with a garbage signature and
it was recorded as signed; the shipped team did not require signatures at all.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from bc_testkit import paused_again, pending_hold_for, spawn_cli, spawn_run, wait_for_pause
from prefect.flow_runs import resume_flow_run

from barecount.examples.finance import write_extract
from barecount.governance.demokeys import DEMO_APPROVERS
from barecount.governance.signing import generate_key, key_path, load_key_file, public_key_line
from barecount.ledger import get_ledger
from barecount.manifest import load_manifests
from barecount.manifest.team import TeamSpec

REPO = Path(__file__).resolve().parents[2]
TEAM = "teams/finance-data.yaml"


def cli(*args: str, timeout: float = 120) -> tuple[int, str, str]:
    """`barecount ARGS...` in a subprocess: exit code, stdout, stderr."""
    process = spawn_cli(*args)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def line_of(path: Path, text: str) -> int:
    return next(i for i, row in enumerate(path.read_text().splitlines(), 1) if text in row)


def test_teams_require_signatures_unless_they_opt_out(manifests: Path) -> None:
    assert TeamSpec().require_signed_approvals is True
    shipped = load_manifests(REPO / "manifests", check_imports=False).team("finance-data")
    assert shipped.spec.require_signed_approvals is True
    assert all(a.public_key for a in shipped.spec.approvers)
    # a team that says nothing about signatures requires them: alice without a key fails
    team = manifests / TEAM
    text = re.sub(r"\{name: alice, public_key: [^}]*\}", "{name: alice}", team.read_text())
    team.write_text(text.replace("  require_signed_approvals: true\n", ""))
    code, _, err = cli("validate", str(manifests))
    assert code == 2
    assert "Traceback" not in err
    assert (
        f"{team}:{line_of(team, 'spec:')}: spec: approver(s) alice have no public_key, and "
        "decisions must be signed (require_signed_approvals is true by default); run "
        "'barecount keys generate NAME' and paste the printed line, or opt out with "
        "'require_signed_approvals: false' and 'unsigned_approvals_reason: <why>'"
    ) in err.replace("\n", "")


def test_opting_out_without_a_reason_fails_validate_at_its_line(manifests: Path) -> None:
    team = manifests / TEAM
    team.write_text(
        team.read_text().replace(
            "require_signed_approvals: true", "require_signed_approvals: false"
        )
    )
    code, out, err = cli("validate", str(manifests))
    assert code == 2, out
    assert "Traceback" not in out + err
    assert (
        f"{team}:{line_of(team, 'require_signed_approvals')}: spec.require_signed_approvals: "
        "false needs a reason: without signatures anyone who can reach the Prefect API can "
        "decide as any approver; add 'unsigned_approvals_reason: <why>'"
    ) in err.replace("\n", "")

    team.write_text(
        team.read_text().replace(
            "  require_signed_approvals: false",
            "  require_signed_approvals: false\n  unsigned_approvals_reason: a sandbox team",
        )
    )
    code, out, err = cli("validate", str(manifests))
    assert code == 0, err
    assert "valid: 2 pipeline(s), 1 team(s)" in out

    team.write_text(team.read_text().replace("approvals: false", "approvals: true"))
    code, _, err = cli("validate", str(manifests))
    assert code == 2
    assert "unsigned_approvals_reason is set but decisions must be signed" in err


def test_validate_warns_that_the_shipped_demo_keys_are_public(manifests: Path) -> None:
    code, out, err = cli("validate", str(manifests))
    assert code == 0, err
    assert "valid: 2 pipeline(s), 1 team(s), 1 contract(s)" in out
    team = manifests / TEAM
    for name in DEMO_APPROVERS:
        assert (
            f"warning: {team}:{line_of(team, f'name: {name},')}: team 'finance-data' approver "
            f"'{name}' uses a published demo key: anyone can sign with it; for real use run "
            f"'barecount keys generate {name}'"
        ) in err.replace("\n", "")


def test_keys_demo_is_idempotent_and_matches_the_shipped_team(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "demo-home"
    monkeypatch.setenv("BARECOUNT_HOME", str(home))
    shipped = load_manifests(REPO / "manifests", check_imports=False).team("finance-data")
    public = {a.name: a.public_key for a in shipped.spec.approvers}
    assert sorted(public) == sorted(DEMO_APPROVERS)

    code, out, err = cli("keys", "demo")
    assert code == 0, err
    for name in DEMO_APPROVERS:
        path = key_path(home, name)
        assert f"written {path}: {name}'s demo key" in out
        assert path.stat().st_mode & 0o777 == 0o600
        assert public_key_line(load_key_file(path).public_key()) == public[name]
    first = {name: key_path(home, name).read_bytes() for name in DEMO_APPROVERS}

    code, out, err = cli("keys", "demo")
    assert code == 0, err
    assert [row.split(" ")[0] for row in out.splitlines()] == ["present", "present"]
    assert {name: key_path(home, name).read_bytes() for name in DEMO_APPROVERS} == first

    real = generate_key(home, "alice", overwrite=True)  # alice made her own key: kept
    code, out, err = cli("keys", "demo")
    assert code == 0, err
    assert f"kept {key_path(home, 'alice')}: it is not alice's demo key" in out
    assert public_key_line(load_key_file(key_path(home, "alice")).public_key()) == real
    code, out, _ = cli("keys", "demo", "--force")
    assert code == 0
    assert key_path(home, "alice").read_bytes() == first["alice"]


@pytest.mark.usefixtures("prefect_api")
def test_a_garbage_signature_sent_as_alice_through_the_prefect_api_is_refused(
    manifests: Path, home: Path
) -> None:
    # the shipped team as is: alice and bob with their demo keys, signatures required
    code, _, err = cli("keys", "demo", "--force")
    assert code == 0, err
    partition = "2026-11-11"
    write_extract(home / "landing", "erp.invoices", partition, 300, drift="rename-column")
    process = spawn_run(manifests, partition)
    check = wait_for_pause(partition, process)

    # the audit's attack: anyone who reaches the Prefect API fills the form as "alice"
    form = {
        "decision": "approve",
        "approver": "alice",
        "reason": "trust me",
        "signature": "garbage",
    }
    resume_flow_run(check.flow_run_id, run_input=form)
    [refused] = paused_again(check, 1, process)
    assert (refused.approver, refused.accepted, refused.signed) == ("alice", False, False)
    assert refused.verdict.startswith(
        "the signature does not verify for 'alice' (with the public key team 'finance-data' "
        "lists for them"
    )
    assert [c.id for c, _ in get_ledger().pending_holds()] == [check.id]  # still held

    code, out, err = cli(
        "approve", check.flow_run_id, "--as", "alice", "--reason", "renamed upstream"
    )
    assert code == 0, err
    assert "sent approve by alice (signed)" in out
    assert "accepted: approve; contract invoices is now version 2.0.0" in out
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "revenue_daily" in stdout
    decisions = get_ledger().decisions_for(check_id=check.id)
    assert [(d.approver, d.accepted, d.signed, d.verdict) for d in decisions] == [
        ("alice", False, False, refused.verdict),
        ("alice", True, True, "accepted"),
    ]


@pytest.mark.usefixtures("prefect_api")
def test_approving_without_a_key_on_a_signed_team_says_how_to_get_one(
    manifests: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = pending_hold_for(str(uuid.uuid4()))  # its run is gone: an orphaned hold
    keyless = tmp_path / "keyless-home"
    monkeypatch.setenv("BARECOUNT_HOME", str(keyless))
    code, out, err = cli("approve", check.token, "--as", "alice", "-m", str(manifests))
    assert code == 1, out
    assert err.strip().splitlines() == [
        f"error: team 'finance-data' requires signed decisions and 'alice' has no private key "
        f"at {keyless}/keys/alice.key; 'barecount keys demo' writes the example team's "
        "published demo keys"
    ]
    assert get_ledger().decisions_for(check_id=check.id) == []  # nothing was sent


@pytest.mark.usefixtures("prefect_api")
def test_a_team_that_opted_out_records_an_unverifiable_signature_as_unsigned(
    manifests: Path, home: Path, tmp_path: Path
) -> None:
    team = manifests / TEAM
    team.write_text(
        team.read_text().replace(
            "  require_signed_approvals: true",
            "  require_signed_approvals: false\n  unsigned_approvals_reason: a sandbox team",
        )
    )
    check = pending_hold_for(str(uuid.uuid4()))  # orphaned: decided by the CLI itself
    generate_key(tmp_path / "elsewhere", "alice")  # a key, but not the one the team lists
    code, out, err = cli(
        "reject",
        check.token,
        "--as",
        "alice",
        "--reason",
        "not this quarter",
        "-m",
        str(manifests),
        "--key",
        str(key_path(tmp_path / "elsewhere", "alice")),
    )
    assert code == 0, err
    assert "sent reject by alice (signed)" in out
    assert "accepted: reject" in out
    assert "accepted as unsigned: the signature does not verify for 'alice'" in out
    [decision] = get_ledger().decisions_for(check_id=check.id)
    assert (decision.accepted, decision.signed) == (True, False)
    assert decision.verdict.startswith(
        "accepted as unsigned: the signature does not verify for 'alice'"
    )
