"""Issue 6 acceptance: backfills pinned to contract versions, resumable, on record; replay."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from bc_testkit import spawn_cli, wait_for, write_pipeline
from sqlalchemy import func, select

from barecount.cli.main import main
from barecount.errors import UnknownContractVersionError
from barecount.ledger import get_ledger
from barecount.ledger.models import BackfillOutcome, GateCheck, PipelineRun, Publication
from barecount.runtime.flows import governed_backfill

pytestmark = pytest.mark.usefixtures("prefect_api")


def small(manifests: Path, per_day: int = 50) -> Path:
    path = manifests / "pipelines" / "finance-kpi.yaml"
    path.write_text(
        path.read_text().replace("invoices_per_day: 2000", f"invoices_per_day: {per_day}")
    )
    return manifests


def publications_per_partition() -> dict[str, int]:
    with get_ledger().session() as session:
        rows = session.execute(
            select(Publication.partition, func.count())
            .where(Publication.pipeline == "finance-kpi")
            .group_by(Publication.partition)
        ).all()
    return dict(rows)


def count(model) -> int:
    with get_ledger().session() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_thirty_days_publish_once_and_a_rerun_runs_nothing(home: Path, manifests: Path) -> None:
    small(manifests)
    first = governed_backfill(
        pipeline="finance-kpi",
        start="2026-10-01",
        end="2026-10-30",
        parallel=6,
        manifests=str(manifests),
    )
    assert first["counts"] == {"published": 30, "skipped": 0}
    per_partition = publications_per_partition()
    assert len(per_partition) == 30 and set(per_partition.values()) == {3}  # 3 KPIs, once
    runs = count(PipelineRun)

    again = governed_backfill(
        pipeline="finance-kpi", start="2026-10-01", end="2026-10-30", manifests=str(manifests)
    )
    assert again["counts"] == {"skipped": 30}
    assert count(PipelineRun) == runs  # nothing ran
    assert publications_per_partition() == per_partition


def test_mode_failed_reruns_only_the_failed_partitions(home: Path, manifests: Path) -> None:
    small(manifests)
    landing = home / "landing" / "erp.invoices"
    landing.mkdir(parents=True)
    for bad in ("2026-09-03", "2026-09-05"):
        (landing / f"{bad}.csv").write_text("this is not,a CSV export\x00\n")
    first = governed_backfill(
        pipeline="finance-kpi", start="2026-09-01", end="2026-09-06", manifests=str(manifests)
    )
    outcomes = {o["partition"]: o["outcome"] for o in first["outcomes"]}
    assert [p for p, o in sorted(outcomes.items()) if o == "failed"] == ["2026-09-03", "2026-09-05"]
    for bad in ("2026-09-03", "2026-09-05"):
        (landing / f"{bad}.csv").unlink()  # the ERP re-exports them
    retry = governed_backfill(
        pipeline="finance-kpi",
        start="2026-09-01",
        end="2026-09-06",
        mode="failed",
        manifests=str(manifests),
    )
    assert [(p["partition"], p["action"]) for p in retry["planned"] if p["action"] == "run"] == [
        ("2026-09-03", "run"),
        ("2026-09-05", "run"),
    ]
    assert retry["counts"] == {"published": 2, "skipped": 4}
    assert set(publications_per_partition().values()) == {3}
    assert len(publications_per_partition()) == 6


def test_killed_backfill_resumes_without_duplicates(capsys, home: Path, manifests: Path):
    small(manifests, per_day=3000)
    command = ["backfill", "finance-kpi", "--start", "2026-08-01", "--end", "2026-08-20"]
    command += ["--parallel", "1", "-m", str(manifests)]
    process = spawn_cli(*command, capture=False)
    wait_for(
        lambda: count(BackfillOutcome) >= 4,
        timeout=120,
        what="four partitions done before the backfill is killed",
        process=process,
        every=0.2,
    )
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = len(publications_per_partition())
    assert 4 <= done_before < 20

    assert main(command) == 0
    per_partition = publications_per_partition()
    assert len(per_partition) == 20 and set(per_partition.values()) == {3}
    capsys.readouterr()
    assert main(["backfills", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in records] == ["finished", "unfinished"]
    assert records[0]["counts"]["skipped"] >= done_before


def test_pinned_contract_version_is_what_the_gate_checks(home: Path, manifests: Path) -> None:
    from barecount.examples.finance import write_extract
    from barecount.runtime.flows import governed_pipeline

    small(manifests)
    contract = manifests / "contracts" / "invoices.yaml"
    contract.write_text(contract.read_text().replace("value: none", "value: non-breaking"))
    write_extract(home / "landing", "erp.invoices", "2026-07-01", 50, drift="add-column")
    newer = governed_pipeline(
        pipeline="finance-kpi", partition="2026-07-01", manifests=str(manifests)
    )
    assert newer["contracts"] == {"invoices": "1.1.0"}  # auto-approved: now in force

    result = governed_backfill(
        pipeline="finance-kpi",
        start="2026-07-02",
        end="2026-07-04",
        contracts=["invoices@1.0.0"],
        manifests=str(manifests),
    )
    assert result["counts"] == {"published": 3, "skipped": 0}
    with get_ledger().session() as session:
        checks = session.execute(
            select(GateCheck.partition, GateCheck.contract_version, GateCheck.outcome)
            .where(GateCheck.partition.in_(["2026-07-02", "2026-07-03", "2026-07-04"]))
            .order_by(GateCheck.partition)
        ).all()
        runs = (
            session.execute(
                select(PipelineRun.contract_versions).where(PipelineRun.backfill_id.is_not(None))
            )
            .scalars()
            .all()
        )
    assert checks == [(p, "1.0.0", "pass") for p in ("2026-07-02", "2026-07-03", "2026-07-04")]
    assert runs == [{"invoices": "1.0.0"}] * 3
    with pytest.raises(UnknownContractVersionError, match=r"contract 'invoices' has no version"):
        governed_backfill(
            pipeline="finance-kpi",
            start="2026-07-05",
            end="2026-07-05",
            contracts=["invoices@9.9.9"],
            manifests=str(manifests),
        )


def test_replay_verify_passes_and_catches_a_nondeterministic_stage(
    capsys, home: Path, manifests: Path
) -> None:
    from barecount.runtime.flows import governed_pipeline

    small(manifests)
    good = governed_pipeline(
        pipeline="finance-kpi", partition="2026-06-01", manifests=str(manifests)
    )
    capsys.readouterr()
    code = main(["replay", good["token"], "--verify", "-m", str(manifests)])
    out = capsys.readouterr().out
    assert code == 0
    assert f"under {good['token']}: completed" in out
    assert out.count(": same (recorded") == 3

    write_pipeline(
        manifests,
        "wobbly",
        [
            {
                "name": "extract",
                "kind": "ingestion",
                "run": "bc_test_stages:extract",
                "contract": "items",
            },
            {
                "name": "clock",
                "kind": "kpi",
                "needs": ["extract"],
                "run": "bc_test_stages:unstable",
                "publishes": ["total"],
            },
        ],
    )
    wobbly = governed_pipeline(pipeline="wobbly", partition="2026-06-01", manifests=str(manifests))
    capsys.readouterr()
    code = main(["replay", wobbly["token"], "--verify", "-m", str(manifests)])
    captured = capsys.readouterr()
    assert code == 1
    assert "extract: same" in captured.out
    assert "clock: DIFFERENT" in captured.out
    assert "not deterministic: stage(s) clock gave a different output" in captured.err
    with get_ledger().session() as session:
        published = session.execute(
            select(func.count())
            .select_from(Publication)
            .where(Publication.token == wobbly["token"])
        ).scalar_one()
    assert published == 1  # the replay published nothing again


def test_backfill_exits_1_naming_failed_partitions_and_dry_runs_record_nothing(
    capsys, home: Path, manifests: Path
) -> None:
    small(manifests)
    landing = home / "landing" / "erp.invoices"
    landing.mkdir(parents=True)
    (landing / "2026-05-02.csv").write_text("this is not,a CSV export\x00\n")
    args = ["backfill", "finance-kpi", "--start", "2026-05-01", "--end", "2026-05-03"]
    capsys.readouterr()
    assert main([*args, "-m", str(manifests)]) == 1
    err = capsys.readouterr().err
    assert "1 partition(s) not published: 2026-05-02 (failed)" in err
    assert "Traceback" not in err

    assert main(["backfills", "--json"]) == 0
    before = capsys.readouterr().out
    assert main([*args, "-m", str(manifests), "--dry-run", "--mode", "all"]) == 0
    assert "planned-run 3" in capsys.readouterr().out
    assert main(["backfills", "--json"]) == 0
    assert capsys.readouterr().out == before  # a dry run is not a backfill on record

    code = main([*args, "-m", str(manifests), "--dry-run", "--contract", "invoices@9.9.9"])
    captured = capsys.readouterr()
    assert code == 1
    assert (
        "contract 'invoices' has no version '9.9.9' on record (known: 1.0.0); pin one of "
        "those, e.g. invoices@1.0.0"
    ) in captured.err
    assert "Traceback" not in captured.err
