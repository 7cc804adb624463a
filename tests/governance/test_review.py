"""The review of a held drift, as a pure function: a decision in, what to record out."""

from __future__ import annotations

from pathlib import Path

from barecount.governance.decision import DecisionInput
from barecount.governance.review import auto_review, review
from barecount.governance.signing import approval_message, generate_key, load_private_key, sign
from barecount.manifest.team import Team
from barecount.status import HoldStatus


def team(tmp_path: Path, *, signed: bool) -> Team:
    public = generate_key(tmp_path, "alice")
    return Team.model_validate(
        {
            "apiVersion": "barecount/v1",
            "kind": "Team",
            "metadata": {"name": "fin"},
            "spec": {
                "approvers": [{"name": "alice", "public_key": public}]
                + ([] if signed else [{"name": "bob"}]),
                "require_signed_approvals": signed,
            }
            | ({} if signed else {"unsigned_approvals_reason": "a sandbox team"}),
        }
    )


def judge(fin: Team, *, breaking: bool = False, **answer):
    return review(
        DecisionInput(**{"decision": "approve", "approver": "alice", **answer}),
        team=fin,
        flow_run_id="run-1",
        contract="invoices",
        fingerprint="sha256:f",
        version_in_force="1.4.2",
        breaking=breaking,
    )


def test_approval_of_breaking_drift_registers_the_next_major(tmp_path: Path) -> None:
    verdict = judge(team(tmp_path, signed=False), breaking=True, reason="renamed upstream")
    assert verdict.accepted and verdict.approved
    assert (verdict.hold_status, verdict.new_version) == (HoldStatus.APPROVED, "2.0.0")
    assert (verdict.approver, verdict.reason, verdict.signed) == (
        "alice",
        "renamed upstream",
        False,
    )


def test_approval_of_non_breaking_drift_registers_the_next_minor(tmp_path: Path) -> None:
    assert judge(team(tmp_path, signed=False)).new_version == "1.5.0"


def test_rejection_closes_the_hold_and_registers_nothing(tmp_path: Path) -> None:
    verdict = judge(team(tmp_path, signed=False), decision="reject", reason="not agreed")
    assert verdict.accepted and not verdict.approved
    assert (verdict.hold_status, verdict.new_version) == (HoldStatus.REJECTED, None)


def test_refused_decisions_change_nothing_and_say_why(tmp_path: Path) -> None:
    fin = team(tmp_path, signed=False)
    verdict = judge(fin, approver="mallory")
    assert not verdict.accepted
    assert (verdict.hold_status, verdict.new_version) == (None, None)
    assert verdict.verdict == "'mallory' is not an approver of team 'fin' (approvers: alice, bob)"
    assert judge(fin, decision="reject").verdict == "a rejection needs a reason"


def test_signed_teams_need_a_signature_over_this_run_and_schema(tmp_path: Path) -> None:
    fin = team(tmp_path, signed=True)
    key = load_private_key(tmp_path, "alice")
    good = sign(
        key,
        approval_message(
            flow_run_id="run-1", contract="invoices", fingerprint="sha256:f", decision="approve"
        ),
    )
    assert judge(fin, signature=good).approved
    assert judge(fin, signature=good).signed
    assert not judge(fin).accepted
    assert judge(fin, decision="reject", reason="no", signature=good).verdict.startswith(
        "the signature does not verify"
    )


def test_auto_approval_holds_nothing_and_bumps_the_minor() -> None:
    verdict = auto_review(version_in_force="3.1.0", breaking=False)
    assert verdict.accepted and verdict.approver == "auto"
    assert (verdict.hold_status, verdict.new_version, verdict.signed) == (None, "3.2.0", False)


def good_signature(tmp_path: Path, decision: str = "approve") -> str:
    return sign(
        load_private_key(tmp_path, "alice"),
        approval_message(
            flow_run_id="run-1", contract="invoices", fingerprint="sha256:f", decision=decision
        ),
    )


def test_a_garbage_signature_is_refused_and_recorded_unsigned_with_why(tmp_path: Path) -> None:
    # the audit's attack: anyone who reaches the Prefect API sends the form as "alice"
    verdict = judge(team(tmp_path, signed=True), signature="garbage", reason="trust me")
    assert (verdict.accepted, verdict.signed, verdict.hold_status) == (False, False, None)
    assert verdict.verdict.startswith(
        "the signature does not verify for 'alice' (with the public key team 'fin' lists for "
        "them, over this run, contract, schema fingerprint and decision)"
    )


def test_a_refused_decision_is_signed_only_when_its_signature_verifies(tmp_path: Path) -> None:
    fin = team(tmp_path, signed=True)
    unreasoned = judge(fin, decision="reject", signature=good_signature(tmp_path, "reject"))
    assert (unreasoned.accepted, unreasoned.verdict, unreasoned.signed) == (
        False,
        "a rejection needs a reason",
        True,
    )
    forged = judge(fin, decision="reject", signature="Z2FyYmFnZQ==")
    assert (forged.accepted, forged.verdict, forged.signed) == (
        False,
        "a rejection needs a reason",
        False,
    )


def test_a_team_without_signatures_records_an_unverifiable_one_as_unsigned(
    tmp_path: Path,
) -> None:
    fin = team(tmp_path, signed=False)
    garbage = judge(fin, signature="garbage", reason="ok")
    assert (garbage.accepted, garbage.approved, garbage.signed) == (True, True, False)
    assert garbage.verdict.startswith(
        "accepted as unsigned: the signature does not verify for 'alice'"
    )
    keyless = judge(fin, approver="bob", signature=good_signature(tmp_path))
    assert (keyless.accepted, keyless.signed, keyless.verdict) == (
        True,
        False,
        "accepted as unsigned: the signature cannot be verified: 'bob' has no public_key on "
        "team 'fin'",
    )
    plain = judge(fin)
    assert (plain.accepted, plain.signed, plain.verdict) == (True, False, "accepted")
    verified = judge(fin, signature=good_signature(tmp_path))
    assert (verified.accepted, verified.signed, verified.verdict) == (True, True, "accepted")
