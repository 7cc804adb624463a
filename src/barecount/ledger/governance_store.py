"""Ledger reads and writes for contracts, gate checks, holds and decisions (keyword-only)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from barecount.governance.registry import NewVersion, is_new, manifest_version, pick_in_force
from barecount.ledger.chain import append, lock_key
from barecount.ledger.models import ContractVersion, Decision, GateCheck, HoldEvent
from barecount.status import OPEN_HOLDS


def register_contract_version(*, session: Session, version: NewVersion) -> ContractVersion:
    """Append a contract version (from the manifests, or approved from a drift)."""
    return append(session, ContractVersion(**dataclasses.asdict(version)))


def contract_versions(*, session: Session, contract: str) -> list[ContractVersion]:
    """Every registered version of a contract, oldest first."""
    query = (
        select(ContractVersion)
        .where(ContractVersion.contract == contract)
        .order_by(ContractVersion.id)
    )
    return list(session.execute(query).scalars())


def find_version(*, session: Session, contract: str, version: str) -> ContractVersion | None:
    query = (
        select(ContractVersion)
        .where(ContractVersion.contract == contract, ContractVersion.version == version)
        .order_by(ContractVersion.id.desc())
        .limit(1)
    )
    return session.execute(query).scalar_one_or_none()


def record_check(*, session: Session, check: GateCheck) -> GateCheck:
    return append(session, check)


def record_hold(*, session: Session, check: GateCheck, status: str, detail: str = "") -> HoldEvent:
    return append(
        session,
        HoldEvent(
            check_id=check.id,
            contract=check.contract,
            contract_version=check.contract_version,
            status=status,
            detail=detail,
        ),
    )


def record_decision(*, session: Session, decision: Decision) -> Decision:
    return append(session, decision)


def hold_statuses(
    *, session: Session, contracts: Iterable[str] | None = None
) -> list[tuple[GateCheck, HoldEvent]]:
    """Each hold's check with its latest status event, newest first."""
    latest = select(HoldEvent.check_id, func.max(HoldEvent.id).label("last")).group_by(
        HoldEvent.check_id
    )
    if contracts is not None:
        latest = latest.where(HoldEvent.contract.in_(list(contracts)))
    latest = latest.subquery()
    query = (
        select(GateCheck, HoldEvent)
        .join(latest, latest.c.check_id == GateCheck.id)
        .join(HoldEvent, HoldEvent.id == latest.c.last)
        .order_by(GateCheck.id.desc())
    )
    return [(check, event) for check, event in session.execute(query).all()]


def pending_holds(*, session: Session) -> list[tuple[GateCheck, HoldEvent]]:
    return [(c, e) for c, e in hold_statuses(session=session) if e.status in OPEN_HOLDS]


def decisions_for(*, session: Session, check_id: int) -> list[Decision]:
    query = select(Decision).where(Decision.check_id == check_id).order_by(Decision.id)
    return list(session.execute(query).scalars())


def versions_in_force(
    *,
    session: Session,
    declared: Callable[[str], Any],
    contracts: Iterable[str],
    pins: Mapping[str, str],
) -> dict[str, ContractVersion]:
    """Contract -> version in force: the latest registered one, or the pinned one. The
    declared version of each contract (``declared(name)``: its manifest document) is
    registered the first time it is seen, once, under the contract's own lock."""
    result: dict[str, ContractVersion] = {}
    for name in sorted(set(contracts)):
        version = manifest_version(name, declared(name))
        known = contract_versions(session=session, contract=name)
        if is_new(version, known):  # check again under the contract's lock
            lock_key(session, "contract", name)
            known = contract_versions(session=session, contract=name)
        if is_new(version, known):
            register_contract_version(session=session, version=version)
            known = contract_versions(session=session, contract=name)
        result[name] = pick_in_force(name, known, pins.get(name))
    return result
