"""The mutations of the manifest fuzzer: each takes the shipped files and returns one Case.

A mutation returns None when the slot it drew does not suit it; ``generate`` then draws
again. Every mutation states its expectation (see fuzzgen.Case); the rules come from the
manifest models, the ODCS schema and the reading budgets, not from running the loader.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from fuzzbytes import BYTE_MUTATIONS, make
from fuzzgen import (
    OPEN_MAPPINGS,
    OPTIONAL,
    REQUIRED,
    Base,
    Case,
    Slot,
    delete_entry,
    insert_entry,
    line_in,
    listed,
    load_base,
    node_at,
    pattern_of,
    quoted,
    random_text,
    replace_value,
)
from yaml.nodes import ScalarNode

from barecount.manifest.limits import MAX_CHARS, MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES

GDP = "barecount.examples.finance:build_invoice_gdp"


def _kind(slot: Slot) -> str:
    return {"pipelines": "Pipeline", "teams": "Team", "contracts": "DataContract"}[
        slot.rel.split("/")[0]
    ]


def _refs_to_contract(base: Base) -> set[tuple[str, int]]:
    """Where pipelines name the shipped contract: a renamed contract is reported there."""
    name = next(
        s.value.value for s in base.slots if s.rel.startswith("contracts/") and s.path == ("name",)
    )
    return {
        (s.rel, s.line)
        for s in base.slots
        if s.rel.startswith("pipelines/") and s.path[-1] == "contract" and s.value.value == name
    }


def _string_outcome(base: Base, slot: Slot, text: str) -> tuple[bool | None, set]:
    """Expectation when the slot's value becomes the string ``text`` (file size aside)."""
    here = {(slot.rel, slot.line)}
    if slot.type in ("text", "free"):
        empty_source = text == "" and slot.dotted.endswith(".source")
        return (True, here) if empty_source else (False, set())
    if slot.type == "cname":
        return True, _refs_to_contract(base)
    return True, here


def _with_size(case_files: dict[str, str], rel: str, invalid, where):
    if len(case_files[rel].encode("utf-8")) > MAX_FILE_BYTES:
        return True, {(rel, 1)}
    return invalid, where


def m_wrong_type(rng: random.Random, base: Base, index: int) -> Case | None:
    slot = rng.choice([s for s in base.slots if s.type != "free"])
    if slot.type in ("map", "list"):
        new = rng.choice(["12", '"text"', "true", "[1, 2]" if slot.type == "map" else "{a: 1}"])
    elif slot.type == "bool":
        new = rng.choice(["{a: 1}", "[true]", '"false"', "0", "1", "yes-please"])
    elif slot.type.startswith(("int", "num")):
        new = rng.choice(
            ["{a: 1}", "[1]", "'3'", "true", "abc", "3.5" if "int" in slot.type else "x"]
        )
    else:
        new = rng.choice(["{a: 1}", "[1, 2]", "12", "true", "{}", "[]"])
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, new)
    return make(
        index, "wrong_type", base, texts, True, {(slot.rel, slot.line)}, f"{slot.dotted} = {new}"
    )


def m_bad_string(rng: random.Random, base: Base, index: int) -> Case | None:
    slots = [s for s in base.slots if isinstance(s.value, ScalarNode) and s.type != "free"]
    slot = rng.choice(slots)
    text = random_text(rng)
    if slot.type in ("bool",) or slot.type.startswith(("int", "num")):
        invalid, where = True, {(slot.rel, slot.line)}
    else:
        invalid, where = _string_outcome(base, slot, text)
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, quoted(text))
    return make(index, "bad_string", base, texts, invalid, where, f"{slot.dotted} = {text!r}")


def m_quoted_scalar(rng: random.Random, base: Base, index: int) -> Case | None:
    slots = [s for s in base.slots if s.type == "bool" or s.type.startswith(("int", "num"))]
    slot = rng.choice(slots)
    quote = rng.choice(["'", '"'])
    new = f"{quote}{slot.value.value}{quote}"
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, new)
    return make(
        index, "quoted_scalar", base, texts, True, {(slot.rel, slot.line)}, f"{slot.dotted} = {new}"
    )


def m_out_of_range(rng: random.Random, base: Base, index: int) -> Case | None:
    slots = [s for s in base.slots if s.type.startswith(("int:", "num:"))]
    slot = rng.choice(slots)
    _, low, high = slot.type.split(":")
    options = []
    if low:
        options.append(str(int(low) - rng.choice([1, 2, 1000])))
    if high:
        options.append(str(int(high) + rng.choice([1, 5, 10**6])))
    new = rng.choice(options)
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, new)
    return make(
        index, "out_of_range", base, texts, True, {(slot.rel, slot.line)}, f"{slot.dotted} = {new}"
    )


