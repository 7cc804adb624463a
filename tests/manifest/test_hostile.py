"""The hostile inputs of the manifest audit, one test each: every one is refused quickly with
'file:line: what; how to fix', or read correctly, and none escapes as an exception."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from barecount.cli.main import main
from barecount.errors import ManifestError
from barecount.manifest import load_manifests
from barecount.manifest.graph import find_cycle, layers, stage_order
from barecount.manifest.limits import (
    MAX_DEPTH,
    MAX_DOCUMENTS,
    MAX_FILE_BYTES,
    MAX_PROBLEMS_PER_FILE,
    MAX_VALUES,
)

SHIPPED = Path(__file__).resolve().parents[2] / "manifests"
KPI = "pipelines/finance-kpi.yaml"
TEAM = "teams/finance-data.yaml"
CONTRACT = "contracts/invoices.yaml"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(SHIPPED, tmp_path / "m")
    return tmp_path / "m"


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(root: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_manifests(root)
    return [p.replace(f"{root}/", "") for p in info.value.problems]


def line_of(root: Path, rel: str, needle: str) -> int:
    lines = (root / rel).read_text(encoding="utf-8").splitlines()
    return next(i for i, row in enumerate(lines, start=1) if needle in row)


# ---- 1. the loader's budgets and YAML errors --------------------------------------------


def counted(function, *args):
    """``function(*args)`` and how many Python calls it made: a measure of work that, unlike
    a stopwatch, does not change with the machine's load (rule: no timed assertions)."""
    calls = 0

    def count(_frame, event, _arg):
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        return function(*args), calls
    finally:
        sys.setprofile(None)


def test_billion_laughs_is_refused_fast_naming_the_budget(root: Path) -> None:
    levels = [f"  l0: &l0 [{', '.join(['lol'] * 9)}]"]
    levels += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    edit(root, KPI, "  stages:\n", "  bomb:\n" + "\n".join(levels) + "\n  stages:\n")
    found, calls = counted(problems, root)
    assert calls < 1_500_000, (
        calls
    )  # ~120k calls; the budget stops it: ~9**9 values would be billions
    level = next(i for i in range(9) if 9 ** (i + 1) > MAX_VALUES)  # the first level over
    assert found == [
        f"{KPI}:{line_of(root, KPI, f'l{level}: &l{level}')}: aliases expand this file to more "
        f"than {MAX_VALUES} values (the alias expansion budget); use fewer *aliases or write "
        "the values out"
    ]


def test_too_many_aliases_and_recursive_aliases(root: Path) -> None:
    edit(
        root,
        KPI,
        "params: {source",
        "params: {a: &a x, b: [" + ", ".join(["*a"] * 101) + "], source",
    )
    assert problems(root) == [
        f"{KPI}:26: more than 100 aliases in one file (the alias budget); write the values "
        "out instead of repeating *aliases"
    ]
    shutil.copy(SHIPPED / KPI, root / KPI)
    edit(root, KPI, "params: {source", "params: {a: &r [1, *r], source")
    assert problems(root) == [
        f"{KPI}:26: alias *r refers to the anchor &r that contains it (a recursive structure); "
        "manifests cannot be recursive, so write the value out"
    ]


def test_an_impossible_date_is_text_not_a_crash(root: Path) -> None:
    description = "Daily finance KPIs (revenue, DSO, overdue ratio) from ERP invoices"
    edit(root, KPI, description, "2026-02-30\n  labels: {day: 2026-13-01, at: 2026-01-01T25:00}")
    pipeline = load_manifests(root).pipeline("finance-kpi")
    assert pipeline.metadata.description == "2026-02-30"
    assert pipeline.metadata.labels == {"day": "2026-13-01", "at": "2026-01-01T25:00"}


def test_explicit_tags_that_cannot_be_built_are_errors(root: Path) -> None:
    edit(root, KPI, "offset: -1", "offset: !!int 12abc")
    assert problems(root) == [
        f"{KPI}:11: '12abc' is not a valid !!int (invalid literal for int() with base 10: "
        "'12abc'); fix the value or remove the !!int tag"
    ]
    shutil.copy(SHIPPED / KPI, root / KPI)
    edit(root, KPI, "offset: -1", "offset: !!timestamp 2026-02-30")
    assert problems(root) == [
        f"{KPI}:11: YAML tag '!!timestamp' is not allowed; remove it and write a plain value"
    ]


def test_merge_key_of_a_number_is_an_error(root: Path) -> None:
    edit(root, KPI, "  retries: {max: 3", "  retries: {<<: 5, max: 3")
    assert problems(root) == [
        f"{KPI}:19: merge key '<<' takes a mapping or a list of mappings (such as *defaults); "
        "fix or remove the merge key"
    ]


