"""Issue 16 item 7: 'backfill run|show|list' (a pipeline named 'show' can be backfilled), the
old spellings working for one release with a warning on stderr, and no private typer imports."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from bc_testkit import cli, write_pipeline

SRC = Path(__file__).resolve().parents[2] / "src" / "barecount"
DAY = "2026-04-02"
WARNING = "warning: '{old}' is deprecated and goes away in the next release; use '{new}'"
OLD_RUN = WARNING.format(
    old="barecount backfill PIPELINE ...", new="barecount backfill run PIPELINE ..."
)
OLD_LIST = WARNING.format(old="barecount backfills", new="barecount backfill list")


@pytest.fixture
def show_pipeline(manifests: Path) -> Path:
    """A pipeline named 'show', which 'backfill show ID' used to make impossible to backfill."""
    work = {"name": "work", "kind": "kpi", "run": "bc_test_stages:combine", "publishes": ["total"]}
    write_pipeline(manifests, "show", [work])
    return manifests


@pytest.mark.usefixtures("home")
def test_backfill_run_show_and_list_and_a_pipeline_named_show(capsys, show_pipeline: Path) -> None:
    code, out, err = cli(
        capsys, "backfill", "run", "show", "--start", DAY, "--end", DAY, "-m", str(show_pipeline)
    )
    assert code == 0, err
    assert "deprecated" not in err
    assert "backfill 1 of show (mode missing)" in out
    assert "counts: published 1, skipped 0" in out

    code, out, err = cli(capsys, "backfill", "list", "--json")
    assert code == 0, err
    assert err == ""
    [record] = json.loads(out)
    assert (record["pipeline"], record["start"], record["end"]) == ("show", DAY, DAY)

    code, out, err = cli(capsys, "backfill", "show", str(record["id"]), "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["id"], shown["pipeline"], shown["range"]) == (record["id"], "show", [DAY, DAY])
    assert [o["partition"] for o in shown["outcomes"]] == [DAY]

    code, out, err = cli(capsys, "backfill", "show", "999999")
    assert code == 1
    assert err.strip() == "error: no backfill 999999; 'barecount backfill list' lists them"


@pytest.mark.usefixtures("home")
def test_the_old_spellings_still_work_for_one_release_and_say_so_on_stderr(
    capsys, manifests: Path
) -> None:
    old = ["backfill", "finance-kpi", "--start", DAY, "--end", DAY, "-m", str(manifests)]
    code, out, err = cli(capsys, *old, "--dry-run", "--json")
    assert code == 0, err
    assert err.strip() == OLD_RUN
    new = ["backfill", "run", *old[1:]]
    code, fresh, err = cli(capsys, *new, "--dry-run", "--json")
    assert code == 0, err
    assert err == ""
    assert json.loads(out)["planned"] == json.loads(fresh)["planned"] != []
    # options first, as the old command allowed
    code, _, err = cli(capsys, "backfill", "--start", DAY, "--end", DAY, *old[1:2], "--dry-run")
    assert code == 0, err
    assert err.strip() == OLD_RUN

    code, out, err = cli(capsys, "backfills", "--json")
    assert code == 0, err
    assert err.strip() == OLD_LIST
    code, fresh, _ = cli(capsys, "backfill", "list", "--json")
    assert json.loads(out) == json.loads(fresh)


@pytest.mark.usefixtures("home")
def test_backfill_without_a_subcommand_shows_its_help_and_bad_ids_are_one_usage_line(
    capsys,
) -> None:
    code, out, err = cli(capsys, "backfill")
    assert code == 2
    assert all(f"│ {name} " in out + err for name in ("run", "show", "list"))
    code, out, err = cli(capsys, "backfill", "show")
    assert code == 2
    assert err.strip().splitlines() == [
        "error: Missing argument 'ID'. (see 'barecount backfill show --help')"
    ]
    code, _, err = cli(capsys, "backfill", "show", "0")
    assert code == 2
    assert "Invalid value for 'ID'" in err
    assert "backfills" not in out + err  # hidden: the old spelling is not advertised


def test_no_module_imports_typer_internals() -> None:
    private = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n.startswith("typer.") and "._" in n[5:] for n in names):
                private.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert private == []
