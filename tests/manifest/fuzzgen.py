"""Seeded generator of hostile manifest folders, for tests/manifest/test_fuzz.py and bench/fuzz.py.

Each :class:`Case` is the shipped manifests (``manifests/``) with one mutation applied (a few
for the ``combo`` kind), and knows what it did: the file and line it touched, and whether
``barecount validate`` must reject the result (``invalid`` True), must accept it (False), or
may do either (None, for blind edits such as deleting a random line). ``where`` lists the
'file:line' places at least one reported problem must name.

The generator is deterministic by seed: ``fuzzmutate.generate(seed, n)`` yields the same
cases on every machine (case i depends only on seed and i, and on the shipped manifests), so
a failure is replayed alone with ``bench/fuzz.py --seed S --only INDEX``. It lives here, in
tests/manifest/, and bench/fuzz.py puts this folder on sys.path: the test is what must keep
passing, the benchmark only runs more cases of the same generator.

Modules: this one holds the base index (every value of the shipped files with its line and
field type), the text edits and the hostile strings; fuzzmutate.py the structural mutations
and ``generate``; fuzzbytes.py the byte- and file-level ones (encodings, garbage, links,
pipes, documents); fuzzrun.py runs cases under the time and memory limits and counts.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

SHIPPED = Path(__file__).resolve().parents[2] / "manifests"
KIND_OF = {"pipelines": "Pipeline", "teams": "Team", "contracts": "DataContract"}


@dataclass
class Case:
    index: int
    kind: str  # the mutation's name
    files: dict[str, bytes]  # relative path -> content
    links: dict[str, str] = field(default_factory=dict)  # relative path -> symlink target
    fifos: list[str] = field(default_factory=list)
    invalid: bool | None = None
    where: set[tuple[str, int]] = field(default_factory=set)
    note: str = ""

    def describe(self) -> str:
        places = ", ".join(f"{f}:{line}" for f, line in sorted(self.where)) or "-"
        return f"#{self.index} {self.kind} invalid={self.invalid} at {places}: {self.note[:160]}"


@dataclass(frozen=True)
class Slot:
    """A value of a shipped file: a mapping entry (``key`` set) or a sequence item."""

    rel: str
    path: tuple
    line: int  # 1-based: the key's line, or the item's
    key: Node | None
    value: Node
    parent: Node
    type: str  # see FIELD_TYPES

    @property
    def dotted(self) -> str:
        return pattern_of(self.path)


# Field types by kind and path ('*' for any index or key). Unlisted paths are 'free'.
# name: a manifest or stage name (pattern); ref: must name something that exists;
# cname: the contract's name, which pipelines refer to; text: any string;
# enum / const / kind / tz / cron / clock / run / kpi / key: checked strings;
# int:LO:HI / num:LO:HI: strict numbers with bounds; bool; map / list: containers.
FIELD_TYPES: dict[str, dict[str, str]] = {
    "Pipeline": {
        "apiVersion": "const",
        "kind": "kind",
        "metadata": "map",
        "metadata.name": "name",
        "metadata.owner": "ref",
        "metadata.description": "text",
        "spec": "map",
        "spec.partition": "map",
        "spec.partition.calendar": "enum",
        "spec.partition.timezone": "tz",
        "spec.partition.offset": "int:-366:366",
        "spec.schedule": "map",
        "spec.schedule.cron": "cron",
        "spec.schedule.timezone": "tz",
        "spec.schedule.window": "map",
        "spec.schedule.window.start": "clock",
        "spec.schedule.window.end": "clock",
        "spec.schedule.window.late": "enum",
        "spec.triggers": "list",
        "spec.triggers[*]": "map",
        "spec.triggers[*].on": "enum",
        "spec.triggers[*].source": "text",
        "spec.triggers[*].contract": "ref",
        "spec.triggers[*].pipeline": "ref",
        "spec.retries": "map",
        "spec.retries.max": "int:0:50",
        "spec.retries.backoff": "enum",
        "spec.retries.base_seconds": "num:0:",
        "spec.retries.max_seconds": "num:0:",
        "spec.retries.jitter": "num:0:1",
        "spec.alerts": "map",
        "spec.alerts.team": "ref",
        "spec.alerts.after_failed_runs": "int:1:",
        "spec.alerts.escalate_after": "int:1:",
        "spec.stages": "list",
        "spec.stages[*]": "map",
        "spec.stages[*].name": "name",
        "spec.stages[*].kind": "enum",
        "spec.stages[*].run": "run",
        "spec.stages[*].contract": "ref",
        "spec.stages[*].needs": "list",
        "spec.stages[*].needs[*]": "ref",
        "spec.stages[*].publishes": "list",
        "spec.stages[*].publishes[*]": "kpi",
        "spec.stages[*].params": "map",
    },
    "Team": {
        "apiVersion": "const",
        "kind": "kind",
        "metadata": "map",
        "metadata.name": "name",
        "metadata.description": "text",
        "spec": "map",
        "spec.approvers": "list",
        "spec.approvers[*]": "map",
        "spec.approvers[*].name": "name",
        "spec.approvers[*].public_key": "key",  # 'ed25519:<base64>'
        "spec.require_signed_approvals": "bool",
        "spec.alerts": "list",
        "spec.escalation": "list",
    },
    "DataContract": {
        "apiVersion": "enum",
        "kind": "kind",
        "id": "text",
        "name": "cname",
        "version": "text",
        "status": "text",
        "domain": "text",
        "description": "map",
        "description.*": "text",
        "schema": "list",
        "schema[*]": "map",
        "schema[*].name": "text",
        "schema[*].physicalName": "text",
        "schema[*].physicalType": "text",
        "schema[*].description": "text",
        "schema[*].properties": "list",
        "schema[*].properties[*]": "map",
        "schema[*].properties[*].name": "text",
        "schema[*].properties[*].logicalType": "enum",
        "schema[*].properties[*].physicalType": "text",
        "schema[*].properties[*].required": "bool",
        "schema[*].properties[*].description": "text",
        "schema[*].properties[*].examples": "list",
        "customProperties": "list",
        "customProperties[*]": "map",
        "customProperties[*].property": "text",
        "customProperties[*].value": "ref",
    },
}
# Mappings that accept any key (the rest reject unknown keys).
OPEN_MAPPINGS = {"spec.stages[*].params", "description", "metadata.labels"}
# Keys that must be present: deleting one is an error at the parent's line.
REQUIRED = {
    "Pipeline": {
        "apiVersion",
        "kind",
        "metadata",
        "spec",
        "metadata.name",
        "spec.stages",
        "spec.stages[*].name",
        "spec.stages[*].kind",
        "spec.stages[*].run",
        "spec.triggers[*].on",
        "spec.triggers[*].source",
        "spec.triggers[*].contract",
        "spec.triggers[*].pipeline",
        "spec.schedule.cron",
        "spec.schedule.window.start",
        "spec.schedule.window.end",
    },
    "Team": {"apiVersion", "kind", "metadata", "metadata.name", "spec.approvers[*].name"},
    "DataContract": {
        "apiVersion",
        "kind",
        "id",
        "name",
        "version",
        "schema",
        "schema[*].properties[*].name",
        "customProperties[*].property",
        "customProperties[*].value",
        # not in the ODCS text, but the 3.2 JSON Schema's if/then rules on logicalType all
        # apply when it is absent (asking for 'map' among others): in effect required
        "schema[*].properties[*].logicalType",
    },
}
# Keys whose deletion leaves a valid manifest.
OPTIONAL = {
    "Pipeline": {
        "metadata.description",
        "spec.partition",
        "spec.schedule",
        "spec.triggers",
        "spec.retries",
        "spec.partition.calendar",
        "spec.partition.timezone",
        "spec.partition.offset",
        "spec.schedule.timezone",
        "spec.schedule.window",
        "spec.schedule.window.late",
        "spec.retries.max",
        "spec.retries.backoff",
        "spec.retries.jitter",
        "spec.alerts.after_failed_runs",
        "spec.alerts.escalate_after",
        "spec.stages[*].params",
    },
    "Team": {
        "metadata.description",
        "spec",
        "spec.approvers",
        "spec.require_signed_approvals",
        "spec.alerts",
        "spec.escalation",
    },
    "DataContract": {
        "status",
        "domain",
        "description",
        "description.*",
        "schema[*].physicalName",
        "schema[*].physicalType",
        "schema[*].description",
        "schema[*].properties[*].physicalType",
        "schema[*].properties[*].required",
        "schema[*].properties[*].description",
        "schema[*].properties[*].examples",
        "customProperties",
    },
}


def pattern_of(path: tuple) -> str:
    out = ""
    for part in path:
        out += "[*]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def field_type(kind: str, path: tuple) -> str:
    table = FIELD_TYPES[kind]
    dotted = pattern_of(path)
    if dotted in table:
        return table[dotted]
    parent = pattern_of(path[:-1])
    if f"{parent}.*" in table and isinstance(path[-1], str):
        return table[f"{parent}.*"]
    return "free"


def listed(table: dict[str, set[str]], kind: str, path: tuple) -> bool:
    dotted = pattern_of(path)
    return dotted in table[kind] or f"{pattern_of(path[:-1])}.*" in table[kind]


# ---- the shipped files, indexed -------------------------------------------------------


@dataclass
class Base:
    texts: dict[str, str]
    slots: list[Slot]
    mappings: list[tuple[str, tuple, MappingNode]]  # (rel, path, node) of every mapping

    def slots_of(self, rel: str) -> list[Slot]:
        return [s for s in self.slots if s.rel == rel]


def load_base(folder: Path = SHIPPED) -> Base:
    texts = {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*.yaml"))
    }
    slots: list[Slot] = []
    mappings: list[tuple[str, tuple, MappingNode]] = []
    for rel, text in texts.items():
        kind = KIND_OF[rel.split("/")[0]]
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        _index(rel, kind, root, (), slots, mappings)
    return Base(texts, slots, mappings)


def _index(rel, kind, node, path, slots, mappings) -> None:
    if isinstance(node, MappingNode):
        mappings.append((rel, path, node))
        for key, value in node.value:
            child = (*path, key.value)
            slots.append(
                Slot(rel, child, key.start_mark.line + 1, key, value, node, field_type(kind, child))
            )
            _index(rel, kind, value, child, slots, mappings)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            child = (*path, i)
            slots.append(
                Slot(
                    rel, child, item.start_mark.line + 1, None, item, node, field_type(kind, child)
                )
            )
            _index(rel, kind, item, child, slots, mappings)


# ---- text edits -------------------------------------------------------------------------


def line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def block_end(text: str, node: Node) -> int:
    """Index just past the last line a block node occupies."""
    mark = node.end_mark
    if mark.column == 0 or mark.index >= len(text):
        return mark.index
    if isinstance(node, ScalarNode):  # ends mid-line: the rest of that line is its own
        end = text.find("\n", mark.index)
        return len(text) if end < 0 else end + 1
    return line_start(text, mark.index)


def multiline(node: Node) -> bool:
    return node.end_mark.line > node.start_mark.line or (
        isinstance(node, MappingNode | SequenceNode) and not node.flow_style
    )


def replace_value(text: str, slot: Slot, new: str) -> str:
    """``text`` with the slot's value written as ``new`` (flow style, one line)."""
    value = slot.value
    if not multiline(value):
        return text[: value.start_mark.index] + new + text[value.end_mark.index :]
    end = block_end(text, value)
    if slot.key is None:  # a block item: '- <value>'
        return text[: value.start_mark.index] + new + "\n" + text[end:]
    colon = text.index(":", slot.key.end_mark.index)
    return text[: colon + 1] + " " + new + "\n" + text[end:]


