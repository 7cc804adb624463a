"""Hash formats: which fields of a row its hash covers, and how they are encoded.

Every ledger row records the format it was hashed with (``hash_format``). A format is frozen
once released: a later column goes into a new format, so adding a column never changes the
hash of a row written before it. The formats are also written into the ledger itself (table
``ledger_hash_format``), so another tool can recompute every hash from the database alone.

Canonical encoding (docs/ledger-format.md says the same for other implementers)::

    sha256( json({"table": <table name>, "row": {<field>: <value>, ...}}) )

- ``row`` holds exactly the format's fields for that table, every one, ``null`` when empty;
- JSON with keys sorted at every level, separators ``,`` and ``:``, ASCII only (``\\uXXXX``
  escapes), as Python's ``json.dumps(..., sort_keys=True, separators=(",", ":"))`` writes it;
- datetimes in UTC without an offset, ``YYYY-MM-DDTHH:MM:SS.ffffff`` (always 6 digits);
- floats as the shortest text that reads back to the same double (``12.5``, ``3.0``);
  integers and booleans as JSON numbers and ``true``/``false``;
- JSON columns as the JSON value itself (not its text), encoded by the same rules;
- the result written ``sha256:`` + 64 lowercase hex digits.

Reading the values back: SQLite returns datetimes as text ``YYYY-MM-DD HH:MM:SS.ffffff``
(UTC, no offset), booleans as 0/1 and JSON columns as their text (parse it); PostgreSQL
returns ``timestamptz`` (convert to UTC). The kinds in ``ledger_hash_format`` say which is
which. Chaining: rows of one ``lane`` in ``seq`` order 1, 2, ...; each ``prev_hash`` is the
hash of the row before it, ``sha256:`` + 64 zeros for ``seq`` 1; ``ledger_head`` holds each
lane's last ``seq`` and hash.

Format 1 is the ledger before migrations (one global chain: ``id`` was the position).
Format 2 adds ``lane``, ``seq`` and ``hash_format``: the row's chain (lane) and position.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from barecount.ledger.hashformat_v1 import FORMAT_1

_CHAIN_FIELDS = (("hash_format", "int"), ("lane", "int"), ("seq", "int"))
FORMAT_2 = {table: tuple(sorted(fields + _CHAIN_FIELDS)) for table, fields in FORMAT_1.items()}
FORMATS: dict[int, dict[str, tuple[tuple[str, str], ...]]] = {1: FORMAT_1, 2: FORMAT_2}
CURRENT = 2  # the format new rows are written with


def canonical(value: Any) -> Any:
    """A column value as the encoding above writes it (before ``json.dumps``)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def digest(table: str, content: dict[str, Any]) -> str:
    """The hash of a row's canonical content (field -> value, already canonical)."""
    payload = json.dumps(
        {"table": table, "row": content}, sort_keys=True, separators=(",", ":"), default=str
    )
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


def fields_of(table: str, hash_format: int) -> tuple[tuple[str, str], ...]:
    """The (field, kind) pairs a row of ``table`` in ``hash_format`` is hashed over.

    Raises:
        KeyError: a format or table this release does not know (a newer ledger's row).
    """
    return FORMATS[hash_format][table]


def row_hash(row: Any) -> str:
    """The hash of a ledger row (a model instance), by the format it records."""
    table = type(row).__tablename__
    hash_format = getattr(row, "hash_format", None) or CURRENT
    content = {name: canonical(getattr(row, name)) for name, _ in fields_of(table, hash_format)}
    return digest(table, content)


def values_hash(table: str, values: Mapping[str, Any]) -> str:
    """The hash of a row read as column -> value (a Core result row's mapping)."""
    fields = fields_of(table, values["hash_format"] or CURRENT)
    return digest(table, {name: canonical(values[name]) for name, _ in fields})
