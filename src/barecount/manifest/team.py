"""Pydantic model of the Team manifest (apiVersion barecount/v1): approvers and channels."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from barecount.manifest.channels import MAX_CHANNELS, Channel
from barecount.manifest.fields import Bool, Name, Number
from barecount.manifest.models import Metadata, Strict


class Approver(Strict):
    name: Name = Field(description="Approver's user name, as given to --as.")
    public_key: str | None = Field(
        default=None,
        pattern=r"^ed25519:[A-Za-z0-9+/=]{40,64}$",
        description="Ed25519 public key, 'ed25519:<base64 of the 32 raw bytes>'.",
    )


class TeamSpec(Strict):
    approvers: tuple[Approver, ...] = Field(default=(), description="Who may approve drift.")
    # declared before require_signed_approvals, whose validator reads it
    unsigned_approvals_reason: str | None = Field(
        default=None,
        max_length=500,
        description="Why this team accepts unsigned decisions; required with "
        "'require_signed_approvals: false'.",
    )
    require_signed_approvals: Bool = Field(
        default=True,
        validate_default=True,
        description="Decisions count only with an Ed25519 signature that verifies with the "
        "approver's public_key (the default); opting out needs unsigned_approvals_reason.",
    )
    alerts: tuple[Channel, ...] = Field(
        default=(), max_length=MAX_CHANNELS, description="Channels alerted on failure."
    )
    escalation: tuple[Channel, ...] = Field(
        default=(), max_length=MAX_CHANNELS, description="Channels alerted on escalation."
    )
    hold_alert_hours: Number = Field(
        default=24, gt=0, description="Alert when a governance hold is older than this."
    )

    @field_validator("require_signed_approvals")
    @classmethod
    def _opting_out_needs_a_reason(cls, signed: bool, info: ValidationInfo) -> bool:
        if "unsigned_approvals_reason" not in info.data:
            return signed  # the reason itself is invalid, and reported as such
        reason = (info.data["unsigned_approvals_reason"] or "").strip()
        if not signed and not reason:
            raise ValueError(
                "false needs a reason: without signatures anyone who can reach the Prefect API "
                "can decide as any approver; add 'unsigned_approvals_reason: <why>', or keep "
                "signatures on and give each approver the public_key 'barecount keys generate "
                "NAME' prints"
            )
        if signed and reason:
            raise ValueError(
                "unsigned_approvals_reason is set but decisions must be signed (true is the "
                "default); remove unsigned_approvals_reason, or add "
                "'require_signed_approvals: false'"
            )
        return signed

    @model_validator(mode="after")
    def _signed_needs_keys(self) -> TeamSpec:
        if self.require_signed_approvals:
            missing = [a.name for a in self.approvers if not a.public_key]
            if missing:
                raise ValueError(
                    f"approver(s) {', '.join(missing)} have no public_key, and decisions must be "
                    "signed (require_signed_approvals is true by default); run 'barecount keys "
                    "generate NAME' and paste the printed line, or opt out with "
                    "'require_signed_approvals: false' and 'unsigned_approvals_reason: <why>'"
                )
        return self


class Team(Strict):
    """A team manifest: approvers and alert channels."""

    apiVersion: Literal["barecount/v1"] = Field(description="Always barecount/v1.")
    kind: Literal["Team"] = Field(description="Always Team.")
    metadata: Metadata = Field(description="Team name.")
    spec: TeamSpec = Field(default_factory=TeamSpec, description="Approvers and alert channels.")

    @property
    def name(self) -> str:
        return self.metadata.name