def insert_entry(text: str, mapping: MappingNode, entry: str) -> tuple[str, int]:
    """``text`` with ``entry`` ('key: value', one line) added last to ``mapping``; its line."""
    if mapping.flow_style:
        at = text.rindex("}", 0, mapping.end_mark.index)
        sep = ", " if mapping.value else ""
        return text[:at] + sep + entry + text[at:], text.count("\n", 0, at) + 1
    if not text.endswith("\n"):
        text += "\n"
    at = block_end(text, mapping)
    indent = mapping.value[0][0].start_mark.column if mapping.value else 0
    return text[:at] + " " * indent + entry + "\n" + text[at:], text.count("\n", 0, at) + 1


def delete_entry(text: str, slot: Slot) -> str | None:
    """``text`` without the slot's key and value; None when that cannot be done cleanly."""
    parent, key = slot.parent, slot.key
    if key is None:
        return None
    entries = [k for k, _ in parent.value]
    i = next(n for n, k in enumerate(entries) if k is key)
    if parent.flow_style:
        if i + 1 < len(entries):
            return text[: key.start_mark.index] + text[entries[i + 1].start_mark.index :]
        if i == 0:
            return text[: key.start_mark.index] + text[slot.value.end_mark.index :]
        prev_end = parent.value[i - 1][1].end_mark.index
        return text[:prev_end] + text[slot.value.end_mark.index :]
    start = line_start(text, key.start_mark.index)
    if text[start : key.start_mark.index].strip():  # first key after '- ' on an item line
        if i + 1 >= len(entries):
            return None
        return text[: key.start_mark.index] + text[entries[i + 1].start_mark.index :]
    if multiline(slot.value):
        end = block_end(text, slot.value)
    else:
        end = text.find("\n", slot.value.end_mark.index) + 1 or len(text)
    return text[:start] + text[end:]


