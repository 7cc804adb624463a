"""ODCS contracts as schemas BareCount can compare, and how approved versions are numbered."""

from __future__ import annotations

import re
from typing import Any

from open_data_contract_standard.model import OpenDataContractStandard

from barecount.errors import ContractError
from barecount.governance.schema import ExtractedSchema, SchemaColumn


def contract_schema(contract: OpenDataContractStandard) -> ExtractedSchema:
    """The contract's first schema object as columns (logical types, required).

    Contracts from the manifests passed the ODCS JSON Schema (barecount.manifest.odcs); one
    built another way may still lack a property name, which no column can do without.
    """
    obj = (contract.schema_ or [None])[0]
    if obj is None:
        raise ContractError(
            f"contract {contract.name!r} declares no schema objects; add one under 'schema:'"
        )
    columns = []
    for i, prop in enumerate(obj.properties or (), start=1):
        if not prop.name:
            raise ContractError(
                f"contract {contract.name!r}: property {i} of schema object {obj.name!r} has "
                "no name; give every property a 'name' (the ODCS schema requires one)"
            )
        columns.append(
            SchemaColumn(
                name=prop.name,
                logical_type=prop.logicalType or "string",
                required=bool(prop.required),
            )
        )
    return ExtractedSchema(object=obj.name or contract.name or "object", columns=tuple(columns))


def setting(contract: OpenDataContractStandard, key: str, default: Any = None) -> Any:
    """A BareCount setting from the contract's customProperties ('barecount.<key>')."""
    for prop in contract.customProperties or ():
        if prop.property == f"barecount.{key}":
            return prop.value
    return default


def next_version(version: str, *, breaking: bool) -> str:
    """The version an approved drift gets: major bump when breaking, minor otherwise."""
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(.*)", version)
    if not match:
        return f"{version}+approved"
    major, minor = int(match[1]), int(match[2])
    return f"{major + 1}.0.0" if breaking else f"{major}.{minor + 1}.0"


def document_with_schema(
    contract: OpenDataContractStandard, schema: ExtractedSchema, version: str
) -> dict[str, Any]:
    """The ODCS document of an approved version: the old one with the new schema."""
    doc = contract.model_dump(mode="json", by_alias=True, exclude_none=True)
    doc["version"] = version
    obj = (doc.get("schema") or [{}])[0]
    obj["name"] = schema.object
    obj["properties"] = [
        {"name": c.name, "logicalType": c.logical_type, "required": c.required}
        for c in schema.columns
    ]
    doc["schema"] = [obj, *doc.get("schema", [])[1:]]
    return doc
