"""Schema drift: how an extracted schema differs from the contract, and what breaks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from barecount.governance.schema import ExtractedSchema, SchemaColumn

ChangeKind = Literal["removed", "renamed", "added", "type-changed", "now-nullable", "now-required"]


class Change(BaseModel):
    """One difference between the contract and the extract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ChangeKind
    column: str
    before: str | None = None
    after: str | None = None
    breaking: bool
    reason: str


class SchemaDiff(BaseModel):
    """All differences, breaking first; empty when the extract matches the contract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract: str
    contract_version: str
    changes: tuple[Change, ...] = ()

    @property
    def drifted(self) -> bool:
        return bool(self.changes)

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    @property
    def classification(self) -> str:
        if not self.changes:
            return "none"
        return "breaking" if self.breaking else "non-breaking"

    def summary(self) -> str:
        """One line, e.g. 'breaking: due_date removed; po_number added'."""
        if not self.changes:
            return "no drift"
        parts = [f"{c.column} {c.kind.replace('-', ' ')}" for c in self.changes]
        return f"{self.classification}: " + "; ".join(parts)

    def markdown(self) -> str:
        """A Markdown table for the Prefect UI and the console."""
        lines = [
            f"**Schema drift on contract `{self.contract}` (version {self.contract_version}): "
            f"{self.classification}**",
            "",
            "| change | column | contract | extract | breaking | why |",
            "|---|---|---|---|---|---|",
        ]
        for c in self.changes:
            lines.append(
                f"| {c.kind} | `{c.column}` | {c.before or '-'} | {c.after or '-'} | "
                f"{'yes' if c.breaking else 'no'} | {c.reason} |"
            )
        return "\n".join(lines) + "\n"


def diff_schema(
    contract: ExtractedSchema, extracted: ExtractedSchema, *, name: str, version: str
) -> SchemaDiff:
    """Compare an extract with the contract version in force.

    Breaking: a contract column is missing (removed, or renamed: a new column of the
    same type and nullability appeared), a type changed, a required column has nulls.
    Non-breaking: a new column, a nullable column that is now always filled.
    """
    ours = {c.name: c for c in contract.columns}
    theirs = {c.name: c for c in extracted.columns}
    missing = [c for c in contract.columns if c.name not in theirs]
    added = [c for c in extracted.columns if c.name not in ours]
    changes, added = _removed_or_renamed(missing, added)
    for column, old in ours.items():
        new = theirs.get(column)
        if new is not None:
            changes += _kept_column_changes(old, new)
    changes += [_added(new) for new in added]
    changes.sort(key=lambda c: (not c.breaking, c.column))
    return SchemaDiff(contract=name, contract_version=version, changes=tuple(changes))


def _describe(column: SchemaColumn) -> str:
    return f"{column.logical_type}{', required' if column.required else ''}"


def _removed_or_renamed(
    missing: list[SchemaColumn], added: list[SchemaColumn]
) -> tuple[list[Change], list[SchemaColumn]]:
    """A change for each contract column the extract lacks, and the added columns left over.

    A missing column was renamed when an added column has its type and nullability (the
    first such one, which is then no longer an added column); otherwise it was removed.
    """
    unmatched = list(added)
    changes: list[Change] = []
    for old in missing:
        shape = (old.logical_type, old.required)
        twin = next((a for a in unmatched if (a.logical_type, a.required) == shape), None)
        if twin is not None:
            unmatched.remove(twin)
            changes.append(_renamed(old, twin))
        else:
            changes.append(_removed(old))
    return changes, unmatched


def _renamed(old: SchemaColumn, twin: SchemaColumn) -> Change:
    return Change(
        kind="renamed",
        column=old.name,
        before=old.name,
        after=twin.name,
        breaking=True,
        reason=f"'{old.name}' is gone and '{twin.name}' of the same type appeared; "
        "consumers reading the old name break",
    )


def _removed(old: SchemaColumn) -> Change:
    return Change(
        kind="removed",
        column=old.name,
        before=_describe(old),
        breaking=True,
        reason="consumers of this column break",
    )


def _kept_column_changes(old: SchemaColumn, new: SchemaColumn) -> list[Change]:
    """How a column in both the contract (``old``) and the extract (``new``) changed."""
    changes: list[Change] = []
    if new.logical_type != old.logical_type:
        changes.append(
            Change(
                kind="type-changed",
                column=old.name,
                before=old.logical_type,
                after=new.logical_type,
                breaking=True,
                reason="values no longer have the contracted type",
            )
        )
    if old.required and not new.required:
        changes.append(
            Change(
                kind="now-nullable",
                column=old.name,
                before="required",
                after="has empty values",
                breaking=True,
                reason="a required column now has empty values",
            )
        )
    elif new.required and not old.required:
        changes.append(
            Change(
                kind="now-required",
                column=old.name,
                before="optional",
                after="always filled",
                breaking=False,
                reason="stricter than the contract; nothing breaks",
            )
        )
    return changes


def _added(new: SchemaColumn) -> Change:
    return Change(
        kind="added",
        column=new.name,
        after=_describe(new),
        breaking=False,
        reason="a new column; existing consumers are unaffected",
    )
