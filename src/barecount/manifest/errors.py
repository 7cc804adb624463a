"""Turn pydantic validation errors into 'file:line: field: what is wrong; how to fix' lines."""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from barecount.manifest.limits import MAX_PROBLEMS_PER_FILE, shown
from barecount.manifest.models import KPI_PATTERN, NAME_PATTERN, RUN_PATTERN
from barecount.manifest.suggest import did_you_mean
from barecount.manifest.yamlsource import Document, Path_

# pydantic's strict-mode errors for the Bool, Int and Number fields, and what they expect.
STRICT_TYPES = {
    "bool_type": "true or false",
    "int_type": "a whole number",
    "float_type": "a number",
}
# Strings that YAML would have read as that type had they not been quoted.
_QUOTED_SCALAR = {
    "true or false": re.compile(r"(?i)true|false|yes|no|on|off"),
    "a whole number": re.compile(r"[-+]?\d[\d_]*"),
    "a number": re.compile(r"[-+]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?\.(inf|Inf|INF)"),
}

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$@-]{1,60}")

PATTERN_HELP = {
    NAME_PATTERN: "use lower-case letters, digits and dashes, starting with a letter "
    "(e.g. 'finance-kpi')",
    KPI_PATTERN: "use lower-case letters, digits and underscores, starting with a letter "
    "(e.g. 'revenue_daily')",
    RUN_PATTERN: "use 'package.module:function' "
    "(e.g. 'barecount.examples.finance:ingest_invoices')",
}


def render_path(path: Path_) -> str:
    """'spec.stages[0].name'; keys that are not plain words (or are long) as ['quoted']."""
    out = ""
    for item in path:
        if isinstance(item, str) and _PLAIN_KEY.fullmatch(item):
            out += f".{item}" if out else item
        else:
            out += f"[{item}]" if isinstance(item, int) else f"[{shown(item)}]"
    return out or "(document)"


def problems_from_validation(doc: Document, exc: ValidationError, model: type) -> list[str]:
    """One message per pydantic error, pointing at the line of the offending field."""
    problems = []
    errors = exc.errors(include_url=False)
    failing = [e["loc"] for e in errors]
    for err in errors:
        if err["type"] == "too_short" and any(
            loc[: len(err["loc"])] == err["loc"] and loc != err["loc"] for loc in failing
        ):
            continue  # a list whose items failed also reports itself as too short: noise
        path = _data_path(err["loc"], doc.data)
        kind = err["type"]
        if len(problems) >= MAX_PROBLEMS_PER_FILE:  # not shown: counted, so keep them cheap
            problems.append(f"{doc.file}:{doc.line_of(path)}: {render_path(path)}: {kind}")
        elif kind in ("extra_forbidden", "invalid_key"):
            parent, key = path[:-1], path[-1]
            allowed = _fields_at(model, parent, doc.data)
            allowed_text = f"; allowed: {', '.join(allowed)}" if allowed else ""
            if isinstance(key, str):
                named = f"{shown(key)}{did_you_mean(key, allowed)}"
            else:  # 1.5, null, ...: a key YAML did not read as text
                named = (
                    f"{'null' if key is None else shown(key)} (YAML reads it as {_yaml_type(key)})"
                )
            where, text = parent, f"unknown field {named}{allowed_text}"
            line = doc.line_of(path)
        elif kind == "missing":
            parent, key = path[:-1], path[-1]
            description = _description_at(model, parent, doc.data, key)
            where, text = (
                parent,
                f"missing required field {key!r}" + (f" ({description})" if description else ""),
            )
            line = doc.line_of(parent)
        else:
            where, text = path, _plain_message(err)
            line = doc.line_of(path)
        if len(problems) < MAX_PROBLEMS_PER_FILE:
            problems.append(f"{doc.file}:{line}: {render_path(where)}: {text}")
    return problems


