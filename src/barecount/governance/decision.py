"""Governance decisions: what a reviewer answers, and whether it counts (no Prefect here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from barecount.governance.signing import approval_message, verify_signature
from barecount.manifest.team import Approver, Team


class DecisionInput(BaseModel):
    """A reviewer's answer to a hold. The Prefect resume form (runtime.hold) has these fields."""

    decision: Literal["approve", "reject"] = Field(
        description="approve: the drifted schema becomes the new contract version; "
        "reject: the run fails and nothing downstream runs."
    )
    approver: str = Field(description="Your approver name on the owning team.")
    reason: str = Field(default="", description="Why; kept in the Evidence Ledger.")
    signature: str = Field(
        default="",
        description="Ed25519 signature (base64) by your key of this run, contract, schema and "
        "decision; 'barecount approve' fills it in, and for this form 'barecount sign RUN --as "
        "NAME --decision approve' prints it. A decision without one that verifies is "
        "refused (recorded as unsigned where the team opted out of signatures).",
    )


@dataclass(frozen=True)
class Verdict:
    """Whether a decision is accepted, and if not, why (recorded either way)."""

    accepted: bool
    reason: str  # "accepted", "accepted as unsigned: <why>", or why it does not count
    signed: bool = False  # the signature verified against the approver's public key
    public_key: str | None = None  # the key it verified with, when signed


def authorize(
    decision: DecisionInput,
    *,
    team: Team | None,
    flow_run_id: str,
    contract: str,
    fingerprint: str,
) -> Verdict:
    """Accept a decision only from an approver on the owning team, signed where required.

    A decision counts as signed only when its signature verifies against the approver's
    public key on the team; on a team that opted out of signatures, one that does not
    verify is accepted as unsigned and says why.
    """
    if team is None:
        return Verdict(False, f"contract {contract!r} has no owning team to approve it")
    approver = next((a for a in team.spec.approvers if a.name == decision.approver), None)
    if approver is None:
        names = ", ".join(a.name for a in team.spec.approvers) or "none"
        return Verdict(
            False,
            f"{decision.approver!r} is not an approver of team {team.name!r} (approvers: {names})",
        )
    message = approval_message(
        flow_run_id=flow_run_id,
        contract=contract,
        fingerprint=fingerprint,
        decision=decision.decision,
    )
    unsigned = _why_unsigned(decision, approver, team, message)
    signed = unsigned is None
    if decision.decision == "reject" and not decision.reason.strip():
        return Verdict(False, "a rejection needs a reason", signed)
    if unsigned is None:
        return Verdict(True, "accepted", True, approver.public_key)
    if team.spec.require_signed_approvals:
        return Verdict(False, unsigned)
    if decision.signature:  # opted out: it counts, but is never recorded as signed
        return Verdict(True, f"accepted as unsigned: {unsigned}")
    return Verdict(True, "accepted")


def _why_unsigned(
    decision: DecisionInput, approver: Approver, team: Team, message: bytes
) -> str | None:
    """None when the decision's signature verifies with the approver's key; else why not."""
    if not decision.signature:
        return (
            f"team {team.name!r} requires signed decisions and this one carries no "
            "signature; use 'barecount approve' or 'barecount reject', which sign, or paste "
            "what 'barecount sign' prints into the form"
        )
    if not approver.public_key:
        return (
            f"the signature cannot be verified: {approver.name!r} has no public_key on team "
            f"{team.name!r}"
        )
    if not verify_signature(approver.public_key, message, decision.signature):
        return (
            f"the signature does not verify for {approver.name!r} (with the public key team "
            f"{team.name!r} lists for them, over this run, contract, schema fingerprint and "
            "decision)"
        )
    return None
