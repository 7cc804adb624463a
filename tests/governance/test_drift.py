"""Drift diff and classification, authorisation and signatures: pure functions."""

from __future__ import annotations

from pathlib import Path

from barecount.governance.contracts import next_version
from barecount.governance.decision import DecisionInput, authorize
from barecount.governance.drift import diff_schema
from barecount.governance.gate import evaluate_contract
from barecount.governance.schema import ExtractedSchema, SchemaColumn
from barecount.governance.signing import (
    approval_message,
    generate_key,
    load_private_key,
    sign,
    verify_signature,
)
from barecount.manifest.team import Team


def schema(*columns: tuple[str, str, bool]) -> ExtractedSchema:
    return ExtractedSchema(
        object="t",
        columns=tuple(SchemaColumn(name=n, logical_type=t, required=r) for n, t, r in columns),
    )


CONTRACT = schema(("id", "string", True), ("amount", "number", True), ("note", "string", False))


def kinds(extracted: ExtractedSchema) -> list[tuple[str, str, bool]]:
    diff = diff_schema(CONTRACT, extracted, name="t", version="1.0.0")
    return [(c.kind, c.column, c.breaking) for c in diff.changes]


def test_matching_extract_has_no_drift_even_reordered() -> None:
    extracted = schema(
        ("amount", "number", True), ("id", "string", True), ("note", "string", False)
    )
    diff = diff_schema(CONTRACT, extracted, name="t", version="1.0.0")
    assert not diff.drifted and diff.summary() == "no drift"
    assert extracted.fingerprint == CONTRACT.fingerprint


def test_breaking_changes() -> None:
    assert kinds(schema(("id", "string", True), ("note", "string", False))) == [
        ("removed", "amount", True)
    ]
    assert kinds(
        schema(("key", "string", True), ("amount", "number", True), ("note", "string", False))
    ) == [("renamed", "id", True)]
    assert kinds(
        schema(("id", "string", True), ("amount", "string", True), ("note", "string", False))
    ) == [("type-changed", "amount", True)]
    assert kinds(
        schema(("id", "string", False), ("amount", "number", True), ("note", "string", False))
    ) == [("now-nullable", "id", True)]


def test_non_breaking_changes() -> None:
    extracted = schema(
        ("id", "string", True),
        ("amount", "number", True),
        ("note", "string", True),
        ("po", "string", False),
    )
    assert kinds(extracted) == [("now-required", "note", False), ("added", "po", False)]
    diff = diff_schema(CONTRACT, extracted, name="t", version="1.0.0")
    assert diff.classification == "non-breaking"
    assert diff.summary() == "non-breaking: note now required; po added"


def test_gate_outcomes() -> None:
    added = schema(
        ("id", "string", True),
        ("amount", "number", True),
        ("note", "string", False),
        ("po", "string", False),
    )
    dropped = schema(("id", "string", True), ("note", "string", False))
    assert evaluate_contract(CONTRACT, CONTRACT, name="t", version="1").outcome == "pass"
    assert evaluate_contract(CONTRACT, added, name="t", version="1").outcome == "hold"
    assert (
        evaluate_contract(
            CONTRACT, added, name="t", version="1", auto_approve="non-breaking"
        ).outcome
        == "auto-approved"
    )
    assert (
        evaluate_contract(
            CONTRACT, dropped, name="t", version="1", auto_approve="non-breaking"
        ).outcome
        == "hold"
    )


def test_versions_of_approved_drift() -> None:
    assert next_version("1.4.2", breaking=True) == "2.0.0"
    assert next_version("1.4.2", breaking=False) == "1.5.0"
    assert next_version("v7", breaking=True) == "v7+approved"


def team(public_key: str, signed: bool = True) -> Team:
    return Team.model_validate(
        {
            "apiVersion": "barecount/v1",
            "kind": "Team",
            "metadata": {"name": "fin"},
            "spec": {
                "approvers": [{"name": "alice", "public_key": public_key}],
                "require_signed_approvals": signed,
            },
        }
    )


def test_authorisation_and_signatures(tmp_path: Path) -> None:
    public = generate_key(tmp_path, "alice")
    key = load_private_key(tmp_path, "alice")
    assert (tmp_path / "keys" / "alice.key").stat().st_mode & 0o777 == 0o600
    fin = team(public)

    def decide(**fields) -> str:
        decision = DecisionInput(**{"decision": "approve", "approver": "alice", **fields})
        verdict = authorize(
            decision, team=fin, flow_run_id="run-1", contract="c", fingerprint="sha256:f"
        )
        return verdict.reason

    good = sign(
        key,
        approval_message(
            flow_run_id="run-1", contract="c", fingerprint="sha256:f", decision="approve"
        ),
    )
    other_run = sign(
        key,
        approval_message(
            flow_run_id="run-2", contract="c", fingerprint="sha256:f", decision="approve"
        ),
    )
    assert decide(signature=good) == "accepted"
    assert decide(approver="mallory", signature=good) == (
        "'mallory' is not an approver of team 'fin' (approvers: alice)"
    )
    assert decide() == (
        "team 'fin' requires signed decisions and this one carries no signature; use "
        "'barecount approve' or 'barecount reject', which sign, or paste what 'barecount sign' "
        "prints into the form"
    )
    assert decide(signature=other_run).startswith("the signature does not verify")
    assert decide(decision="reject", signature=good).startswith("a rejection needs a reason")
    assert not verify_signature(public, b"tampered", good)
