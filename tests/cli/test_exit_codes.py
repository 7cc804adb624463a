"""The README's exit codes, one test each, through the real `barecount` in a subprocess
(issue 16, item 2): 0 ok, 1 a run or check failed, 2 usage or invalid manifests, 3 held or
blocked by governance, 4 the Prefect API or the ledger cannot be reached. Also --version, and
--json printing JSON whatever happens."""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path

import pytest
from bc_testkit import spawn_cli

from barecount.examples.finance import write_extract


def barecount(*args: str) -> tuple[int, str, str]:
    process = spawn_cli(*args)
    out, err = process.communicate(timeout=240)
    assert "Traceback" not in out + err, out + err
    return process.returncode, out, err


def one_error(err: str) -> str:
    [line] = [line for line in err.splitlines() if line.startswith("error: ")]
    return line


def test_version_names_barecount_prefect_and_python() -> None:
    from importlib.metadata import version

    code, out, _ = barecount("--version")
    assert code == 0
    assert out.strip() == (
        f"barecount {version('barecount')}, prefect {version('prefect')}, "
        f"python {platform.python_version()}"
    )


def test_0_when_all_is_well(manifests: Path) -> None:
    code, out, _ = barecount("validate", str(manifests), "--json")
    assert code == 0
    assert json.loads(out)["valid"] is True


def test_1_when_a_check_fails(manifests: Path, tmp_path: Path) -> None:
    output = tmp_path / "prefect.yaml"
    assert barecount("compile", "-m", str(manifests), "-o", str(output))[0] == 0
    path = manifests / "pipelines" / "finance-kpi.yaml"
    path.write_text(path.read_text().replace('cron: "0 0 * * *"', 'cron: "30 1 * * *"'))
    code, out, _ = barecount("compile", "--check", "-m", str(manifests), "-o", str(output))
    assert code == 1
    assert "stale:" in out


def test_2_for_a_usage_error_with_json_errors(manifests: Path) -> None:
    code, out, err = barecount("validate", str(manifests), "--json", "--bogus")
    assert code == 2
    [problem] = json.loads(out)["errors"]
    assert problem.startswith("No such option: --bogus")
    assert one_error(err) == f"error: {problem}"


def test_2_and_every_problem_of_three_broken_files_as_json(manifests: Path) -> None:
    rollup = manifests / "pipelines" / "finance-rollup.yaml"
    rollup.write_text(rollup.read_text().replace("kind: Pipeline", "kind: Pipelin"))
    team = manifests / "teams" / "finance-data.yaml"
    team.write_text(team.read_text().replace("  description:", "  colour: blue\n  description:"))
    kpi = manifests / "pipelines" / "finance-kpi.yaml"
    kpi.write_text(kpi.read_text().replace("  stages:", "  bogus_field: 1\n  stages:"))

    code, out, err = barecount("validate", str(manifests), "--json")
    assert code == 2
    problems = json.loads(out)["errors"]
    assert len(problems) == 3, problems
    assert re.match(rf"{kpi}:\d+: spec: unknown field 'bogus_field'", problems[0])
    assert re.match(rf"{rollup}:\d+: unknown kind 'Pipelin' \(did you mean", problems[1])
    assert re.match(rf"{team}:\d+: metadata: unknown field 'colour'", problems[2])
    assert "3 problems in manifests" in err


@pytest.mark.usefixtures("prefect_api")
def test_3_when_governance_blocks_the_run(home: Path, manifests: Path) -> None:
    from bc_testkit import pending_hold_for, scheduled_flow_run

    check = pending_hold_for(scheduled_flow_run())  # another run's drift on invoices waits
    partition = "2026-11-23"
    write_extract(home / "landing", "erp.invoices", partition, 50)
    code, out, err = barecount(
        "run", "finance-kpi", "-p", partition, "-m", str(manifests), "--json"
    )
    assert code == 3, err
    printed = json.loads(out)
    assert printed["status"] == "blocked"
    assert printed["errors"] == [
        f"blocked: drift on invoices awaiting governance (run {check.flow_run_id}, "
        "finance-kpi 2026-11-22); it runs again when the hold is approved ('barecount "
        "pending' lists it)"
    ]


def test_4_when_the_prefect_api_does_not_answer(manifests: Path, monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    code, _, err = barecount("run", "finance-kpi", "-p", "2026-11-26", "-m", str(manifests))
    assert code == 4
    assert "the Prefect API at http://127.0.0.1:9/api does not answer" in one_error(err)


def test_4_when_the_ledger_cannot_be_reached_with_json_errors(monkeypatch) -> None:
    monkeypatch.setenv("BARECOUNT_LEDGER_URL", "postgresql+psycopg2://bc:pw@127.0.0.1:9/x")
    code, out, err = barecount("runs", "--json")
    assert code == 4
    [problem] = json.loads(out)["errors"]
    assert "cannot open the ledger at postgresql+psycopg2://bc:***@127.0.0.1:9/x" in problem
    assert "pw@" not in out + err
