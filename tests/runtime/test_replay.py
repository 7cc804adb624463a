"""replay --verify recomputes into a scratch copy and changes nothing live (issue 11)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from barecount.cli.main import main
from barecount.ledger import get_ledger
from barecount.ledger.models import Publication

DAY = "2026-09-14"
pytestmark = pytest.mark.usefixtures("prefect_api")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publication_rows() -> list[tuple]:
    with get_ledger().session() as session:
        rows = session.execute(select(Publication).order_by(Publication.id)).scalars()
        return [(p.id, p.token, p.kpi, p.value, p.hash) for p in rows]


def test_verify_with_a_tampered_extract_reports_it_and_changes_nothing(
    capsys, home: Path, manifests: Path
) -> None:
    pipeline = manifests / "pipelines" / "finance-kpi.yaml"
    pipeline.write_text(
        pipeline.read_text().replace("invoices_per_day: 2000", "invoices_per_day: 80")
    )
    capsys.readouterr()
    assert main(["run", "finance-kpi", "-p", DAY, "-m", str(manifests), "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    extract = home / "landing" / "erp.invoices" / f"{DAY}.csv"
    lines = extract.read_text().splitlines()
    header = lines[0].split(",")
    amount = header.index("amount")
    row = lines[1].split(",")
    row[amount] = str(float(row[amount]) + 1000)
    extract.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    warehouse, before = home / "warehouse.db", sha256(home / "warehouse.db")
    published = publication_rows()
    cached = sorted(p.name for p in (home / "results").iterdir())

    capsys.readouterr()
    code = main(["replay", token, "--verify", "-m", str(manifests)])
    out = capsys.readouterr().out
    assert code == 1
    assert "ingest-invoices: DIFFERENT" in out
    assert sha256(warehouse) == before
    assert publication_rows() == published
    assert sorted(p.name for p in (home / "results").iterdir()) == cached

    capsys.readouterr()
    assert main(["replay", token, "--verify", "-m", str(manifests), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "completed" and report["kpis"] == {}
    assert not report["verify"]["ingest-invoices"]["deterministic"]
    assert report["detail"].startswith("verify: different output at ingest-invoices")


def test_an_approved_run_replays_without_pausing(capsys, home: Path, manifests: Path) -> None:
    from bc_testkit import require_signed_approvals, spawn_run, wait_for_pause

    from barecount.examples.finance import write_extract

    governed = require_signed_approvals(manifests)
    write_extract(home / "landing", "erp.invoices", DAY, 80, drift="rename-column")
    process = spawn_run(governed, DAY)
    check = wait_for_pause(DAY, process)
    capsys.readouterr()
    assert main(["approve", check.token, "--as", "alice"]) == 0
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    published = publication_rows()
    assert len(published) == 3

    capsys.readouterr()
    code = main(["replay", check.token, "-m", str(governed), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    replayed = json.loads(captured.out)
    assert replayed["status"] == "already-published"
    assert replayed["contracts"] == {"invoices": "2.0.0"}  # what the run ended under
    assert replayed["kpis"] == {p[2]: p[3] for p in published}
    assert publication_rows() == published
    capsys.readouterr()
    assert main(["pending", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