def _unknown_key(rng: random.Random, keys: list[str]) -> str:
    word = rng.choice(keys) if keys else "field"
    return rng.choice(
        [
            word.upper(),
            f"{word}_x",
            f"x{word}",
            "naмe",
            quoted("k\u200bey"),
            "7",
            "1.5",
            "~",
            "true",
            "REQUIRED",
            "Spec",
            "k" * 100_000,
            quoted("[/bold]"),
        ]
    )


def m_unknown_key(rng: random.Random, base: Base, index: int) -> Case | None:
    rel, path, node = rng.choice(base.mappings)
    if pattern_of(path) in OPEN_MAPPINGS or pattern_of(path).startswith("description"):
        return None
    keys = [k.value for k, _ in node.value]
    key = _unknown_key(rng, keys)
    if key in keys:
        return None
    texts = dict(base.texts)
    texts[rel], line = insert_entry(texts[rel], node, f"{key}: 1")
    return make(index, "unknown_key", base, texts, True, {(rel, line)}, f"{pattern_of(path)}.{key}")


def m_duplicate_key(rng: random.Random, base: Base, index: int) -> Case | None:
    rel, path, node = rng.choice(base.mappings)
    if not node.value:
        return None
    key = rng.choice(node.value)[0].value
    texts = dict(base.texts)
    texts[rel], line = insert_entry(texts[rel], node, f"{key}: 1")
    return make(
        index, "duplicate_key", base, texts, True, {(rel, line)}, f"{pattern_of(path)}.{key} twice"
    )


def _deletion_outcome(base: Base, slot: Slot) -> bool | None:
    kind = _kind(slot)
    if slot.dotted in ("spec.stages[*].contract", "spec.stages[*].publishes"):
        stage = slot.parent
        stage_kind = next(v.value for k, v in stage.value if k.value == "kind")
        return stage_kind == ("ingestion" if slot.path[-1] == "contract" else "kpi") or None
    if listed(REQUIRED, kind, slot.path):
        return True
    extra = {"metadata.owner", "spec.alerts", "spec.alerts.team", "spec.stages[*].needs"}
    if listed(OPTIONAL, kind, slot.path) or (kind == "Pipeline" and slot.dotted in extra):
        return False
    return None


def m_delete_key(rng: random.Random, base: Base, index: int) -> Case | None:
    slot = rng.choice([s for s in base.slots if s.key is not None])
    texts = dict(base.texts)
    edited = delete_entry(texts[slot.rel], slot)
    if edited is None:
        return None
    texts[slot.rel] = edited
    invalid = _deletion_outcome(base, slot)
    where = {(slot.rel, line_in(edited, slot.path[:-1]))} if invalid else set()
    return make(index, "delete_key", base, texts, invalid, where, f"without {slot.dotted}")


def m_deep(rng: random.Random, base: Base, index: int) -> Case | None:
    slot = rng.choice(base.slots)
    depth = rng.choice(
        [
            1,
            5,
            40,
            MAX_DEPTH - len(slot.path),
            MAX_DEPTH - len(slot.path) + 1,
            100,
            999,
            1001,
            5000,
            100_000,
        ]
    )
    if depth < 1:
        return None
    new = "[" * depth + "]" * depth if rng.random() < 0.5 else "{a: " * depth + "1" + "}" * depth
    too_deep = len(slot.path) + depth > MAX_DEPTH
    if too_deep:
        invalid = True
    elif slot.type == "free":
        invalid = False
    elif slot.type in ("list", "map"):
        invalid = None  # '[]', or nesting inside params, may well fit
    else:
        invalid = True
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, new)
    where = {(slot.rel, slot.line)} if invalid else set()
    invalid, where = _with_size(texts, slot.rel, invalid, where)
    return make(index, "deep", base, texts, invalid, where, f"{slot.dotted} nested {depth}")


def _params_slot(rng: random.Random, base: Base) -> Slot:
    return rng.choice([s for s in base.slots if s.dotted == "spec.stages[*].params"])


def _bomb(rng: random.Random, big: bool) -> str:
    width, levels = (10, rng.randint(6, 9)) if big else (rng.randint(2, 4), rng.randint(2, 4))
    parts = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        parts.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "{" + ", ".join(parts) + "}"


