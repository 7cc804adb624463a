"""Which contract versions are in force: the manifests' versions and those approved since.

Pure: the ledger hands in the versions it holds and records what this module says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from open_data_contract_standard.model import OpenDataContractStandard

from barecount.errors import UnknownContractVersionError
from barecount.governance.contracts import contract_schema


class VersionLike(Protocol):
    version: str
    fingerprint: str


V = TypeVar("V", bound=VersionLike)


@dataclass(frozen=True)
class NewVersion:
    """A contract version to register: from the manifests, or approved from a drift."""

    contract: str
    version: str
    fingerprint: str
    object_name: str
    columns: list[dict[str, Any]]
    source: str  # manifest | approval | auto-approval
    approved_by: str | None = None
    token: str | None = None
    document: dict[str, Any] = field(default_factory=dict)


def manifest_version(name: str, odcs: OpenDataContractStandard) -> NewVersion:
    """The version a contract manifest declares, as the ledger would register it."""
    schema = contract_schema(odcs)
    return NewVersion(
        contract=name,
        version=str(odcs.version),
        fingerprint=schema.fingerprint,
        object_name=schema.object,
        columns=[c.model_dump() for c in schema.columns],
        source="manifest",
        document=odcs.model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def is_new(candidate: NewVersion, known: Sequence[VersionLike]) -> bool:
    """Whether the ledger has not registered this version with this schema yet."""
    return (candidate.version, candidate.fingerprint) not in {
        (v.version, v.fingerprint) for v in known
    }


def pick_in_force(name: str, known: Sequence[V], pin: str | None) -> V:
    """The version in force: the pinned one, else the latest registered (oldest first).

    Raises:
        UnknownContractVersionError: the pin names a version the ledger does not hold.
    """
    if pin is None:
        return known[-1]
    matching = [v for v in known if v.version == pin]
    if not matching:
        listed = ", ".join(v.version for v in known) or "none"
        raise UnknownContractVersionError(
            f"contract {name!r} has no version {pin!r} in the ledger (known: {listed})"
        )
    return matching[-1]
