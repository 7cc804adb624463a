"""Every validation rule of DESIGN.md section 4, with a broken manifest and its exact message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from barecount.errors import ManifestError
from barecount.manifest import load_manifests

CONTRACT = """\
apiVersion: v3.0.2
kind: DataContract
id: {name}
name: {name}
version: 1.0.0
status: active
schema:
  - name: {name}
    properties:
      - {{name: id, logicalType: string, required: true}}
"""

TEAM = """\
apiVersion: barecount/v1
kind: Team
metadata: {name: data-team}
spec:
  approvers: [{name: alice, public_key: "ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]
"""

# Line numbers in the expected messages refer to this layout: stages start on line 8.
PIPELINE = """\
apiVersion: barecount/v1
kind: Pipeline
metadata: {{name: {name}, owner: data-team}}
spec:
  schedule: {schedule}
  triggers: {triggers}
  stages:
    - {{name: ingest, kind: ingestion, run: "json:loads", contract: orders}}
    - {{name: clean, kind: transform, needs: [ingest], run: "json:dumps"}}
    - {{name: kpis, kind: kpi, needs: [{kpi_needs}], run: "json:dumps", publishes: [orders_daily]}}
"""


def write_project(root: Path, **pipelines: dict[str, str]) -> Path:
    (root / "contracts").mkdir(parents=True)
    (root / "teams").mkdir()
    (root / "pipelines").mkdir()
    (root / "contracts" / "orders.yaml").write_text(CONTRACT.format(name="orders"))
    (root / "teams" / "data-team.yaml").write_text(TEAM)
    for name, fields in pipelines.items():
        values = {"name": name, "schedule": "null", "triggers": "[]", "kpi_needs": "clean"}
        values.update(fields)
        (root / "pipelines" / f"{name}.yaml").write_text(PIPELINE.format(**values))
    return root


def problems(root: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_manifests(root)
    assert isinstance(info.value, ValueError)  # ManifestError is also a ValueError
    return [p.replace(f"{root}/", "") for p in info.value.problems]


def test_valid_project_loads(tmp_path: Path) -> None:
    found = load_manifests(write_project(tmp_path, orders={}))
    assert sorted(found.pipelines) == ["orders"]
    assert found.pipeline("orders").stage("kpis").publishes == ("orders_daily",)


def test_shipped_manifests_are_valid() -> None:
    found = load_manifests(Path(__file__).resolve().parents[2] / "manifests")
    assert "finance-kpi" in found.pipelines
    assert "invoices" in found.contracts


def test_unknown_field_names_line_and_suggests(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    path = root / "pipelines" / "orders.yaml"
    path.write_text(path.read_text().replace("needs: [ingest]", "nedds: [ingest]"))
    assert problems(root) == [
        "pipelines/orders.yaml:9: spec.stages[1]: unknown field 'nedds' (did you mean 'needs'?); "
        "allowed: name, kind, run, needs, contract, publishes, retries, timeout_seconds, params, "
        "code_version"
    ]


def test_unknown_needs_suggests_closest_stage(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={"kpi_needs": "claen"})
    assert problems(root) == [
        "pipelines/orders.yaml:10: stage 'kpis' needs unknown stage 'claen' (did you mean 'clean'?)"
    ]


def test_cycle_is_named(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    path = root / "pipelines" / "orders.yaml"
    text = path.read_text().replace(
        "name: clean, kind: transform, needs: [ingest]",
        "name: clean, kind: transform, needs: [kpis]",
    )
    path.write_text(text)
    assert problems(root) == [
        "pipelines/orders.yaml:9: stages form a cycle: clean -> kpis -> clean; "
        "remove one of these needs"
    ]


def test_duplicate_stage_names(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    path = root / "pipelines" / "orders.yaml"
    extra = '    - {name: clean, kind: transform, needs: [ingest], run: "json:dumps"}\n'
    path.write_text(path.read_text() + extra)
    assert problems(root) == [
        "pipelines/orders.yaml:11: duplicate stage 'clean' (first on line 9); "
        "stage names must be unique in a pipeline"
    ]


def test_duplicate_pipeline_names_across_files(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    (root / "pipelines" / "copy.yaml").write_text((root / "pipelines" / "orders.yaml").read_text())
    assert problems(root) == [
        "pipelines/orders.yaml:3: duplicate pipeline 'orders' "
        "(first in pipelines/copy.yaml:3); pipeline names must be unique"
    ]


def test_run_target_module_that_does_not_import(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    path = root / "pipelines" / "orders.yaml"
    path.write_text(path.read_text().replace('run: "json:dumps"}', 'run: "no_such_pkg.mod:fn"}', 1))
    assert problems(root) == [
        "pipelines/orders.yaml:9: stage 'clean': run 'no_such_pkg.mod:fn': cannot import module "
        "'no_such_pkg.mod' (ModuleNotFoundError: No module named 'no_such_pkg'); check the module "
        "path and that it is installed"
    ]


def test_run_target_missing_function_and_not_callable(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    path = root / "pipelines" / "orders.yaml"
    text = path.read_text().replace('run: "json:dumps"}', 'run: "json:dump_s"}', 1)
    text = text.replace('run: "json:dumps", publishes', 'run: "json:__all__", publishes')
    path.write_text(text)
    assert problems(root) == [
        "pipelines/orders.yaml:9: stage 'clean': run 'json:dump_s': module 'json' has no "
        "'dump_s' (did you mean 'dumps'?)",
        "pipelines/orders.yaml:10: stage 'kpis': run 'json:__all__': '__all__' is a list, "
        "not a function",
    ]


def test_bad_run_syntax(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    path = root / "pipelines" / "orders.yaml"
    path.write_text(path.read_text().replace('run: "json:dumps"}', 'run: "json.dumps"}', 1))
    assert problems(root) == [
        "pipelines/orders.yaml:9: spec.stages[1].run: 'json.dumps' is not valid: use "
        "'package.module:function' (e.g. 'barecount.examples.finance:ingest_invoices')"
    ]


def test_bad_cron(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={"schedule": '{cron: "0 25 * * *"}'})
    assert problems(root) == [
        "pipelines/orders.yaml:5: spec.schedule.cron: invalid cron '0 25 * * *': Bad hour; "
        "e.g. '0 0 * * *' for daily at midnight"
    ]


def test_cron_with_wrong_field_count(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={"schedule": '{cron: "0 0 * *"}'})
    assert problems(root) == [
        "pipelines/orders.yaml:5: spec.schedule.cron: cron '0 0 * *' has 4 fields; expected 5 "
        "(minute hour day-of-month month day-of-week), e.g. '0 0 * * *'"
    ]


def test_bad_timezone(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={"schedule": '{cron: "0 0 * * *", timezone: Mars/Base}'})
    assert problems(root) == [
        "pipelines/orders.yaml:5: spec.schedule.timezone: unknown time zone 'Mars/Base'; "
        "use an IANA name such as 'Europe/Berlin' or 'UTC'"
    ]


def test_window_end_before_start(tmp_path: Path) -> None:
    schedule = '{cron: "0 0 * * *", window: {start: "06:00", end: "02:00"}}'
    root = write_project(tmp_path, orders={"schedule": schedule})
    assert problems(root) == [
        "pipelines/orders.yaml:5: spec.schedule.window: window end 02:00 is not after start "
        "06:00; windows are within one day, so pick an end later than the start"
    ]


def test_bad_window_clock(tmp_path: Path) -> None:
    schedule = '{cron: "0 0 * * *", window: {start: "6am", end: "02:00"}}'
    root = write_project(tmp_path, orders={"schedule": schedule})
    assert problems(root) == [
        "pipelines/orders.yaml:5: spec.schedule.window.start: time '6am' is not HH:MM on a "
        "24-hour clock, e.g. '04:30'"
    ]


def test_unknown_contract_reference(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    path = root / "pipelines" / "orders.yaml"
    path.write_text(path.read_text().replace("contract: orders", "contract: order"))
    assert problems(root) == [
        "pipelines/orders.yaml:8: stage 'ingest' names unknown contract 'order' (did you mean "
        "'orders'?); add manifests/contracts/order.yaml or name an existing contract"
    ]


def test_unknown_owner_team(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    path = root / "pipelines" / "orders.yaml"
    path.write_text(path.read_text().replace("owner: data-team", "owner: data-teams"))
    assert problems(root) == [
        "pipelines/orders.yaml:3: owner 'data-teams' is not a team (did you mean 'data-team'?); "
        "add manifests/teams/data-teams.yaml or name an existing team"
    ]


def test_unknown_pipeline_in_trigger(tmp_path: Path) -> None:
    root = write_project(
        tmp_path, orders={"triggers": "[{on: pipeline-published, pipeline: billing}]"}
    )
    assert problems(root) == ["pipelines/orders.yaml:6: trigger names unknown pipeline 'billing'"]


def test_unknown_contract_in_trigger(tmp_path: Path) -> None:
    root = write_project(
        tmp_path, orders={"triggers": "[{on: contract-approved, contract: ordres}]"}
    )
    assert problems(root) == [
        "pipelines/orders.yaml:6: trigger names unknown contract 'ordres' (did you mean 'orders'?)"
    ]


def test_self_trigger(tmp_path: Path) -> None:
    root = write_project(
        tmp_path, orders={"triggers": "[{on: pipeline-published, pipeline: orders}]"}
    )
    assert problems(root) == [
        "pipelines/orders.yaml:6: pipeline 'orders' triggers on its own publication, which would "
        "start it again forever; remove this trigger"
    ]


def test_cross_pipeline_cycle(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        alpha={"triggers": "[{on: pipeline-published, pipeline: beta}]"},
        beta={"triggers": "[{on: pipeline-published, pipeline: gamma}]"},
        gamma={"triggers": "[{on: pipeline-published, pipeline: alpha}]"},
    )
    assert problems(root) == [
        # alpha's publication starts gamma, gamma's starts beta, beta's starts alpha
        "pipelines/gamma.yaml:6: pipelines trigger each other in a cycle: "
        "alpha -> gamma -> beta -> alpha; each publication would start the next forever, "
        "so remove one pipeline-published trigger"
    ]


def test_unknown_trigger_kind(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={"triggers": "[{on: file-arrived, source: x}]"})
    assert problems(root) == [
        "pipelines/orders.yaml:6: spec.triggers[0]: unknown trigger 'file-arrived'; use one of "
        "source-updated, contract-approved, pipeline-published"
    ]


def test_all_problems_of_a_file_at_once(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={"schedule": '{cron: "bad", timezone: Nowhere}'})
    path = root / "pipelines" / "orders.yaml"
    path.write_text(path.read_text().replace("kind: transform", "kind: transfrom"))
    found = problems(root)
    assert found == [
        "pipelines/orders.yaml:5: spec.schedule.cron: cron 'bad' has 1 fields; expected 5 "
        "(minute hour day-of-month month day-of-week), e.g. '0 0 * * *'",
        "pipelines/orders.yaml:5: spec.schedule.timezone: unknown time zone 'Nowhere'; use an "
        "IANA name such as 'Europe/Berlin' or 'UTC'",
        "pipelines/orders.yaml:9: spec.stages[1].kind: got 'transfrom'; should be 'ingestion', "
        "'transform' or 'kpi'",
    ]


def test_missing_required_field(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    path = root / "pipelines" / "orders.yaml"
    path.write_text(path.read_text().replace('run: "json:dumps"}', "}", 1))
    assert problems(root) == [
        "pipelines/orders.yaml:9: spec.stages[1]: missing required field 'run' "
        "(Stage function as 'package.module:function'.)"
    ]


def test_ingestion_without_contract(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    path = root / "pipelines" / "orders.yaml"
    path.write_text(path.read_text().replace(", contract: orders", ""))
    assert problems(root) == [
        "pipelines/orders.yaml:8: spec.stages[0]: ingestion stage 'ingest' declares no contract; "
        "add 'contract: <name>' naming a contract in manifests/contracts/"
    ]


def test_invalid_yaml_and_duplicate_keys(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    (root / "pipelines" / "broken.yaml").write_text("kind: Pipeline\nspec: [unclosed\n")
    (root / "teams" / "dupe.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: barecount/v1
            kind: Team
            metadata: {name: dupe}
            kind: Team
            """
        )
    )
    assert problems(root) == [
        "pipelines/broken.yaml:3: not valid YAML: did not find expected ',' or ']' at column 1 "
        "(while parsing a flow sequence on line 2); close the quote or bracket, or quote a "
        "value that holds ',' '[' ']' '{' '}'",
        "teams/dupe.yaml:4: duplicate key 'kind' (first on line 2); keep one",
    ]


def test_unknown_kind_and_non_mapping(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    (root / "pipelines" / "odd.yaml").write_text("kind: Pipline\n---\n- a\n- b\n")
    assert problems(root) == [
        "pipelines/odd.yaml:1: unknown kind 'Pipline' (did you mean 'Pipeline'?); expected one "
        "of Pipeline, Team, DataContract (with apiVersion barecount/v1, or v3.x for contracts)",
        "pipelines/odd.yaml:3: a manifest must be a mapping with apiVersion, kind, metadata and "
        "spec",
    ]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such manifests folder"):
        load_manifests(tmp_path / "nope")


def test_several_documents_per_file(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={})
    team = (root / "teams" / "data-team.yaml").read_text()
    (root / "teams" / "data-team.yaml").write_text(
        team + "---\n" + team.replace("data-team", "ops")
    )
    assert sorted(load_manifests(root).teams) == ["data-team", "ops"]


def test_yaml_on_key_is_the_word_not_a_boolean(tmp_path: Path) -> None:
    root = write_project(tmp_path, orders={"triggers": "[{on: source-updated, source: shop}]"})
    trigger = load_manifests(root).pipeline("orders").spec.triggers[0]
    assert (trigger.on, trigger.source) == ("source-updated", "shop")
