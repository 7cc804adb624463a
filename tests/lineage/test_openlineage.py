"""Issue 15: OpenLineage events of the ledger, live to a Marquez-like receiver on 127.0.0.1 and
exported as JSONL, each validated against the OpenLineage 2-0-2 schema, each standard facet
against its own schema, BareCount's facets against the schema the project publishes."""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path

import pytest
from bc_openlineage import OURS, Receiver, facet_schema, validate_event
from bc_testkit import spawn_cli, spawn_run, write_contract, write_pipeline
from sqlalchemy import select

from barecount.ledger import get_ledger
from barecount.ledger.evidence_models import LineageEmission
from barecount.ledger.models import PipelineRun, StageAttempt
from barecount.lineage.naming import attempt_run_id, pipeline_run_id

pytestmark = pytest.mark.usefixtures("prefect_api")
SUPPORT = Path(__file__).resolve().parents[1] / "support"
PIPELINE = "lineage-demo"
PARTITION = "2026-11-16"
STAGES = [
    {"name": "extract", "kind": "ingestion", "run": "bc_test_stages:drift_with",
     "contract": "items", "params": {"column": "note"}},
    {"name": "wait", "kind": "transform", "needs": ["extract"], "run": "bc_test_stages:flaky",
     "params": {"fail_times": 1},
     "retries": {"max": 2, "backoff": "fixed", "base_seconds": 1, "max_seconds": 1, "jitter": 0}},
    {"name": "total", "kind": "kpi", "needs": ["wait"], "run": "bc_test_stages:combine",
     "publishes": ["total"]},
]  # fmt: skip


