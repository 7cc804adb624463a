"""The review of a held drift: a decision in, what the ledger should record out (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from barecount.governance.contracts import next_version
from barecount.governance.decision import DecisionInput, authorize
from barecount.manifest.team import Team
from barecount.status import HoldStatus

AUTO_APPROVER = "auto"


@dataclass(frozen=True)
class Review:
    """What a decision on a hold leads to; every review is recorded, accepted or not."""

    accepted: bool
    verdict: str  # "accepted" (or "accepted as unsigned: <why>"), or why it does not count
    decision: str  # approve | reject
    approver: str
    reason: str
    signed: bool  # True only when the signature verified with the approver's key
    hold_status: HoldStatus | None = None  # the hold's next status when accepted
    new_version: str | None = None  # an approval: the contract version it registers
    signature: str = ""  # the signature it was accepted with (signed decisions only)
    public_key: str | None = None  # the approver's key the signature verified with

    @property
    def verified_signature(self) -> tuple[str, str] | None:
        """(signature, public key) of a decision accepted as signed, for the ledger."""
        if self.signed and self.signature and self.public_key:
            return self.signature, self.public_key
        return None

    @property
    def approved(self) -> bool:
        return self.accepted and self.hold_status is HoldStatus.APPROVED


def review(
    answer: DecisionInput,
    *,
    team: Team | None,
    flow_run_id: str,
    contract: str,
    fingerprint: str,
    version_in_force: str,
    breaking: bool,
) -> Review:
    """Judge a decision on the drift of ``contract`` held in run ``flow_run_id``."""
    verdict = authorize(
        answer, team=team, flow_run_id=flow_run_id, contract=contract, fingerprint=fingerprint
    )
    base = {
        "decision": answer.decision,
        "approver": answer.approver[:200],
        "reason": answer.reason,
        "signed": verdict.signed,
    }
    if verdict.signed:
        base |= {"signature": answer.signature, "public_key": verdict.public_key}
    if not verdict.accepted:
        return Review(accepted=False, verdict=verdict.reason, **base)
    if answer.decision == "reject":
        return Review(
            accepted=True, verdict=verdict.reason, hold_status=HoldStatus.REJECTED, **base
        )
    return Review(
        accepted=True,
        verdict=verdict.reason,
        hold_status=HoldStatus.APPROVED,
        new_version=next_version(version_in_force, breaking=breaking),
        **base,
    )


def auto_review(*, version_in_force: str, breaking: bool) -> Review:
    """The approval a contract's autoApprove policy gives to non-breaking drift."""
    return Review(
        accepted=True,
        verdict="accepted",
        decision="approve",
        approver=AUTO_APPROVER,
        reason="auto-approve: non-breaking",
        signed=False,
        hold_status=None,  # nothing was held
        new_version=next_version(version_in_force, breaking=breaking),
    )