def node_at(text: str, path: tuple, doc: int = 0) -> Node:
    """The node at ``path`` of document ``doc`` of ``text``."""
    node = list(yaml.compose_all(text, Loader=yaml.SafeLoader))[doc]
    for part in path:
        if isinstance(node, MappingNode):
            node = next(v for k, v in node.value if k.value == str(part))
        else:
            node = node.value[part]
    return node


def line_in(text: str, path: tuple, doc: int = 0) -> int:
    """The line the loader reports for ``path`` in ``text``: a key's line, an item's line,
    or the deepest existing parent's (the rule of Document.line_of)."""
    node = list(yaml.compose_all(text, Loader=yaml.SafeLoader))[doc]
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


# ---- strings --------------------------------------------------------------------------

UNICODE = [
    "fïnance",
    "ЗАКАЗЫ",
    "发票",
    "請求書",
    "🧾📈",
    "e\u0301t\u0301e\u0301",
    "a\u200bb",
    "\u202eevil",
    "a\u00a0b",
    "\ufeffbom",
    "\U0001f600" * 3,
    "ÅÄÖ-åäö",
    "עברית",
    "العربية",
    "\ufffd",
    "\U00010348",
    "Zalgo\u0336\u0337\u0338",
    "x\u2066y\u2069",
    "\u00df\u1e9e",
    "ǅ",
]
ASCII_NASTY = [
    "",
    " ",
    "UPPER",
    "1starts-with-digit",
    "has space",
    "trailing-",
    "a" * 64,
    "-lead",
    "under_score",
    "dot.ted",
    "semi;colon",
    "quote'd",
    'dq"x',
    "back\\slash",
    "[/bold]",
    "[red]x[/red]",
    "%s%n",
    "{{template}}",
    "${ENV}",
    "../../etc/passwd",
    "NUL\u0000in",
    "tab\there",
    "new\nline",
    "C:\\path",
    "*",
    "&",
    "!tag",
    "|",
    ">",
    "#hash",
    "@at",
    "`tick`",
]


def random_text(rng: random.Random) -> str:
    """A string that matches neither name pattern (NAME_PATTERN, KPI_PATTERN)."""
    pick = rng.random()
    if pick < 0.35:
        text = rng.choice(UNICODE)
    elif pick < 0.7:
        text = rng.choice(ASCII_NASTY)
    else:
        text = "".join(chr(rng.randint(0x20, 0x7E)) for _ in range(rng.randint(1, 30)))
    # neither a name ('finance-kpi') nor a KPI name ('revenue_daily') may come out
    return text + "!" if re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", text) else text


def quoted(text: str) -> str:
    """A YAML double-quoted scalar holding ``text`` exactly (no raw line breaks)."""
    out = json.dumps(text, ensure_ascii=False)
    for char in "\x85\u2028\u2029":  # line breaks to YAML: keep them escaped
        out = out.replace(char, f"\\u{ord(char):04x}")
    return out
