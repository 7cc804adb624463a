"""Data contracts checked against the ODCS JSON Schema before BareCount reads them.

The ``open-data-contract-standard`` package ships the standard's JSON Schema next to its
pydantic models; the models alone accept what the standard rejects (unknown keys such as
``REQUIRED``, logical types outside the list, properties without a name). Each error comes
back as 'file:line: path: what is wrong; how to fix'.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from barecount.manifest.errors import render_path
from barecount.manifest.limits import shown
from barecount.manifest.suggest import did_you_mean
from barecount.manifest.yamlsource import Document

_TYPES = {
    "string": "a string",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


@functools.cache
def _validator() -> Any:
    import jsonschema  # a dependency of Prefect's; imported only when a contract is read

    text = (
        resources.files("open_data_contract_standard")
        .joinpath("schema.json")
        .read_text(encoding="utf-8")
    )
    schema = json.loads(text)
    return jsonschema.validators.validator_for(schema)(schema)


def contract_problems(doc: Document) -> list[str]:
    """Every way ``doc`` breaks the ODCS JSON Schema, one message each, in line order."""
    from jsonschema.exceptions import best_match

    found: dict[tuple[int, str], None] = {}
    for error in _validator().iter_errors(doc.data):
        if error.context:
            error = best_match([error])
        path = tuple(error.absolute_path)
        for at, text in _describe(error, path):
            line = doc.line_of(at)
            found.setdefault((line, f"{doc.file}:{line}: {render_path(at)}: {text}"), None)
    return [message for _, message in sorted(found)]


def _describe(error: Any, path: tuple) -> list[tuple[tuple, str]]:
    """(path, text) for one schema error; unknown keys point at themselves."""
    kind, instance = error.validator, error.instance
    if kind in ("unevaluatedProperties", "additionalProperties") and isinstance(instance, dict):
        allowed = sorted(_declared(error.schema, _validator().schema))
        unknown = [k for k in instance if repr(k) in error.message and k not in allowed]
        listing = f"; allowed: {', '.join(allowed)}" if allowed else ""
        return [
            ((*path, key), f"unknown field {shown(key)}{did_you_mean(str(key), allowed)}{listing}")
            for key in unknown or list(instance)[:1]
        ]
    if kind == "required" and isinstance(instance, dict):
        missing = [k for k in error.validator_value if k not in instance]
        if "then" in error.relative_schema_path and "logicalType" not in instance:
            # ODCS 3.2's if/then rules on logicalType all hold when it is absent, so the
            # schema asks for the options of every type: what is missing is logicalType
            return [(path, "missing 'logicalType'; add one, e.g. logicalType: string")]
        return [(path, _missing_text(error.schema, k)) for k in missing[:1]]
    if kind == "type":
        return [(path, _type_text(instance, error.validator_value))]
    if kind in ("enum", "const"):
        choices = error.validator_value if kind == "enum" else [error.validator_value]
        words = [str(c) for c in choices]
        hint = did_you_mean(str(instance), words) if isinstance(instance, str) else ""
        return [(path, f"got {shown(instance)}{hint}; use one of {', '.join(words)}")]
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return [(path, f"{message}; see the Open Data Contract Standard for this field")]


def _missing_text(schema: Any, key: str) -> str:
    field = schema.get("properties", {}).get(key, {}) if isinstance(schema, dict) else {}
    about = field.get("description") if isinstance(field, dict) else None
    about = f" ({about.rstrip('.')})" if isinstance(about, str) and len(about) < 120 else ""
    return f"missing required field {key!r}{about}; add it"


def _type_text(instance: Any, expected: Any) -> str:
    wanted = [expected] if isinstance(expected, str) else list(expected)
    text = f"got {shown(instance)}; should be {' or '.join(_TYPES.get(w, w) for w in wanted)}"
    if isinstance(instance, str) and {"boolean", "number", "integer"} & set(wanted):
        return f"{text}, not a quoted string; remove the quotes"
    if "string" in wanted and (isinstance(instance, bool | int | float) or instance is None):
        return f"{text}; YAML read it as {type(instance).__name__}, so put it in quotes"
    return text


def _declared(schema: Any, root: dict, seen: frozenset[str] = frozenset()) -> set[str]:
    """Property names a schema (with its $ref, allOf, anyOf, oneOf, if/then/else) declares."""
    if not isinstance(schema, dict):
        return set()
    names = set(schema.get("properties", {}))
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        names |= _declared(target, root, seen | {ref})
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, ()):
            names |= _declared(sub, root, seen)
    for key in ("if", "then", "else"):
        names |= _declared(schema.get(key), root, seen)
    return names