@pytest.mark.parametrize("depth", [MAX_DEPTH, 900, 100_000])
def test_deep_nesting_is_refused_at_its_line(root: Path, depth: int) -> None:
    edit(root, KPI, "params: {source", "params: {deep: " + "[" * depth + "]" * depth + ", source")
    [problem] = problems(root)
    assert problem.startswith(
        f"{KPI}:26: nested deeper than {MAX_DEPTH} levels (the nesting budget)"
    )


def test_deep_block_nesting_is_refused_without_recursion(root: Path) -> None:
    block = "".join("  " * (i + 1) + "a:\n" for i in range(900)) + "  " * 901 + "x\n"
    (root / KPI).write_text((root / KPI).read_text() + "x-deep:\n" + block)
    first = line_of(root, KPI, "x-deep:")
    [problem] = problems(root)
    assert problem.startswith(f"{KPI}:{first + MAX_DEPTH}: nested deeper than {MAX_DEPTH} levels")


def test_file_size_and_document_budgets(root: Path) -> None:
    (root / "pipelines" / "big.yaml").write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    (root / "teams" / "many.yaml").write_text("---\n{}\n" * (MAX_DOCUMENTS + 1))
    assert problems(root) == [
        f"pipelines/big.yaml:1: file is over the {MAX_FILE_BYTES} byte budget for one manifest "
        "file; split it into several files",
        f"teams/many.yaml:{2 * MAX_DOCUMENTS + 1}: more than {MAX_DOCUMENTS} YAML documents in "
        "one file (the documents budget); split the file",
    ]


def test_empty_files_and_duplicate_anchors(root: Path) -> None:
    (root / "teams" / "empty.yaml").write_text("# nothing yet\n")
    (root / "teams" / "anchors.yaml").write_text("a: &x 1\nb: &x 2\n")
    assert problems(root) == [
        "teams/anchors.yaml:2: anchor &x is defined twice (first on line 1); rename one",
        "teams/empty.yaml:1: no manifest in this file (it is empty or holds only comments); "
        "add a manifest or delete the file",
    ]


def test_tabs_name_their_line_and_the_fix(root: Path) -> None:
    edit(root, TEAM, "  approvers:", "\tapprovers:")
    assert problems(root) == [
        f"{TEAM}:{line_of(root, TEAM, chr(9))}: not valid YAML: a tab at column 1 where YAML "
        "needs spaces; indent with spaces, not tabs"
    ]


# ---- 2. time zones, kinds, characters and encodings ------------------------------------


@pytest.mark.parametrize("zone", ["Europe", "../../../etc/passwd", "Europe//Berlin", "zone.tab"])
def test_timezone_that_is_a_folder_or_a_path_is_a_clear_error(root: Path, zone: str) -> None:
    edit(root, KPI, "timezone: Europe/Berlin, offset", f'timezone: "{zone}", offset')
    [problem] = problems(root)
    assert problem.startswith(f"{KPI}:11: spec.partition.timezone: unknown time zone {zone!r}")
    assert problem.endswith("use an IANA name such as 'Europe/Berlin' or 'UTC'")


def test_megabyte_timezone_is_a_short_error(root: Path) -> None:
    edit(root, KPI, "timezone: Europe/Berlin, offset", f"timezone: {'A' * 1_000_000}, offset")
    assert problems(root) == [
        f"{KPI}:11: spec.partition.timezone: unknown time zone '{'A' * 60}'... (1000000 "
        "characters); use an IANA name such as 'Europe/Berlin' or 'UTC'"
    ]


def test_keys_yaml_does_not_read_as_text(root: Path) -> None:
    edit(root, KPI, "  partition: {calendar", "  partition: {1.5: x, calendar")
    edit(root, TEAM, "  description: Finance", "  ~: 1\n  description: Finance")
    assert problems(root) == [
        f"{KPI}:11: spec.partition: unknown field 1.5 (YAML reads it as float); allowed: "
        "calendar, timezone, offset",
        f"{TEAM}:6: metadata: unknown field null (YAML reads it as null); allowed: name, owner, "
        "description, labels",
    ]


def test_kind_that_is_a_mapping(root: Path) -> None:
    edit(root, KPI, "kind: Pipeline", "kind: {a: 1}")
    assert problems(root) == [
        f"{KPI}:5: kind is {{'a': 1}}, not a word; expected one of Pipeline, Team, DataContract "
        "(with apiVersion barecount/v1, or v3.x for contracts)"
    ]


