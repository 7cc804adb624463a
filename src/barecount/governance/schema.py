"""Extracted schemas: what an ingestion stage actually found, fingerprinted."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict, Field

LOGICAL_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp", "object", "array")


class SchemaColumn(BaseModel):
    """One column of an extract, in ODCS logical types."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Column name as extracted.")
    logical_type: str = Field(description=f"ODCS logical type: one of {', '.join(LOGICAL_TYPES)}.")
    required: bool = Field(default=False, description="True when the column never holds nulls.")


class ExtractedSchema(BaseModel):
    """The schema of one extract: ordered columns of one object (table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    object: str = Field(description="Name of the schema object (table) in the contract.")
    columns: tuple[SchemaColumn, ...] = Field(description="Columns in extract order.")

    @property
    def fingerprint(self) -> str:
        """sha256 over the canonical JSON of the columns; order-insensitive."""
        canonical = sorted((c.name, c.logical_type, c.required) for c in self.columns)
        payload = json.dumps({"object": self.object, "columns": canonical}, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()

    def column(self, name: str) -> SchemaColumn | None:
        return next((c for c in self.columns if c.name == name), None)