def m_alias(rng: random.Random, base: Base, index: int) -> Case | None:
    slot = _params_slot(rng, base)
    variant = rng.choice(
        ["bomb", "small", "many", "chars", "recursive", "undefined", "merge5", "merge_ok"]
    )
    invalid = True
    if variant in ("bomb", "small"):
        new = _bomb(rng, variant == "bomb")
        invalid = variant == "bomb"
    elif variant == "many":
        count = rng.choice([50, 100, 101, 500])
        new = "{a: &a x, b: [" + ", ".join(["*a"] * count) + "]}"
        invalid = count > 100
    elif variant == "chars":
        uses = rng.choice([5, 60])
        new = "{a: &a " + "x" * 100_000 + ", b: [" + ", ".join(["*a"] * uses) + "]}"
        invalid = uses * 100_000 > MAX_CHARS
    elif variant == "recursive":
        new = "&r {a: [1, *r]}"
    elif variant == "undefined":
        new = "{a: *nowhere}"
    elif variant == "merge5":
        new = rng.choice(["{<<: 5}", "{<<: [1, 2]}", "{<<: x, a: 1}", "{a: &m [1], <<: *m}"])
    else:
        new = "{a: &m {x: 1, y: 2}, b: {<<: *m, y: 3}}"
        invalid = False
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, new)
    where = {(slot.rel, slot.line)} if invalid else set()
    return make(index, f"alias_{variant}", base, texts, invalid, where, new[:120])


def m_alias_reuse(rng: random.Random, base: Base, index: int) -> Case | None:
    """A valid anchor and alias across the file: a stage reuses the pipeline's retries."""
    rel = "pipelines/finance-kpi.yaml"
    slot = next(s for s in base.slots if s.rel == rel and s.path == ("spec", "retries"))
    stage = rng.choice([s for s in base.slots if s.rel == rel and s.dotted == "spec.stages[*]"])
    at = slot.value.start_mark.index
    text = base.texts[rel][:at] + "&r " + base.texts[rel][at:]
    present = {k.value for k, _ in stage.value.value}
    entries = ["retries: *r", "retries: {<<: *r, max: 1}", "params: {<<: *r}"]
    entry = rng.choice([e for e in entries if e.split(":")[0] not in present])
    edited, _ = insert_entry(text, node_at(text, stage.path), entry)
    texts = dict(base.texts)
    texts[rel] = edited
    return make(index, "alias_reuse", base, texts, False, set(), entry)


def m_tab(rng: random.Random, base: Base, index: int) -> Case | None:
    rel = rng.choice(sorted(base.texts))
    lines = base.texts[rel].split("\n")
    choices = [
        i
        for i, row in enumerate(lines)
        if row.startswith("  ") and not row.lstrip().startswith("#")
    ]
    i = rng.choice(choices)
    lines[i] = "\t" + lines[i].lstrip(" ")
    texts = dict(base.texts)
    texts[rel] = "\n".join(lines)
    return make(index, "tab", base, texts, True, {(rel, i + 1)}, f"line {i + 1}")


def m_huge(rng: random.Random, base: Base, index: int) -> Case | None:
    slot = rng.choice([s for s in base.slots if isinstance(s.value, ScalarNode)])
    length = rng.choice([10_000, 300_000, 1_000_000, 1_100_000, 3_000_000])
    char = rng.choice(["a", "Z", "é", "発", "\U0001f600"])
    text = char * length
    invalid, where = _string_outcome(base, slot, text)
    if slot.type == "bool" or slot.type.startswith(("int", "num")):
        invalid, where = True, {(slot.rel, slot.line)}
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, quoted(text))
    invalid, where = _with_size(texts, slot.rel, invalid, where)
    return make(
        index, "huge_string", base, texts, invalid, where, f"{slot.dotted} = {char!r} x {length}"
    )


def m_huge_list(rng: random.Random, base: Base, index: int) -> Case | None:
    slot = _params_slot(rng, base)
    # the file's other values are a few hundred: these counts are clearly under or over
    count = rng.choice([1000, MAX_VALUES // 2, MAX_VALUES + 1000, 3 * MAX_VALUES])
    new = "{big: [" + ",".join(["1"] * count) + "]}"
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, new)
    invalid = count > MAX_VALUES
    where = {(slot.rel, slot.line)} if invalid else set()
    return make(index, "huge_list", base, texts, invalid, where, f"{count} items")


def m_huge_number(rng: random.Random, base: Base, index: int) -> Case | None:
    slot = rng.choice([s for s in base.slots if isinstance(s.value, ScalarNode)])
    new = "1" * rng.choice([5000, 100_000])
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, new)
    return make(
        index, "huge_number", base, texts, True, {(slot.rel, slot.line)}, f"{len(new)} digits"
    )


