"""Suspend while held (issue 12): a deployment run that drifts leaves its worker, and a
worker runs it again from the top once a decision arrives, by the CLI or the way the
Prefect UI resumes it. Real server, real process workers, real subprocess flow runs."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from bc_testkit import (
    ProcessWorker,
    cli,
    deploy_project,
    flow_state,
    require_signed_approvals,
    wait_for,
    write_pipeline,
)
from sqlalchemy import select

from barecount.examples.finance import write_extract
from barecount.ledger import get_ledger
from barecount.ledger.models import (
    Decision,
    GateCheck,
    HoldEvent,
    HoldSuspension,
    PipelineRun,
    Publication,
    StageAttempt,
)

pytestmark = [
    pytest.mark.usefixtures("prefect_api"),
    pytest.mark.xdist_group("finance-kpi-deployment"),  # the 'barecount' pool and its workers
]
SUPPORT = Path(__file__).resolve().parents[1] / "support"


def submit(capsys, manifests: Path, pipeline: str, day: str) -> str:
    """A run of PIPELINE for DAY through its deployment; its flow run id."""
    code, out, err = cli(
        capsys, "run", pipeline, "-p", day, "--deployment", "-m", str(manifests), "--json"
    )
    assert code == 0, err
    return json.loads(out)["flow_run_id"]


def processes_of(flow_run_id: str) -> list[int]:
    """Processes on this machine running the flow run (a process worker's child)."""
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _state(flow_run_id: str, ended: tuple[str, ...]) -> str:
    """The flow run's state name; fails with Prefect's message once it is one of ``ended``."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run_id).state
    assert state.name not in ended, f"the run ended {state.name}: {state.message}"
    return state.name


def suspended(flow_run_id: str) -> bool:
    return _state(flow_run_id, ("Failed", "Crashed", "Completed")) == "Suspended"


def completed(flow_run_id: str) -> bool:
    return _state(flow_run_id, ("Failed", "Crashed", "Cancelled")) == "Completed"


@pytest.fixture
def project(manifests: Path, home: Path, tmp_path: Path, monkeypatch) -> Path:
    """finance-kpi (small extracts, no event triggers), a pipeline extracting 'items' that
    drifts, and one with no contract, applied to the session's server: their manifests."""
    monkeypatch.setenv("PYTHONPATH", str(SUPPORT))  # the workers' flow runs import test stages
    require_signed_approvals(manifests)
    pipeline = manifests / "pipelines" / "finance-kpi.yaml"
    text = pipeline.read_text().replace("invoices_per_day: 2000", "invoices_per_day: 60")
    start, end = text.index("  triggers:\n"), text.index("  retries:")
    pipeline.write_text(text[:start] + text[end:])  # no event triggers: other tests' events
    drift = {
        "name": "extract",
        "kind": "ingestion",
        "run": "bc_test_stages:drift_with",
        "contract": "items",
        "params": {"column": "note"},
    }
    write_pipeline(manifests, "items-drift", [drift])
    expiring = {"governance": {"approval_timeout_seconds": 10}}
    write_pipeline(manifests, "items-expiring", [drift], **expiring)
    plain = {"name": "work", "kind": "kpi", "run": "bc_test_stages:combine", "publishes": ["total"]}
    write_pipeline(manifests, "plain", [plain])
    pipelines = ("finance-kpi", "items-drift", "items-expiring", "plain")
    return deploy_project(manifests, tmp_path / "project", *pipelines)


def legs(token: str) -> list[tuple[str, int]]:
    """The hold, its suspension legs and its decisions under ``token``, in ledger order."""
    with get_ledger().session() as session:
        checks = session.execute(select(GateCheck).where(GateCheck.token == token)).scalars()
        ids = [c.id for c in checks]
        events = select(HoldEvent).where(HoldEvent.check_id.in_(ids))
        suspensions = select(HoldSuspension).where(HoldSuspension.token == token)
        decisions = select(Decision).where(Decision.token == token)
        rows = [
            *((f"hold {e.status}", e.id) for e in session.execute(events).scalars()),
            *((s.action, s.id) for s in session.execute(suspensions).scalars()),
            *((f"decision {d.decision}", d.id) for d in session.execute(decisions).scalars()),
        ]
    return sorted(rows, key=lambda row: row[1])


def test_a_held_deployment_run_leaves_its_worker_and_resumes_once_approved(
    capsys, project: Path, home: Path, tmp_path: Path
) -> None:
    day = "2026-08-10"
    write_extract(home / "landing", "erp.invoices", day, 60, drift="rename-column")
    with ProcessWorker(tmp_path / "project"):
        flow_run_id = submit(capsys, project, "finance-kpi", day)
        wait_for(lambda: suspended(flow_run_id), timeout=180, what="the held run suspended")
        wait_for(lambda: not processes_of(flow_run_id), timeout=60, what="its process gone")
        code, out, err = cli(capsys, "pending", "--json")
        [hold] = json.loads(out)
        assert (hold["flow_run_id"], hold["waiting"]) == (flow_run_id, "suspended")

        code, out, err = cli(capsys, "approve", hold["token"], "--as", "alice", "-m", str(project))
        assert code == 0, err
        assert "Traceback" not in out + err
        wait_for(lambda: completed(flow_run_id), timeout=180, what="the resumed run completed")

    token = hold["token"]
    with get_ledger().session() as session:
        runs = session.execute(select(PipelineRun).where(PipelineRun.token == token)).scalars()
        assert [r.flow_run_id for r in runs] == [flow_run_id]  # one run, held and resumed
        ingestion = session.execute(
            select(StageAttempt.state).where(
                StageAttempt.token == token, StageAttempt.stage == "ingest-invoices"
            )
        ).scalars()
        assert sorted(ingestion) == ["cached", "completed"]  # it ran once; the resume reused it
        kpis = session.execute(select(Publication.kpi).where(Publication.token == token)).scalars()
        assert sorted(kpis) == ["dso_days", "overdue_ratio", "revenue_daily"]  # published once
    assert [name for name, _ in legs(token)] == [
        "hold pending",
        "suspended",
        "decision approve",
        "resumed",
        "hold approved",
    ]


def test_held_runs_free_the_pool_and_resume_through_the_api_as_the_ui_does(
    capsys, project: Path, home: Path, tmp_path: Path, prefect_api: str
) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate

    from barecount.governance.signing import approval_message, load_private_key, sign
    from barecount.names import WORK_POOL
    from barecount.settings import get_settings

    day = "2026-08-11"
    write_extract(home / "landing", "erp.invoices", day, 60, drift="rename-column")
    with get_client(sync_client=True) as client:
        client.update_work_pool(WORK_POOL, WorkPoolUpdate(concurrency_limit=1))
    try:
        with ProcessWorker(tmp_path / "project"):
            held = [submit(capsys, project, p, day) for p in ("finance-kpi", "items-drift")]
            wait_for(lambda: all(map(suspended, held)), timeout=240, what="both runs suspended")
            unrelated = submit(capsys, project, "plain", day)
            wait_for(lambda: completed(unrelated), timeout=180, what="the unrelated run completed")
            assert [flow_state(f) for f in held] == ["Suspended", "Suspended"]

            code, out, _ = cli(capsys, "pending", "--json")
            check = next(h for h in json.loads(out) if h["flow_run_id"] == held[1])
            with get_ledger().session() as session:
                fingerprint = session.get(GateCheck, check["hold"]).schema_fingerprint
            message = approval_message(
                flow_run_id=held[1], contract="items", fingerprint=fingerprint, decision="approve"
            )
            signature = sign(load_private_key(get_settings().home, "alice"), message)
            answer = httpx.post(  # what the Prefect UI's resume form sends
                f"{prefect_api}/flow_runs/{held[1]}/resume",
                json={
                    "run_input": {
                        "decision": "approve",
                        "approver": "alice",
                        "reason": "a note column is fine",
                        "signature": signature,
                    }
                },
                timeout=30,
            )
            assert answer.status_code in (200, 201), answer.text
            assert answer.json()["status"] == "ACCEPT", answer.text
            wait_for(lambda: completed(held[1]), timeout=180, what="the API-resumed run completed")
            code, out, err = cli(
                capsys, "reject", held[0], "--as", "bob", "--reason", "no", "-m", str(project)
            )
            assert code == 0, err
            wait_for(lambda: flow_state(held[0]) == "Failed", timeout=180, what="rejected run")
    finally:
        with get_client(sync_client=True) as client:
            client.update_work_pool(WORK_POOL, WorkPoolUpdate(concurrency_limit=None))
    assert [name for name, _ in legs(check["token"])][-3:] == [
        "decision approve",
        "resumed",
        "hold approved",
    ]


def test_a_suspended_hold_that_nobody_decides_expires_and_is_recorded(
    capsys, project: Path, tmp_path: Path
) -> None:
    from barecount.ledger.models import RunSummary

    with ProcessWorker(tmp_path / "project"):
        flow_run_id = submit(capsys, project, "items-expiring", "2026-08-12")
        wait_for(lambda: suspended(flow_run_id), timeout=180, what="the held run suspended")
    # nothing waits in a process: Prefect fails the run at the approval timeout ...
    wait_for(lambda: flow_state(flow_run_id) == "Failed", timeout=120, what="the pause expired")
    code, out, err = cli(capsys, "pending", "--json")
    assert code == 0, err
    assert json.loads(out) == []  # ... and the next look at the holds records the expiry
    with get_ledger().session() as session:
        [run] = session.execute(
            select(PipelineRun).where(PipelineRun.flow_run_id == flow_run_id)
        ).scalars()
        ends = session.execute(select(RunSummary).where(RunSummary.run_id == run.id)).scalars()
        assert [e.status for e in ends] == ["timed-out"]
    assert [name for name, _ in legs(run.token)] == ["hold pending", "suspended", "hold timed-out"]
