"""Which contract versions are in force: the manifests' versions and those approved since."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from barecount.errors import BareCountError
from barecount.governance.contracts import contract_schema
from barecount.ledger.chain import lock_chain
from barecount.ledger.governance_store import (
    contract_versions,
    find_version,
    register_contract_version,
)
from barecount.ledger.models import ContractVersion
from barecount.manifest import ManifestSet


class UnknownContractVersionError(BareCountError, LookupError):
    """A pinned contract version that the ledger does not hold."""


def sync_manifest_contract(*, session: Session, manifests: ManifestSet, name: str) -> None:
    """Register the manifest's version of a contract the first time it is seen."""
    odcs = manifests.contract(name)
    schema = contract_schema(odcs)
    lock_chain(session)
    known = {(v.version, v.fingerprint) for v in contract_versions(session=session, contract=name)}
    if (str(odcs.version), schema.fingerprint) not in known:
        register_contract_version(
            session=session,
            contract=name,
            version=str(odcs.version),
            fingerprint=schema.fingerprint,
            object_name=schema.object,
            columns=[c.model_dump() for c in schema.columns],
            source="manifest",
            document=odcs.model_dump(mode="json", by_alias=True, exclude_none=True),
        )


def versions_in_force(
    *,
    session: Session,
    manifests: ManifestSet,
    contracts: Iterable[str],
    pins: dict[str, str] | None = None,
) -> dict[str, ContractVersion]:
    """Contract -> version in force: the latest registered one, or the pinned one."""
    pins = pins or {}
    result: dict[str, ContractVersion] = {}
    for name in sorted(set(contracts)):
        sync_manifest_contract(session=session, manifests=manifests, name=name)
        if name in pins:
            pinned = find_version(session=session, contract=name, version=pins[name])
            if pinned is None:
                known = ", ".join(
                    v.version for v in contract_versions(session=session, contract=name)
                )
                raise UnknownContractVersionError(
                    f"contract {name!r} has no version {pins[name]!r} in the ledger "
                    f"(known: {known})"
                )
            result[name] = pinned
        else:
            result[name] = contract_versions(session=session, contract=name)[-1]
    return result
