"""Issue 16 item 3: crons are checked with Prefect's own validator, so 'validate' refuses what
Prefect's scheduler would refuse later, at the manifest's line, with every other problem."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest
from bc_testkit import spawn_cli, write_pipeline
from prefect.client.schemas.schedules import CronSchedule

from barecount.manifest.fields import Cron

# cronsim (the manifests' own check) accepts these; Prefect's CronSchedule does not
PREFECT_REJECTS = ["0 0 * * 5L", "0 0 LW * *", "0 0 L/2 * *"]
CRON_KEY = '"cron"'
WORK = {
    "name": "work",
    "kind": "kpi",
    "run": "barecount.examples.finance:rollup_revenue",
    "publishes": ["total"],
}


def cli(*args: str) -> tuple[int, str, str]:
    process = spawn_cli(*args)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def line_of(path: Path, text: str) -> int:
    return next(i for i, row in enumerate(path.read_text().splitlines(), 1) if text in row)


@pytest.mark.parametrize("cron", PREFECT_REJECTS)
def test_the_crons_are_ones_cronsim_accepts_and_prefect_rejects(cron: str) -> None:
    assert pydantic.TypeAdapter(Cron).validate_python(cron) == cron
    with pytest.raises(pydantic.ValidationError):
        CronSchedule(cron=cron)


def test_validate_reports_every_cron_prefect_rejects_with_the_other_problems(
    manifests: Path,
) -> None:
    files = [
        write_pipeline(manifests, f"weekly-{i}", [WORK], schedule={"cron": cron})
        for i, cron in enumerate(PREFECT_REJECTS)
    ]
    broken = write_pipeline(manifests, "broken", [{**WORK, "kind": "nonsense"}])
    code, out, err = cli("validate", str(manifests))
    assert code != 0, out
    assert "Traceback" not in out + err
    printed = err.replace("\n", "")
    for file, cron in zip(files, PREFECT_REJECTS, strict=True):
        assert (
            f"{file}:{line_of(file, CRON_KEY)}: spec.schedule.cron: Prefect's scheduler rejects "
            f"cron '{cron}'"
        ) in printed
    assert f"{broken}:" in printed  # the schema problem of another file, in the same report

    code, out, _ = cli("validate", str(manifests), "--json")
    assert code != 0
    if out:  # --json prints the errors on stdout too (issue 16 item 2)
        errors = json.loads(out)["errors"]
        assert sum("Prefect's scheduler rejects" in e for e in errors) == 3

    for file in files:  # a cron Prefect takes is valid
        file.write_text(file.read_text().replace('"0 0 * * 5L"', '"0 0 * * 5"'))
    files[1].write_text(files[1].read_text().replace('"0 0 LW * *"', '"0 0 L * *"'))
    files[2].write_text(files[2].read_text().replace('"0 0 L/2 * *"', '"0 0 1 * *"'))
    broken.unlink()
    code, out, err = cli("validate", str(manifests))
    assert code == 0, err


def test_validate_reports_schema_window_and_reference_problems_of_every_file_at_once(
    manifests: Path,
) -> None:
    schema = write_pipeline(manifests, "schema-bad", [{**WORK, "kind": "nonsense"}])
    window = write_pipeline(
        manifests,
        "window-bad",
        [WORK],
        schedule={"cron": "0 4 * * *", "window": {"start": "05:00", "end": "04:00"}},
    )
    reference = write_pipeline(manifests, "reference-bad", [{**WORK, "contract": "nosuch"}])
    # names a pipeline whose file is invalid: its own problem is reported, not a false one here
    downstream = write_pipeline(
        manifests,
        "downstream",
        [WORK],
        triggers=[{"on": "pipeline-published", "pipeline": "schema-bad"}],
    )
    code, out, err = cli("validate", str(manifests), "--json")
    assert code != 0, out
    assert "Traceback" not in out + err
    errors = json.loads(out)["errors"]
    assert [e for e in errors if e.startswith(f"{schema}:")] != []
    assert any(
        e.startswith(f"{window}:") and "window end 04:00 is not after start 05:00" in e
        for e in errors
    ), errors
    assert any(
        e.startswith(f"{reference}:") and "names unknown contract 'nosuch'" in e for e in errors
    ), errors
    assert not any(e.startswith(f"{downstream}:") for e in errors), errors