def test_control_characters_and_nul_bytes_name_line_and_offset(root: Path) -> None:
    edit(root, KPI, "owner: finance-data", "owner: finance\x07data")
    edit(root, TEAM, "name: finance-data", "name: finance\x00data")
    bell = (root / KPI).read_bytes().index(b"\x07")
    nul = (root / TEAM).read_bytes().index(b"\x00")
    assert problems(root) == [
        f"{KPI}:8: control character U+0007 at byte offset {bell} (column 17) is not allowed "
        'in YAML; remove it, or write it as an escape such as "\\x07" inside double quotes',
        f"{TEAM}:5: control character U+0000 at byte offset {nul} (column 16) is not allowed in "
        'YAML; remove it, or write it as an escape such as "\\x00" inside double quotes',
    ]


def test_utf16_without_bom_and_latin1_say_save_as_utf8(root: Path) -> None:
    (root / TEAM).write_bytes((SHIPPED / TEAM).read_text().encode("utf-16-le"))
    edit(root, KPI, "Daily finance KPIs", "Café KPIs")
    (root / KPI).write_bytes((root / KPI).read_text().encode("latin-1"))
    offset = (root / KPI).read_bytes().index(b"\xe9")
    found = problems(root)
    assert found == [
        f"{KPI}:9: byte 0xe9 at byte offset {offset} (column 19) is not UTF-8; save the file "
        "as UTF-8",
        f"{TEAM}:1: NUL byte at byte offset 1 (column 2): the file looks like UTF-16 without a "
        "byte order mark; save the file as UTF-8",
    ]
    assert not any("<unicode string>" in p for p in found)


def test_utf16_with_bom_is_read(root: Path) -> None:
    (root / TEAM).write_bytes((SHIPPED / TEAM).read_text().encode("utf-16"))
    assert "finance-data" in load_manifests(root).teams


def test_links_and_pipes_do_not_hang_or_crash(root: Path) -> None:
    os.symlink("missing.yaml", root / "pipelines" / "broken.yaml")
    os.symlink("/dev/zero", root / "pipelines" / "zero.yaml")
    os.mkfifo(root / "pipelines" / "pipe.yaml")
    os.symlink("..", root / "pipelines" / "up")  # a folder link is not followed
    found, calls = counted(problems, root)  # /dev/zero and the pipe are never read
    assert calls < 500_000, calls  # ~26k calls
    assert found == [
        "pipelines/broken.yaml:1: broken symbolic link to 'missing.yaml'; fix or remove the link",
        "pipelines/pipe.yaml:1: not a regular file (a directory, device, pipe or socket); "
        "manifests are plain text files, so replace it with one or remove it",
        "pipelines/zero.yaml:1: not a regular file (a directory, device, pipe or socket); "
        "manifests are plain text files, so replace it with one or remove it",
    ]


# ---- 3. graphs: no recursion on what users write ---------------------------------------


def test_thousands_of_stages_declared_downstream_first(root: Path) -> None:
    count = 3000
    rows = "".join(
        f"    - {{name: s{i}, kind: transform, run: barecount.examples.finance:build_invoice_gdp,"
        f" needs: [{f's{i + 1}' if i + 1 < count else 'kpi-finance'}]}}\n"
        for i in range(count)
    )
    (root / KPI).write_text((root / KPI).read_text() + rows)
    order = stage_order(load_manifests(root).pipeline("finance-kpi"))
    assert order[:3] == ["ingest-invoices", "gdp-invoices", "kpi-finance"]
    assert order[3:] == [f"s{i}" for i in reversed(range(count))]


def test_graph_algorithms_handle_chains_past_the_recursion_limit() -> None:
    n = sys.getrecursionlimit() * 20
    nodes = [f"n{i}" for i in range(n)]
    needs = {f"n{i}": [f"n{i + 1}"] for i in range(n - 1)}
    assert find_cycle(nodes, needs) is None
    assert layers(nodes, needs)[0] == [f"n{n - 1}"]
    needs[f"n{n - 1}"] = ["n0"]
    cycle = find_cycle(nodes, needs)
    assert cycle is not None and len(cycle) == n + 1 and cycle[0] == cycle[-1]


# ---- 4. strict contracts and scalars -------------------------------------------------------


def test_contract_keys_the_odcs_schema_rejects(root: Path) -> None:
    edit(
        root,
        CONTRACT,
        "        required: true\n        description: ERP invoice",
        "        REQUIRED: true\n        description: ERP invoice",
    )
    [problem] = problems(root)
    assert problem.startswith(
        f"{CONTRACT}:26: schema[0].properties[0].REQUIRED: unknown field 'REQUIRED' "
        "(did you mean 'required'?); allowed: "
    )


def test_contract_logical_type_outside_the_standard(root: Path) -> None:
    edit(root, CONTRACT, "logicalType: date", "logicalType: datetime-ish")
    assert problems(root) == [
        f"{CONTRACT}:45: schema[0].properties[4].logicalType: got 'datetime-ish'; use one of "
        "string, date, timestamp, time, number, integer, object, array, boolean, map, vector"
    ]