TAGGED = [
    "!!int 12abc",
    "!!binary aGk=",
    "!!python/object:os.system x",
    "!custom x",
    "!!float abc",
    "!!bool maybe",
    "!!timestamp 2026-02-30",
    "!!set {a: null}",
    "!!omap [a: 1]",
]


def m_tag(rng: random.Random, base: Base, index: int) -> Case | None:
    slot = rng.choice([s for s in base.slots if isinstance(s.value, ScalarNode)])
    new = rng.choice(TAGGED)
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, new)
    return make(index, "tag", base, texts, True, {(slot.rel, slot.line)}, f"{slot.dotted} = {new}")


def m_yaml_typed(rng: random.Random, base: Base, index: int) -> Case | None:
    """Plain scalars YAML gives a type to: dates stay text, broken numbers are errors."""
    slot = rng.choice([s for s in base.slots if isinstance(s.value, ScalarNode)])
    new = rng.choice(
        ["2026-02-30", "2026-13-01", "2026-01-01T25:00:00", "0x_", "0b_", "+0x_", "1_000", ".nan"]
    )
    if new in ("0x_", "0b_", "+0x_"):
        invalid, where = True, {(slot.rel, slot.line)}
    elif new.startswith("20"):
        invalid, where = _string_outcome(base, slot, new)
        if slot.type == "bool" or slot.type.startswith(("int", "num")):
            invalid, where = True, {(slot.rel, slot.line)}
    elif slot.type == "free":
        invalid, where = False, set()
    elif slot.type.startswith("num") and new == "1_000":
        invalid, where = None, set()
    else:
        invalid, where = True, {(slot.rel, slot.line)}
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, new)
    return make(index, "yaml_typed", base, texts, invalid, where, f"{slot.dotted} = {new}")


ZONES = [
    "Europe",
    "Europe/",
    "America",
    "../../../etc/passwd",
    "/etc/localtime",
    "Europe//Berlin",
    "zone.tab",
    "tzdata.zi",
    "Europe/Berlin ",
    " UTC",
    "Mars/Base",
    "A" * 1_000_000,
]


def m_timezone(rng: random.Random, base: Base, index: int) -> Case | None:
    slot = rng.choice([s for s in base.slots if s.type == "tz"])
    zone = rng.choice(ZONES)
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, quoted(zone))
    return make(index, "timezone", base, texts, True, {(slot.rel, slot.line)}, f"{zone[:40]!r}")


def m_nested_contract(rng: random.Random, base: Base, index: int) -> Case | None:
    """A contract property nested as objects, arrays and maps (the ODCS schema recurses)."""
    slot = rng.choice([s for s in base.slots if s.dotted == "schema[*].properties[*]"])
    levels = rng.choice([1, 3, 8, 15, 25])
    bad = rng.random() < 0.4
    inner = "{name: leaf, logicalType: " + ("datetime-ish}" if bad else "string}")
    for i in range(levels):
        inner = rng.choice(
            [
                f"{{name: n{i}, logicalType: object, properties: [{inner}]}}",
                f"{{name: n{i}, logicalType: array, items: {inner}}}",
                f"{{name: n{i}, logicalType: map, map: {{key: {{logicalType: string}}, "
                f"value: {inner}}}}}",
            ]
        )
    texts = dict(base.texts)
    texts[slot.rel] = replace_value(texts[slot.rel], slot, inner)
    where = {(slot.rel, slot.line)} if bad else set()
    return make(index, "nested_contract", base, texts, bad, where, f"{levels} levels, bad={bad}")