def _plain_message(err: dict[str, Any]) -> str:
    msg: str = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    value = err.get("input")
    if err["type"] in STRICT_TYPES:
        return _strict_message(value, STRICT_TYPES[err["type"]])
    if err["type"] == "string_pattern_mismatch":
        rule = PATTERN_HELP.get(err["ctx"]["pattern"], f"it must match {err['ctx']['pattern']}")
        return f"{shown(value)} is not valid: {rule}"
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        tags = (
            err.get("ctx", {}).get("expected_tags")
            or "source-updated, contract-approved, pipeline-published"
        )
        got = err.get("ctx", {}).get("tag")
        head = (
            f"unknown trigger {got!r}" if got else f"trigger has no {err['ctx']['discriminator']}"
        )
        return f"{head}; use one of {tags.replace(chr(39), '')}"
    if msg.startswith("Input should be"):
        msg = "should be" + msg[len("Input should be") :]
        if not isinstance(value, dict | list):
            msg = f"got {shown(value)}; {msg}"
        if err["type"] == "string_type" and isinstance(value, bool | int | float):
            msg += f"; YAML read it as {type(value).__name__}, so put it in quotes"
    return msg


def _strict_message(value: Any, wanted: str) -> str:
    """Booleans and numbers must be written as such: say how, for the usual mistakes."""
    if isinstance(value, dict | list):
        return f"should be {wanted}, not a {'mapping' if isinstance(value, dict) else 'list'}"
    if isinstance(value, str):
        unquoted = _QUOTED_SCALAR.get(wanted)
        if unquoted is not None and unquoted.fullmatch(value.strip()):
            return f"got {shown(value)}, a quoted string; should be {wanted}; remove the quotes"
        return f"got {shown(value)}; should be {wanted}"
    if isinstance(value, bool):
        return f"got {str(value).lower()}; should be {wanted}, not true or false"
    return f"got {shown(value)}; should be {wanted}"


def _data_path(loc: tuple[Any, ...], data: Any) -> Path_:
    """pydantic's loc minus the union tags it inserts, so it indexes the YAML data."""
    path: list[str | int] = []
    node = data
    for i, item in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict):
            item = _original_key(node, item)
            if item in node:
                node = node[item]
            elif not last:
                continue  # a union tag or validator name, not a key of the data
            path.append(item)
        elif isinstance(node, list) and isinstance(item, int) and item < len(node):
            node = node[item]
            path.append(item)
        elif not last and isinstance(item, str):
            continue
        else:
            path.append(item)
    return tuple(path)


def _original_key(node: dict, item: Any) -> Any:
    """pydantic names a key that is not a string (1.5, null) by its str(): find the key."""
    if item in node or not isinstance(item, str):
        return item
    return next((k for k in node if not isinstance(k, str) and str(k) == item), item)


def _yaml_type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _model_at(model: Any, path: Path_, data: Any) -> Any:
    node = data
    for item in path:
        model = _unwrap(model, node)
        if isinstance(model, type) and issubclass(model, BaseModel) and isinstance(item, str):
            field = model.model_fields.get(item)
            if field is None:
                return None
            model = field.annotation
        elif isinstance(item, int):
            args = typing.get_args(model)
            model = args[0] if args else None
        else:
            return None
        node = (
            node.get(item)
            if isinstance(node, dict)
            else (node[item] if isinstance(node, list) and isinstance(item, int) else None)
        )
    return _unwrap(model, node)


def _unwrap(model: Any, node: Any) -> Any:
    """Pick the model arm of Optional/Annotated/discriminated unions that fits ``node``."""
    while typing.get_origin(model) is typing.Annotated:
        model = typing.get_args(model)[0]
    if typing.get_origin(model) in (typing.Union, types.UnionType):
        arms = [
            a for a in typing.get_args(model) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if isinstance(node, dict) and len(arms) > 1:
            for arm in arms:
                for name, field in arm.model_fields.items():
                    if (
                        typing.get_origin(field.annotation) is typing.Literal
                        and node.get(name) in typing.get_args(field.annotation)
                        and name not in ("apiVersion", "kind")
                    ):
                        return arm
        return arms[0] if len(arms) == 1 else model
    return model


def _fields_at(model: type, path: Path_, data: Any) -> list[str]:
    found = _model_at(model, path, data)
    if isinstance(found, type) and issubclass(found, BaseModel):
        return list(found.model_fields)
    return []


def _description_at(model: type, path: Path_, data: Any, key: Any) -> str | None:
    found = _model_at(model, path, data)
    if isinstance(found, type) and issubclass(found, BaseModel) and key in found.model_fields:
        return found.model_fields[key].description
    return None
