"""Ledger tables the evidence chain reads besides the run's own: the signature behind a signed
decision, and OpenLineage events that could not be delivered."""

from __future__ import annotations

from sqlmodel import Field

from barecount.governance.signing import key_fingerprint
from barecount.ledger.base import Chained


class DecisionSignature(Chained, table=True):
    """The Ed25519 signature a decision was accepted with, and the public key it verified
    with then, so the evidence chain can verify it again at any time. Its own table (not
    columns of the decision) so ledgers written before it keep their hashes."""

    __tablename__ = "decision_signature"

    decision_id: int = Field(index=True)
    approver: str = Field(max_length=200)
    public_key: str = Field(max_length=200)
    key_fingerprint: str = Field(max_length=80)
    signature: str = Field(max_length=200)


class LineageEmission(Chained, table=True):
    """OpenLineage events of a ledger row (a stage attempt or a gate check) that were not
    delivered: emission never fails a run, it is noted here instead."""

    __tablename__ = "lineage_emission"

    run_id: int = Field(index=True)
    row_id: int  # the stage_attempt or gate_check row the events describe
    events: int  # how many events were not delivered
    transport: str = Field(max_length=200)
    error: str = ""


def signature_row(decision: Chained, signature: str, public_key: str) -> DecisionSignature:
    """The signature row of a decision already appended (it has its id)."""
    return DecisionSignature(
        decision_id=decision.id,
        approver=getattr(decision, "approver", ""),
        public_key=public_key,
        key_fingerprint=key_fingerprint(public_key),
        signature=signature,
    )