def test_contract_field_of_another_logical_type(root: Path) -> None:
    edit(
        root,
        CONTRACT,
        "logicalType: number",
        "logicalType: number\n        items: {logicalType: string}",
    )
    assert problems(root) == [
        f"{CONTRACT}:{line_of(root, CONTRACT, 'items:')}: schema[0].properties[2].items: field "
        "'items' is not allowed with logicalType 'number'; remove it or change logicalType"
    ]


def test_contract_property_without_a_name(root: Path) -> None:
    edit(root, CONTRACT, "      - name: currency\n", "      - physicalName: currency\n")
    assert problems(root) == [
        f"{CONTRACT}:38: schema[0].properties[3]: missing required field 'name'; add it"
    ]


def test_contract_string_field_read_as_a_number(root: Path) -> None:
    edit(root, CONTRACT, "version: 1.0.0", "version: 1.0")
    assert problems(root) == [
        f"{CONTRACT}:{line_of(root, CONTRACT, 'version: 1.0')}: version: got 1.0; should be a "
        "string; YAML read it as float, so put it in quotes"
    ]


def test_thousands_of_problems_are_listed_up_to_the_cap_in_bounded_work(root: Path) -> None:
    rows = "".join(
        f"    - {{name: s{i}, kind: transform, run: 'os:nothing{i}', "
        f"needs: [{', '.join(f'u{i}x{j}' for j in range(100))}]}}\n"
        for i in range(150)
    )
    (root / KPI).write_text((root / KPI).read_text() + rows)
    found, calls = counted(problems, root)
    assert calls < 3_000_000, calls  # ~260k calls: linear in the references, not their product
    assert len(found) == MAX_PROBLEMS_PER_FILE
    assert found[-1] == (
        f"{KPI}:21: {150 * 100 - (MAX_PROBLEMS_PER_FILE - 1)} more unknown reference(s) not "
        "listed, and later run targets not checked; fix the ones above first"
    )


def test_nested_contract_properties_are_checked_in_linear_time(root: Path) -> None:
    """jsonschema alone takes 3x longer per level here (16 s at 8 levels, 1 KB of YAML)."""
    inner = "{name: leaf, logicalType: datetime-ish}"
    for i in range(25):
        inner = f"{{name: n{i}, logicalType: object, properties: [{inner}]}}"
    edit(root, CONTRACT, "      - name: paid_date\n", f"      - {inner}\n      - name: paid_date\n")
    [problem], calls = counted(problems, root)
    assert calls < 1_000_000, (
        calls
    )  # ~100k calls; 3x per level would be 3**25 times the one-level work
    leaf = ".properties[0]" * 25
    assert problem.startswith(
        f"{CONTRACT}:{line_of(root, CONTRACT, 'n24')}: schema[0].properties[6]{leaf}.logicalType: "
        "got 'datetime-ish'; use one of string, "
    )


@pytest.mark.parametrize(
    ("rel", "old", "new", "message"),
    [
        (
            TEAM,
            "require_signed_approvals: true",
            'require_signed_approvals: "false"',
            "spec.require_signed_approvals: got 'false', a quoted string; should be true or "
            "false; remove the quotes",
        ),
        (
            TEAM,
            "require_signed_approvals: true",
            "require_signed_approvals: 0",
            "spec.require_signed_approvals: got 0; should be true or false",
        ),
        (
            KPI,
            "retries: {max: 3",
            "retries: {max: true",
            "spec.retries.max: got true; should be a whole number, not true or false",
        ),
        (
            KPI,
            "offset: -1",
            "offset: '3'",
            "spec.partition.offset: got '3', a quoted string; should be a whole number; remove "
            "the quotes",
        ),
        (
            KPI,
            "jitter: 0.2",
            'jitter: "0.2"',
            "spec.retries.jitter: got '0.2', a quoted string; should be a number; remove the "
            "quotes",
        ),
    ],
)
def test_booleans_and_numbers_are_strict(
    root: Path, rel: str, old: str, new: str, message: str
) -> None:
    edit(root, rel, old, new)
    assert problems(root) == [f"{rel}:{line_of(root, rel, new)}: {message}"]


# ---- 5. the command: exit 1, one message per problem, no traceback ----------------------


def test_validate_command_reports_without_a_traceback(root: Path, capsys) -> None:
    edit(root, KPI, "timezone: Europe/Berlin, offset", "timezone: Europe, offset")
    assert main(["validate", str(root)]) == 2  # invalid manifests: exit 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{root}/{KPI}:11: spec.partition.timezone: unknown time zone 'Europe'" in err
    assert main(["validate", str(SHIPPED), "--json"]) == 0
