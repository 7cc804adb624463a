"""Manifests compile to a deterministic prefect.yaml, and the committed one is current."""

from __future__ import annotations

from pathlib import Path

import yaml

from barecount.deploy.compile import compile_project, render_prefect_yaml
from barecount.deploy.source import compiled_pull
from barecount.manifest import load_manifests
from barecount.manifest.projectconfig import load_project_config
from barecount.manifest.schema import stale_schemas
from barecount.names import ENTRYPOINT

REPO = Path(__file__).resolve().parents[2]


def test_compile_is_byte_identical_across_runs(manifests: Path) -> None:
    first = render_prefect_yaml(compile_project(load_manifests(manifests)))
    second = render_prefect_yaml(compile_project(load_manifests(manifests)))
    assert first == second


def test_committed_prefect_yaml_is_current() -> None:
    setup = load_project_config(REPO / "barecount.yaml", required=True)
    specs = compile_project(load_manifests(REPO / "manifests"), setup)
    compiled = render_prefect_yaml(specs, compiled_pull(setup))
    committed = (REPO / "deployments" / "prefect.yaml").read_text()
    assert committed == compiled, "deployments/prefect.yaml is stale: run 'barecount compile'"


def test_committed_json_schemas_are_current() -> None:
    assert stale_schemas(REPO / "schemas") == [], "run 'barecount schema' and commit"


def test_finance_deployment_spec(manifests: Path) -> None:
    document = yaml.safe_load(render_prefect_yaml(compile_project(load_manifests(manifests))))
    (deployment,) = [d for d in document["deployments"] if d["name"] == "finance-kpi"]
    assert deployment["entrypoint"] == ENTRYPOINT
    assert deployment["parameters"] == {"pipeline": "finance-kpi"}
    assert deployment["tags"] == ["barecount", "pipeline:finance-kpi", "owner:finance-data"]
    assert deployment["schedules"] == [
        {
            "cron": "0 0 * * *",
            "timezone": "Europe/Berlin",
            "active": True,
            "parameters": {"trigger": "schedule"},
        }
    ]
    source, contract = deployment["triggers"]
    assert source["match"] == {"prefect.resource.id": "barecount.source.erp.invoices"}
    assert source["expect"] == ["barecount.source.updated"]
    assert source["parameters"]["partition"] == "{{ event.payload.partition }}"
    assert contract["match"] == {"prefect.resource.id": "barecount.contract.invoices"}
    assert contract["expect"] == ["barecount.contract.approved"]


def test_removing_the_schedule_removes_it_from_the_output(manifests: Path) -> None:
    path = manifests / "pipelines" / "finance-kpi.yaml"
    text = path.read_text()
    start = text.index("  schedule:")
    end = text.index("  triggers:")
    path.write_text(text[:start] + text[end:])
    document = yaml.safe_load(render_prefect_yaml(compile_project(load_manifests(manifests))))
    assert document["deployments"][0]["schedules"] == []