def m_many_problems(rng: random.Random, base: Base, index: int) -> Case | None:
    """Thousands of problems in one file: listed up to the cap, found in bounded time."""
    count = rng.choice([60, 2000, 20_000])
    how = rng.choice(["unknown_keys", "unknown_needs", "bad_runs"])
    texts = dict(base.texts)
    if how == "unknown_keys":
        rel, path, node = rng.choice([m for m in base.mappings if not m[2].flow_style])
        if pattern_of(path) in OPEN_MAPPINGS or pattern_of(path).startswith("description"):
            return None
        indent = " " * node.value[0][0].start_mark.column
        block = f"\n{indent}".join(f"zz{i}: 1" for i in range(count))
        texts[rel], first = insert_entry(texts[rel], node, block)
        where = {(rel, first + i) for i in range(count)}
        return make(index, "many_problems", base, texts, True, where, f"{how} {count}")
    rel = "pipelines/finance-kpi.yaml"
    first = base.texts[rel].count("\n") + 1
    stages = max(count // 50, 2)
    rows = []
    for i in range(stages):
        needs = ", ".join(f"u{i}x{j}" for j in range(50 if how == "unknown_needs" else 0))
        run = f"nomodule{i}.m:f" if how == "bad_runs" else GDP
        rows.append(f"    - {{name: s{i}, kind: transform, run: {run}, needs: [{needs}]}}\n")
    texts[rel] = base.texts[rel] + "".join(rows)
    where = {(rel, first + i) for i in range(stages)}
    return make(index, "many_problems", base, texts, True, where, f"{how} {count}")


def m_complex_key(rng: random.Random, base: Base, index: int) -> Case | None:
    rel, path, node = rng.choice(base.mappings)
    texts = dict(base.texts)
    entry = "[a, b]: 1" if node.flow_style else "? [a, b]"
    texts[rel], line = insert_entry(texts[rel], node, entry)
    if not node.flow_style:
        texts[rel] = texts[rel].replace(
            "? [a, b]\n", "? [a, b]\n" + " " * (node.value[0][0].start_mark.column) + ": 1\n", 1
        )
    return make(index, "complex_key", base, texts, True, {(rel, line)}, pattern_of(path))


def m_stages(rng: random.Random, base: Base, index: int) -> Case | None:
    rel = "pipelines/finance-kpi.yaml"
    count = rng.choice([100, 1000, 3000])
    cycle = rng.random() < 0.3
    text = base.texts[rel]
    first = text.count("\n") + 1
    rows = []
    for i in range(count):
        need = f"s{i + 1}" if i + 1 < count else ("s0" if cycle else "kpi-finance")
        rows.append(f"    - {{name: s{i}, kind: transform, run: {GDP}, needs: [{need}]}}\n")
    texts = dict(base.texts)
    texts[rel] = text + "".join(rows)
    where = {(rel, line) for line in range(first, first + count)} if cycle else set()
    return make(index, "stages", base, texts, cycle, where, f"{count} stages, cycle={cycle}")


def m_raw(rng: random.Random, base: Base, index: int) -> Case | None:
    rel = rng.choice(sorted(base.texts))
    texts = dict(base.texts)
    texts[rel] = _raw_edit(rng, texts[rel])
    return make(index, "raw", base, texts, None, set(), rel)


def _raw_edit(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    what = rng.choice(["delete", "duplicate", "swap", "truncate", "reverse", "dedent", "indent"])
    if what == "delete":
        del lines[i]
    elif what == "duplicate":
        lines.insert(i, lines[i])
    elif what == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif what == "truncate":
        return text[: rng.randrange(len(text))]
    elif what == "reverse":
        lines[i] = lines[i][::-1]
    elif what == "dedent":
        lines[i] = lines[i].lstrip()
    else:
        lines[i] = "   " + lines[i]
    return "\n".join(lines)


def m_combo(rng: random.Random, base: Base, index: int) -> Case | None:
    texts = dict(base.texts)
    for _ in range(rng.randint(2, 4)):
        rel = rng.choice(sorted(texts))
        texts[rel] = _raw_edit(rng, texts[rel])
        if rng.random() < 0.3:
            at = rng.randrange(len(texts[rel]) + 1)
            texts[rel] = texts[rel][:at] + random_text(rng) + texts[rel][at:]
    return make(index, "combo", base, texts, None, set(), "")


MUTATIONS: list[tuple[int, Callable[[random.Random, Base, int], Case | None]]] = [
    (14, m_wrong_type),
    (12, m_bad_string),
    (6, m_quoted_scalar),
    (4, m_out_of_range),
    (8, m_unknown_key),
    (5, m_duplicate_key),
    (8, m_delete_key),
    (5, m_deep),
    (6, m_alias),
    (2, m_alias_reuse),
    (4, m_tab),
    (3, m_huge),
    (2, m_huge_list),
    (2, m_huge_number),
    (3, m_tag),
    (3, m_yaml_typed),
    (2, m_timezone),
    (2, m_complex_key),
    (2, m_nested_contract),
    (2, m_many_problems),
    (2, m_stages),
    (6, m_raw),
    (3, m_combo),
    *BYTE_MUTATIONS,
]


def generate(seed: int, count: int, base: Base | None = None, start: int = 0) -> Iterator[Case]:
    """Cases ``start`` .. ``start + count - 1`` of the run with this seed; each case
    depends only on (seed, index), so any one can be replayed alone."""
    base = base or load_base()
    weights = [w for w, _ in MUTATIONS]
    for index in range(start, start + count):
        rng = random.Random(f"barecount-fuzz:{seed}:{index}")
        while True:
            mutate = rng.choices([m for _, m in MUTATIONS], weights)[0]
            case = mutate(rng, base, index)
            if case is not None:
                yield case
                break
