"""The contract gate's decision, as a pure function of contract, extract and policy."""

from __future__ import annotations

from dataclasses import dataclass

from barecount.governance.drift import SchemaDiff, diff_schema
from barecount.governance.schema import ExtractedSchema
from barecount.status import GateOutcome


@dataclass(frozen=True)
class GateDecision:
    outcome: GateOutcome
    diff: SchemaDiff

    @property
    def message(self) -> str:
        if self.outcome == GateOutcome.PASS:
            return f"{self.diff.contract}@{self.diff.contract_version}: extract matches"
        if self.outcome == GateOutcome.AUTO_APPROVED:
            return (
                f"{self.diff.contract}@{self.diff.contract_version}: non-breaking drift "
                f"auto-approved ({self.diff.summary()})"
            )
        return (
            f"{self.diff.contract}@{self.diff.contract_version}: drift held for governance "
            f"({self.diff.summary()})"
        )


def evaluate_contract(
    contract: ExtractedSchema,
    extracted: ExtractedSchema,
    *,
    name: str,
    version: str,
    auto_approve: str = "none",
) -> GateDecision:
    """pass when the extract matches; auto-approved for allowed non-breaking drift; else hold."""
    diff = diff_schema(contract, extracted, name=name, version=version)
    if not diff.drifted:
        return GateDecision(GateOutcome.PASS, diff)
    if auto_approve == "non-breaking" and not diff.breaking:
        return GateDecision(GateOutcome.AUTO_APPROVED, diff)
    return GateDecision(GateOutcome.HOLD, diff)