@pytest.fixture
def demo(manifests: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pipeline whose extract drifts (a new column, auto-approved), whose middle stage
    fails once and is retried, and whose last stage publishes a KPI."""
    monkeypatch.setenv("PYTHONPATH", str(SUPPORT))
    monkeypatch.delenv("OPENLINEAGE_URL", raising=False)
    write_contract(manifests, "items", [("id", "integer", True)], autoApprove="non-breaking")
    write_pipeline(manifests, PIPELINE, STAGES)
    return manifests


def run_demo(manifests: Path) -> None:
    process = spawn_run(manifests, PARTITION, PIPELINE)
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, out + err
    assert "total" in out


def ledger_rows() -> tuple[PipelineRun, list[StageAttempt]]:
    with get_ledger().session() as session:
        run = session.execute(
            select(PipelineRun).where(PipelineRun.pipeline == PIPELINE)
        ).scalar_one()
        attempts = session.execute(select(StageAttempt).order_by(StageAttempt.id)).scalars().all()
    return run, list(attempts)


def short(ref: str) -> str:
    """'ParentRunFacet.json#/$defs/ParentRunFacet' of a schema reference."""
    path, _, pointer = ref.partition("#")
    return f"{path.rsplit('/', 1)[-1]}#{pointer}"


def without_client_tags(event: dict) -> dict:
    """The event as built from the ledger: the client adds a 'tags' run facet when sending."""
    event = copy.deepcopy(event)
    event["run"]["facets"].pop("tags", None)
    return event


def test_a_run_delivers_start_and_end_of_every_attempt_in_order(
    demo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with Receiver() as receiver:
        monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
        run_demo(demo)
    received = receiver.events
    run, attempts = ledger_rows()
    assert [(a.stage, a.attempt, a.state) for a in attempts] == [
        ("extract", 1, "completed"),
        ("wait", 1, "retrying"),
        ("wait", 2, "completed"),
        ("total", 1, "completed"),
    ]
    by_run = [(e["run"]["runId"], e["eventType"]) for e in received]
    expected = []
    for attempt in attempts:
        end = "COMPLETE" if attempt.state == "completed" else "FAIL"
        expected += [(attempt_run_id(attempt), "START"), (attempt_run_id(attempt), end)]
    assert [item for item in by_run if item[1] != "OTHER"] == expected  # in order
    parent = pipeline_run_id(run)
    for event in received:
        validate_event(event)
        facet = event["run"]["facets"]["parent"]
        assert (facet["run"]["runId"], facet["job"]["name"]) == (parent, PIPELINE)
        assert event["job"]["namespace"] == "barecount"
    failed = next(e for e in received if e["eventType"] == "FAIL")
    assert failed["job"]["name"] == f"{PIPELINE}.wait"
    assert (
        failed["run"]["facets"]["errorMessage"]["message"]
        == "TransientError: source busy (attempt 1)"
    )
    [gate] = [e for e in received if e["eventType"] == "OTHER"]
    assert gate["run"]["runId"] == attempt_run_id(attempts[0])
    governance = gate["run"]["facets"]["barecount_governance"]
    assert (governance["outcome"], governance["classification"]) == (
        "auto-approved",
        "non-breaking",
    )
    assert [d["approver"] for d in governance["decisions"]] == ["auto"]
    with get_ledger().session() as session:
        assert session.execute(select(LineageEmission)).scalars().all() == []

    # what was sent live is what an export of the ledger writes, event for event
    exported = tmp_path / "events.jsonl"
    process = spawn_cli("lineage", "export", "--since", "1h", "-o", str(exported), "-m", str(demo))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"exported {len(received)} event(s) of 1 run(s) to {exported}" in err
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert lines == [without_client_tags(e) for e in received]


def test_with_the_receiver_down_the_run_publishes_and_the_ledger_notes_it(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{port}")
    run_demo(demo)
    run, attempts = ledger_rows()
    with get_ledger().session() as session:
        notes = session.execute(select(LineageEmission)).scalars().all()
        summary = session.execute(select(PipelineRun).where(PipelineRun.id == run.id)).scalar_one()
    assert summary.token == run.token
    assert notes, "no failed emission was noted"
    assert {n.transport for n in notes} == {f"http://127.0.0.1:{port}/api/v1/lineage"}
    assert notes[0].row_id == attempts[0].id and notes[0].events == 2
    assert "ConnectionError" in notes[0].error
    assert sum(n.events for n in notes) == 2 * len(attempts) + 1  # every event, noted
    code = spawn_cli("ledger", "verify")
    out, err = code.communicate(timeout=60)
    assert code.returncode == 0, out + err


def test_every_exported_event_and_facet_validates(demo: Path, tmp_path: Path) -> None:
    run_demo(demo)
    exported = tmp_path / "events.jsonl"
    process = spawn_cli(
        "lineage", "export", "--since", "2026-01-01", "-o", str(exported), "-m", str(demo)
    )
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    events = [json.loads(line) for line in exported.read_text().splitlines()]
    used = {short(ref) for event in events for ref in validate_event(event)}
    assert used >= {
        "ParentRunFacet.json#/$defs/ParentRunFacet",
        "NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet",
        "ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
        "JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
        "OwnershipJobFacet.json#/$defs/OwnershipJobFacet",
        "SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
        "DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet",
        "DataQualityAssertionsDatasetFacet.json#/$defs/DataQualityAssertionsDatasetFacet",
        "OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet",
        "BareCountFacets.json#/$defs/BareCountRunFacet",
        "BareCountFacets.json#/$defs/BareCountGovernanceRunFacet",
    }
    assert facet_schema(events[0]["run"]["facets"]["barecount_run"]["_schemaURL"]).startswith(
        json.loads(OURS.read_text())["$id"]
    )
    # the checks bite: a broken event, or a facet that breaks its schema, is refused
    broken = copy.deepcopy(events[0])
    del broken["run"]["runId"]
    with pytest.raises(AssertionError, match="OpenLineage 2-0-2"):
        validate_event(broken)
    broken = copy.deepcopy(events[0])
    broken["run"]["facets"]["barecount_run"]["attempt"] = "first"
    with pytest.raises(AssertionError, match=r"BareCountFacets\.json"):
        validate_event(broken)
    broken = copy.deepcopy(events[0])
    del broken["run"]["facets"]["nominalTime"]["nominalStartTime"]
    with pytest.raises(AssertionError, match="NominalTimeRunFacet"):
        validate_event(broken)
