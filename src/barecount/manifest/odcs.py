"""Data contracts checked against the ODCS JSON Schema before BareCount reads them.

The ``open-data-contract-standard`` package ships the standard's JSON Schema next to its
pydantic models; the models alone accept what the standard rejects (unknown keys such as
``REQUIRED``, logical types outside the list, properties without a name). Each error comes
back as 'file:line: path: what is wrong; how to fix'.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
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


UNKNOWN_LISTED = 20  # unknown keys of one mapping named one by one
_PLACEHOLDER = {"logicalType": "string"}  # the smallest valid SchemaItemProperty


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
    found: dict[tuple[int, str], None] = {}
    for path, error in _schema_errors(doc.data):
        for at, text in _describe(error, path):
            line = doc.line_of(at)
            found.setdefault((line, f"{doc.file}:{line}: {render_path(at)}: {text}"), None)
    return [message for _, message in sorted(found)]


def _schema_errors(data: Any) -> Iterator[tuple[tuple, Any]]:
    """(absolute path, error) for ``data`` against the ODCS schema, in linear time.

    jsonschema checks 'unevaluatedProperties' by validating the instance again against each
    'allOf' branch, subtree included, so each level of nested property definitions triples
    the work (a 1 KB contract nested 8 deep took 16 s). Here every property definition is
    validated once, on its own, with the definitions nested in it cut out and queued: what
    the schema says about a node does not depend on its nested definitions, which it only
    hands to the same $defs.
    """
    from jsonschema.exceptions import best_match

    validator = _validator()
    work: list[tuple[Any, tuple, str]] = [(data, (), "")]
    while work:
        instance, at, kind = work.pop()
        shallow, children, cut = _split(instance, kind)
        check = validator.evolve(schema=validator.schema["$defs"][kind]) if kind else validator
        for error in check.iter_errors(shallow):
            if error.context:
                error = best_match([error])
            path = tuple(error.absolute_path)
            if not any(path[: len(c)] == c for c in cut):  # inside a placeholder
                yield (*at, *path), error
        work.extend((child, (*at, *where), child_kind) for child, where, child_kind in children)


def _split(instance: Any, kind: str) -> tuple[Any, list[tuple[Any, tuple, str]], list[tuple]]:
    """``instance`` with nested property definitions replaced by placeholders; the nested
    definitions (value, path, $def); the placeholders' paths. Only what the schema would
    descend into is cut: 'properties' of objects, 'items' of arrays, 'map' keys and values
    (and all three when logicalType is absent, as the schema's if/then rules then apply).
    A placeholder is valid where it stands, so the node's own verdict is unchanged."""
    if not isinstance(instance, dict):
        return instance, [], []
    copy, children, cut = dict(instance), [], []
    if not kind:  # the contract: its schema objects' properties
        objects = instance.get("schema")
        if isinstance(objects, list):
            copy["schema"] = [dict(o) if isinstance(o, dict) else o for o in objects]
            for i, obj in enumerate(copy["schema"]):
                if isinstance(obj, dict) and isinstance(obj.get("properties"), list):
                    children += _cut_list(obj, ("schema", i))
        return copy, children, cut
    logical = instance.get("logicalType")
    if isinstance(copy.get("properties"), list) and (
        kind == "SchemaItemProperty" or logical in (None, "object")
    ):
        children += _cut_list(copy, ())
    if isinstance(copy.get("items"), dict) and logical in (None, "array"):
        children.append((copy["items"], ("items",), "SchemaItemProperty"))
        copy["items"], cut = dict(_PLACEHOLDER), [*cut, ("items",)]
    if isinstance(copy.get("map"), dict) and logical in (None, "map"):
        copy["map"] = dict(copy["map"])
        for side in ("key", "value"):
            if isinstance(copy["map"].get(side), dict):
                children.append((copy["map"][side], ("map", side), "SchemaItemProperty"))
                copy["map"][side], cut = dict(_PLACEHOLDER), [*cut, ("map", side)]
    return copy, children, cut


def _cut_list(owner: dict, at: tuple) -> list[tuple[Any, tuple, str]]:
    """Empty ``owner['properties']`` (the schema puts no bound on its length); its items."""
    items, owner["properties"] = owner["properties"], []
    return [(item, (*at, "properties", j), "SchemaProperty") for j, item in enumerate(items)]


def _describe(error: Any, path: tuple) -> list[tuple[tuple, str]]:
    """(path, text) for one schema error; unknown keys point at themselves."""
    kind, instance = error.validator, error.instance
    if kind in ("unevaluatedProperties", "additionalProperties") and isinstance(instance, dict):
        allowed = sorted(_declared(error.schema, _validator().schema))
        declared = set(allowed)
        unknown = [k for k in instance if not isinstance(k, str) or k not in declared]
        if not unknown:  # declared, but not for this logicalType: few keys, scan the message
            unknown = [k for k in instance if repr(k) in error.message] or list(instance)[:1]
        listing = f"; allowed: {', '.join(allowed)}" if allowed else ""
        found = [
            ((*path, key), _unknown_text(key, instance, declared, allowed, listing))
            for key in unknown[:UNKNOWN_LISTED]
        ]
        if len(unknown) > UNKNOWN_LISTED:
            more = len(unknown) - UNKNOWN_LISTED
            found.append((path, f"{more} more unknown field(s) not listed; remove them"))
        return found
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


def _unknown_text(key: Any, instance: dict, declared: set, allowed: list, listing: str) -> str:
    if isinstance(key, str) and key in declared:  # e.g. 'items' on a string property
        logical = instance.get("logicalType")
        return (
            f"field {key!r} is not allowed with logicalType {shown(logical)}; remove it or "
            "change logicalType"
        )
    return f"unknown field {shown(key)}{did_you_mean(str(key), allowed)}{listing}"


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
