"""The pure GitOps core: desired state from compiled specs, and its diff to the server's.

No Prefect server: the server's side is written as an `ActualState` by hand, shaped as
`barecount.deploy.apply.read_actual` returns it (ids on deployments, schedules, triggers).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from bc_testkit import write_pipeline

from barecount.deploy.compile import compile_manifests
from barecount.deploy.plan import (
    FIELDS,
    ActualState,
    DesiredDeployment,
    Plan,
    Schedule,
    Trigger,
    desired_state,
    diff,
    normalise_trigger,
)
from barecount.errors import GitOpsError
from barecount.manifest import load_manifests
from barecount.names import FLOW_NAME, WORK_POOL

FLOW = {"version": "v1", "parameter_openapi_schema": {"type": "object"}}
PROJECT = Path("/srv/barecount")
NAME = "finance-kpi"


def event_trigger(name: str, event: str, resource: str) -> dict[str, Any]:
    """A trigger as `compile_trigger` writes it."""
    return {
        "type": "event",
        "name": name,
        "enabled": True,
        "match": {"prefect.resource.id": resource},
        "expect": [event],
        "posture": "Reactive",
        "threshold": 1,
        "within": 0,
        "parameters": {"pipeline": NAME, "partition": "{{ event.payload.partition }}"},
    }


SOURCE = event_trigger(
    f"{NAME} on source-updated erp.invoices",
    "barecount.source.updated",
    "barecount.source.erp.invoices",
)
CONTRACT = event_trigger(
    f"{NAME} on contract-approved invoices",
    "barecount.contract.approved",
    "barecount.contract.invoices",
)
PUBLISHED = event_trigger(
    f"{NAME} on pipeline-published sales",
    "barecount.pipeline.published",
    "barecount.pipeline.sales",
)


def spec(
    name: str = NAME,
    *,
    cron: str | None = "0 2 * * *",
    active: bool = True,
    triggers: tuple[dict[str, Any], ...] = (SOURCE, CONTRACT),
    **settings: Any,
) -> dict[str, Any]:
    """A deployment spec as `compile_pipeline` writes it."""
    schedules = [
        {
            "cron": cron,
            "timezone": "Europe/Berlin",
            "active": active,
            "parameters": {"trigger": "schedule"},
        }
    ]
    return {
        "name": name,
        "description": f"BareCount pipeline {name}",
        "entrypoint": "flows/governed_pipeline.py:governed_pipeline",
        "parameters": {"pipeline": name},
        "tags": ["barecount", f"pipeline:{name}"],
        "work_pool": {"name": WORK_POOL, "work_queue_name": "default", "job_variables": {}},
        "schedules": schedules if cron is not None else [],
        "triggers": list(triggers),
        **settings,
    }


def wanted(*specs: dict[str, Any]) -> list[DesiredDeployment]:
    return desired_state(specs, project_dir=PROJECT, flow=FLOW)


def stored(deployment: DesiredDeployment, id: str = "d1", **changes: Any) -> DesiredDeployment:
    """The deployment as read back from the server: it and its parts carry ids."""
    deployment = replace(deployment, **changes)
    return replace(
        deployment,
        id=id,
        schedules=tuple(
            s if s.id else replace(s, id=f"{id}-s{i}") for i, s in enumerate(deployment.schedules)
        ),
        triggers=tuple(replace(t, id=f"{id}-t{i}") for i, t in enumerate(deployment.triggers)),
    )


def server(*deployments: DesiredDeployment, **state: Any) -> ActualState:
    return ActualState(deployments=list(deployments), **state)


# --- desired state ------------------------------------------------------------------------


def test_desired_state_is_the_spec_in_the_shapes_prefect_stores() -> None:
    (want,) = wanted(spec(triggers=({k: v for k, v in SOURCE.items() if k != "name"},)))
    assert want.name == NAME
    assert want.id is None
    assert want.settings == {
        "description": f"BareCount pipeline {NAME}",
        "tags": ["barecount", f"pipeline:{NAME}"],
        "parameters": {"pipeline": NAME},
        "entrypoint": "flows/governed_pipeline.py:governed_pipeline",
        "work_pool_name": WORK_POOL,
        "work_queue_name": "default",
        "job_variables": {},
        "pull_steps": [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT)}}
        ],
        "version": "v1",
        "parameter_openapi_schema": {"type": "object"},
    }
    assert set(want.settings) == {a for attrs in FIELDS.values() for a in attrs}
    (schedule,) = want.schedules
    assert schedule == Schedule(
        {"cron": "0 2 * * *", "timezone": "Europe/Berlin", "day_or": True},
        True,
        {"trigger": "schedule"},
    )
    assert schedule.describe() == "cron '0 2 * * *' Europe/Berlin"
    (trigger,) = want.triggers
    assert trigger.name == f"{NAME}__automation_1"  # the name `prefect deploy` would give it
    assert trigger.content["expect"] == ["barecount.source.updated"]
    assert trigger.content["parameters"] == SOURCE["parameters"]


def test_desired_state_from_compiled_manifests(manifests: Path) -> None:
    write_pipeline(
        manifests,
        "gx-plan",
        [{"name": "total", "kind": "transform", "run": "bc_test_stages:sleepy"}],
        partition={"calendar": "daily"},
        schedule={"cron": "0 2 * * *", "timezone": "Europe/Berlin", "active": False},
        triggers=[{"on": "source-updated", "source": "erp.invoices"}],
    )
    specs = compile_manifests(load_manifests(manifests))
    (want,) = [d for d in desired_state(specs, project_dir=PROJECT) if d.name == "gx-plan"]
    assert [s.describe() for s in want.schedules] == ["cron '0 2 * * *' Europe/Berlin (paused)"]
    assert [t.name for t in want.triggers] == ["gx-plan on source-updated erp.invoices"]
    # without `flow`, version and parameter schema are read from the governed flow
    assert "pipeline" in want.settings["parameter_openapi_schema"]["properties"]
    assert want.settings["version"] is not None


def test_desired_state_takes_work_pool_queue_and_job_variables_from_the_spec() -> None:
    pool = {"name": "gpu", "work_queue_name": "nightly", "job_variables": {"env": {"X": "1"}}}
    (want,) = wanted(spec(work_pool=pool))
    assert {
        k: want.settings[k] for k in ("work_pool_name", "work_queue_name", "job_variables")
    } == {
        "work_pool_name": "gpu",
        "work_queue_name": "nightly",
        "job_variables": {"env": {"X": "1"}},
    }
    (bare,) = wanted(spec(work_pool={}))
    assert (bare.settings["work_pool_name"], bare.settings["work_queue_name"]) == (
        WORK_POOL,
        "default",
    )


def test_pull_step_points_at_the_absolute_project_dir(monkeypatch, tmp_path) -> None:
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path)
    (want,) = desired_state([spec()], project_dir=Path("project"), flow=FLOW)
    assert want.settings["pull_steps"] == [
        {
            "prefect.deployments.steps.set_working_directory": {
                "directory": str(tmp_path / "project")
            }
        }
    ]


# --- diff ---------------------------------------------------------------------------------


def test_missing_deployment_is_created_with_its_schedules_and_triggers() -> None:
    (want,) = wanted(spec())
    plan = diff([want], server(work_pool_exists=False))
    assert plan.create_work_pool
    assert plan.has_changes
    (change,) = plan.changes
    assert (change.action, change.name, change.full_name) == ("create", NAME, f"{FLOW_NAME}/{NAME}")
    assert change.deployment_id is None
    assert change.desired == want
    assert change.create_schedules == want.schedules
    assert [t.name for t in change.create_triggers] == [SOURCE["name"], CONTRACT["name"]]
    assert (change.delete_schedules, change.delete_triggers) == ((), ())
    assert plan.unchanged == ()


def test_nothing_to_do_when_the_server_matches() -> None:
    want = wanted(spec(), spec("sales"))
    plan = diff(want, server(*(stored(d, id=d.name) for d in want)))
    assert plan == Plan(create_work_pool=False, changes=(), unchanged=(NAME, "sales"))
    assert not plan.has_changes


def test_a_missing_work_pool_alone_is_a_change() -> None:
    (want,) = wanted(spec())
    plan = diff([want], server(stored(want), work_pool_exists=False))
    assert plan.has_changes
    assert (plan.create_work_pool, plan.changes, plan.unchanged) == (True, (), (NAME,))


@pytest.mark.parametrize(
    ("attribute", "value", "label"),
    [
        ("description", "changed by hand", "description"),
        ("tags", ["barecount"], "tags"),
        ("parameters", {"pipeline": "other"}, "parameters"),
        ("entrypoint", "elsewhere.py:flow", "entrypoint"),
        ("work_pool_name", "other-pool", "work pool"),
        ("work_queue_name", "by-hand", "work pool"),
        ("job_variables", {"env": {"X": "1"}}, "job variables"),
        ("pull_steps", [], "pull steps"),
        ("parameter_openapi_schema", {"type": "object", "properties": {}}, "parameter schema"),
        ("version", "by-hand", "version"),
    ],
)
def test_a_changed_setting_is_an_update_naming_its_field(attribute, value, label) -> None:
    (want,) = wanted(spec())
    have = stored(want, settings={**want.settings, attribute: value})
    (change,) = diff([want], server(have)).changes
    assert (change.action, change.deployment_id, change.fields) == ("update", "d1", (label,))
    assert change.desired.settings[attribute] == want.settings[attribute]
    assert change.create_schedules == change.delete_schedules == ()
    assert change.create_triggers == change.delete_triggers == ()


def test_changed_fields_are_named_in_a_fixed_order() -> None:
    (want,) = wanted(spec())
    stale = {**want.settings, "version": "v0", "tags": [], "description": "old"}
    (change,) = diff([want], server(stored(want, settings=stale))).changes
    assert change.fields == ("description", "tags", "version")


def test_a_new_schedule_is_created() -> None:
    (want,) = wanted(spec())
    have = stored(want, schedules=())
    (change,) = diff([want], server(have)).changes
    assert (change.action, change.fields) == ("update", ())
    assert [s.describe() for s in change.create_schedules] == ["cron '0 2 * * *' Europe/Berlin"]
    assert change.delete_schedules == ()


def test_a_removed_schedule_is_deleted_by_id() -> None:
    (want,) = wanted(spec(cron=None))
    (have,) = wanted(spec())
    (change,) = diff([want], server(stored(have))).changes
    assert (change.action, change.fields, change.create_schedules) == ("update", (), ())
    assert [(s.id, s.describe()) for s in change.delete_schedules] == [
        ("d1-s0", "cron '0 2 * * *' Europe/Berlin")
    ]
    assert change.create_triggers == change.delete_triggers == ()


def test_a_changed_cron_replaces_the_schedule_and_extra_ones_go() -> None:
    (want,) = wanted(spec(cron="30 1 * * *"))
    old = Schedule(
        {"cron": "0 2 * * *", "timezone": "Europe/Berlin", "day_or": True},
        parameters={"trigger": "schedule"},
        id="s1",
    )
    extra = Schedule({"interval": 3600.0, "timezone": "UTC"}, id="s2")
    (change,) = diff([want], server(stored(want, schedules=(old, extra)))).changes
    assert change.fields == ()
    assert [s.describe() for s in change.create_schedules] == ["cron '30 1 * * *' Europe/Berlin"]
    assert [(s.id, s.describe()) for s in change.delete_schedules] == [
        ("s1", "cron '0 2 * * *' Europe/Berlin"),
        ("s2", "interval '3600.0' UTC"),
    ]


def test_pausing_a_schedule_replaces_it() -> None:
    (want,) = wanted(spec(active=False))
    (have,) = wanted(spec())
    (change,) = diff([want], server(stored(have))).changes
    assert [s.describe() for s in change.create_schedules] == [
        "cron '0 2 * * *' Europe/Berlin (paused)"
    ]
    assert [s.id for s in change.delete_schedules] == ["d1-s0"]


def test_a_duplicated_schedule_on_the_server_loses_its_copy() -> None:
    (want,) = wanted(spec())
    (schedule,) = want.schedules
    copies = (replace(schedule, id="a"), replace(schedule, id="b"))
    (change,) = diff([want], server(stored(want, schedules=copies))).changes
    assert change.create_schedules == ()
    assert [s.id for s in change.delete_schedules] in (["a"], ["b"])  # one copy, either


def test_a_changed_trigger_is_replaced_and_the_others_are_kept() -> None:
    (want,) = wanted(spec(triggers=(SOURCE, PUBLISHED)))
    (have,) = wanted(spec(triggers=(SOURCE, CONTRACT)))
    (change,) = diff([want], server(stored(have))).changes
    assert (change.action, change.fields) == ("update", ())
    assert change.create_schedules == change.delete_schedules == ()
    assert [t.name for t in change.create_triggers] == [PUBLISHED["name"]]
    assert [(t.id, t.name) for t in change.delete_triggers] == [("d1-t1", CONTRACT["name"])]


def test_a_trigger_with_changed_parameters_is_replaced() -> None:
    edited = {**SOURCE, "parameters": {**SOURCE["parameters"], "partition": "2024-01-01"}}
    (want,) = wanted(spec(triggers=(edited,)))
    (have,) = wanted(spec(triggers=(SOURCE,)))
    (change,) = diff([want], server(stored(have))).changes
    assert [t.content["parameters"]["partition"] for t in change.create_triggers] == ["2024-01-01"]
    assert [t.id for t in change.delete_triggers] == ["d1-t0"]


def test_trigger_comparison_ignores_event_order_and_ids() -> None:
    (want,) = wanted(spec(triggers=(SOURCE,)))
    content = {**want.triggers[0].content, "expect": ["b.event", "a.event"], "id": "x"}
    reordered = {**content, "expect": ["a.event", "b.event"]}
    assert normalise_trigger(content) == {k: v for k, v in reordered.items() if k != "id"}
    assert Trigger(normalise_trigger(content)).key() == Trigger(normalise_trigger(reordered)).key()
    assert Trigger(normalise_trigger(content)).key() != want.triggers[0].key()


def test_a_pipeline_gone_from_the_manifests_is_deleted_with_its_triggers() -> None:
    (have,) = wanted(spec())
    (change,) = diff([], server(stored(have, id="d7"))).changes
    assert (change.action, change.name, change.deployment_id) == ("delete", NAME, "d7")
    assert change.fields == ()
    assert [t.id for t in change.delete_triggers] == ["d7-t0", "d7-t1"]
    assert [s.id for s in change.delete_schedules] == ["d7-s0"]
    assert change.create_schedules == change.create_triggers == ()


def test_a_bare_deployment_gone_from_the_manifests_is_still_deleted() -> None:
    (have,) = wanted(spec(cron=None, triggers=()))
    plan = diff([], server(stored(have, id="d7")))
    assert [(c.action, c.deployment_id) for c in plan.changes] == [("delete", "d7")]
    assert plan.unchanged == ()


def test_only_limits_the_plan_to_the_named_pipelines() -> None:
    want = wanted(spec(), spec("sales"))
    owned_elsewhere = stored(wanted(spec("gone"))[0], id="d9")  # would be deleted unscoped
    plan = diff(want, server(owned_elsewhere), only={"sales"})
    assert [(c.action, c.name) for c in plan.changes] == [("create", "sales")]
    assert plan.unchanged == ()
    unscoped = diff(want, server(owned_elsewhere))
    assert [(c.action, c.name) for c in unscoped.changes] == [
        ("create", NAME),
        ("delete", "gone"),
        ("create", "sales"),
    ]


def test_an_untagged_deployment_of_a_pipeline_is_refused() -> None:
    want = wanted(spec(), spec("sales"))
    with pytest.raises(GitOpsError) as caught:
        diff(want, server(foreign=frozenset({NAME, "sales", "hand-made"})))
    assert str(caught.value) == (
        f"deployment(s) {FLOW_NAME}/{NAME}, {FLOW_NAME}/sales exist on the server without "
        "the 'barecount' tag, so BareCount does not own them; delete them, or tag them "
        "'barecount' to let 'barecount apply' take them over"
    )


def test_untagged_deployments_no_pipeline_claims_are_left_alone() -> None:
    want = wanted(spec())
    plan = diff(want, server(foreign=frozenset({"hand-made", NAME})), only={"sales"})
    assert plan == Plan(create_work_pool=False, changes=())
    plan = diff(want, server(foreign=frozenset({"hand-made"})))
    assert [(c.action, c.name) for c in plan.changes] == [("create", NAME)]
