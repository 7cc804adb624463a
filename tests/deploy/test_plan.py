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

from barecount.deploy.compile import compile_project
from barecount.deploy.desired import desired_state, normalise_trigger
from barecount.deploy.plan import (
    FIELDS,
    ActualState,
    DesiredDeployment,
    Plan,
    Schedule,
    Trigger,
    diff,
)
from barecount.errors import GitOpsError
from barecount.manifest import load_manifests
from barecount.manifest.projectconfig import WorkPool
from barecount.names import BACKFILL_FLOW_NAME, FLOW_NAME, WORK_POOL

FLOWS = {
    FLOW_NAME: {"version": "v1", "parameter_openapi_schema": {"type": "object"}},
    BACKFILL_FLOW_NAME: {"version": "b1", "parameter_openapi_schema": {"title": "backfill"}},
}
PROJECT = Path("/srv/barecount")
PULL = [{"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT)}}]
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


def backfill(pipeline: str = NAME) -> dict[str, Any]:
    """A backfill deployment spec as `compile_backfills` writes it."""
    return {
        "name": f"{pipeline}-backfill",
        "description": f"Backfill {pipeline}",
        "entrypoint": "flows/governed_backfill.py:governed_backfill",
        "parameters": {"pipeline": pipeline},
        "tags": ["barecount", f"pipeline:{pipeline}", "backfill"],
        "work_pool": {"name": WORK_POOL, "work_queue_name": "default", "job_variables": {}},
        "schedules": [],
        "triggers": [],
    }


def wanted(*specs: dict[str, Any]) -> list[DesiredDeployment]:
    return desired_state(specs, pull_steps=PULL, flows=FLOWS)


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
    assert (want.flow, want.name, want.full_name) == (FLOW_NAME, NAME, f"{FLOW_NAME}/{NAME}")
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


def test_a_backfill_deployment_belongs_to_the_backfill_flow() -> None:
    (want,) = wanted(backfill())
    assert (want.flow, want.name, want.full_name) == (
        BACKFILL_FLOW_NAME,
        f"{NAME}-backfill",
        f"{BACKFILL_FLOW_NAME}/{NAME}-backfill",
    )
    assert want.settings == {
        "description": f"Backfill {NAME}",
        "tags": ["barecount", f"pipeline:{NAME}", "backfill"],
        "parameters": {"pipeline": NAME},
        "entrypoint": "flows/governed_backfill.py:governed_backfill",
        "work_pool_name": WORK_POOL,
        "work_queue_name": "default",
        "job_variables": {},
        "pull_steps": [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT)}}
        ],
        "version": "b1",  # the backfill flow's, not the pipeline flow's
        "parameter_openapi_schema": {"title": "backfill"},
    }
    assert (want.schedules, want.triggers) == ((), ())


def test_a_spec_whose_entrypoint_is_neither_flow_is_refused() -> None:
    with pytest.raises(GitOpsError) as caught:
        wanted(spec(entrypoint="elsewhere.py:flow"))
    assert str(caught.value) == f"deployment {NAME}: no flow at 'elsewhere.py:flow'"


def test_desired_state_from_compiled_manifests(manifests: Path) -> None:
    write_pipeline(
        manifests,
        "gx-plan",
        [{"name": "total", "kind": "transform", "run": "bc_test_stages:sleepy"}],
        partition={"calendar": "daily"},
        schedule={"cron": "0 2 * * *", "timezone": "Europe/Berlin", "active": False},
        triggers=[{"on": "source-updated", "source": "erp.invoices"}],
    )
    specs = compile_project(load_manifests(manifests))
    desired = desired_state(specs, pull_steps=PULL)
    want, back = [d for d in desired if d.name in ("gx-plan", "gx-plan-backfill")]
    assert (want.full_name, back.full_name) == (
        f"{FLOW_NAME}/gx-plan",
        f"{BACKFILL_FLOW_NAME}/gx-plan-backfill",
    )
    assert [s.describe() for s in want.schedules] == ["cron '0 2 * * *' Europe/Berlin (paused)"]
    assert [t.name for t in want.triggers] == ["gx-plan on source-updated erp.invoices"]
    assert (back.schedules, back.triggers) == ((), ())
    # without `flows`, version and parameter schema are read from each deployment's flow
    pipeline_schema = want.settings["parameter_openapi_schema"]["properties"]
    backfill_schema = back.settings["parameter_openapi_schema"]["properties"]
    assert {"pipeline", "partition"} <= set(pipeline_schema)
    assert "start" not in pipeline_schema
    assert {"pipeline", "start", "end", "mode"} <= set(backfill_schema)
    assert "partition" not in backfill_schema
    assert None not in (want.settings["version"], back.settings["version"])


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


def test_every_deployment_gets_the_pull_steps() -> None:
    clone = [{"prefect.deployments.steps.git_clone": {"repository": "file:///r.git"}}]
    desired = desired_state([spec(), backfill()], pull_steps=clone, flows=FLOWS)
    assert [d.settings["pull_steps"] for d in desired] == [clone, clone]


# --- diff ---------------------------------------------------------------------------------


def test_missing_deployment_is_created_with_its_schedules_and_triggers() -> None:
    (want,) = wanted(spec())
    plan = diff([want], server(work_pool_exists=False))
    assert plan.create_work_pool
    assert plan.has_changes
    (change,) = plan.changes
    assert (change.action, change.flow, change.name, change.full_name) == (
        "create",
        FLOW_NAME,
        NAME,
        f"{FLOW_NAME}/{NAME}",
    )
    assert change.deployment_id is None
    assert change.desired == want
    assert change.create_schedules == want.schedules
    assert [t.name for t in change.create_triggers] == [SOURCE["name"], CONTRACT["name"]]
    assert (change.delete_schedules, change.delete_triggers) == ((), ())
    assert plan.unchanged == ()


def test_nothing_to_do_when_the_server_matches() -> None:
    want = wanted(spec("sales"), backfill("sales"), spec(), backfill())
    plan = diff(want, server(*(stored(d, id=d.name) for d in reversed(want))))
    # by pipeline, each pipeline's deployment before its backfill's
    assert plan == Plan(
        create_work_pool=False,
        changes=(),
        unchanged=(
            f"{FLOW_NAME}/{NAME}",
            f"{BACKFILL_FLOW_NAME}/{NAME}-backfill",
            f"{FLOW_NAME}/sales",
            f"{BACKFILL_FLOW_NAME}/sales-backfill",
        ),
    )
    assert not plan.has_changes


def test_the_plan_carries_the_work_pool_to_create() -> None:
    (want,) = wanted(spec())
    pool = WorkPool(name="containers", type="docker")
    plan = diff([want], server(work_pool_exists=False), work_pool=pool)
    assert (plan.create_work_pool, plan.work_pool) == (True, pool)
    assert diff([want], server()).work_pool == WorkPool(name=WORK_POOL, type="process")


def test_a_pool_of_another_type_on_the_server_is_refused() -> None:
    (want,) = wanted(spec())
    actual = server(stored(want), work_pool_type="process")
    with pytest.raises(GitOpsError) as caught:
        diff([want], actual, work_pool=WorkPool(name=WORK_POOL, type="kubernetes"))
    assert str(caught.value) == (
        f"work pool '{WORK_POOL}' on the server is a process pool, but the project config "
        "asks for kubernetes; Prefect cannot change a pool's type: delete it "
        f"('prefect work-pool delete {WORK_POOL}') or name another pool in barecount.yaml"
    )
    assert not diff([want], actual).has_changes  # the same type: nothing to do


def test_a_missing_work_pool_alone_is_a_change() -> None:
    (want,) = wanted(spec())
    plan = diff([want], server(stored(want), work_pool_exists=False))
    assert plan.has_changes
    assert (plan.create_work_pool, plan.changes, plan.unchanged) == (
        True,
        (),
        (f"{FLOW_NAME}/{NAME}",),
    )


def test_a_missing_backfill_deployment_is_created_in_the_backfill_flow() -> None:
    want, back = wanted(spec(), backfill())
    plan = diff([want, back], server(stored(want)))
    (change,) = plan.changes
    assert (change.action, change.flow, change.name, change.full_name) == (
        "create",
        BACKFILL_FLOW_NAME,
        f"{NAME}-backfill",
        f"{BACKFILL_FLOW_NAME}/{NAME}-backfill",
    )
    assert (change.desired, change.deployment_id) == (back, None)
    assert change.create_schedules == change.create_triggers == ()
    assert plan.unchanged == (f"{FLOW_NAME}/{NAME}",)


def test_a_deployment_is_matched_by_flow_and_name() -> None:
    # the same name in the other flow is another deployment: one created, one deleted
    (want,) = wanted(spec("x-backfill"))
    (elsewhere,) = wanted(backfill("x"))
    plan = diff([want], server(stored(elsewhere, id="d5")))
    assert [(c.action, c.full_name, c.deployment_id) for c in plan.changes] == [
        ("delete", f"{BACKFILL_FLOW_NAME}/x-backfill", "d5"),
        ("create", f"{FLOW_NAME}/x-backfill", None),
    ]


def test_a_changed_backfill_deployment_is_updated() -> None:
    want, back = wanted(spec(), backfill())
    stale = stored(back, id="b1", settings={**back.settings, "version": "v1", "tags": []})
    plan = diff([want, back], server(stored(want), stale))
    (change,) = plan.changes
    assert (change.action, change.full_name, change.deployment_id, change.fields) == (
        "update",
        f"{BACKFILL_FLOW_NAME}/{NAME}-backfill",
        "b1",
        ("tags", "version"),
    )
    assert change.desired == back


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
    have, back = wanted(spec(), backfill())
    change, back_change = diff([], server(stored(back, id="d8"), stored(have, id="d7"))).changes
    assert (change.action, change.full_name, change.deployment_id) == (
        "delete",
        f"{FLOW_NAME}/{NAME}",
        "d7",
    )
    assert change.fields == ()
    assert [t.id for t in change.delete_triggers] == ["d7-t0", "d7-t1"]
    assert [s.id for s in change.delete_schedules] == ["d7-s0"]
    assert change.create_schedules == change.create_triggers == ()
    # its backfill deployment goes with it
    assert (back_change.action, back_change.full_name, back_change.deployment_id) == (
        "delete",
        f"{BACKFILL_FLOW_NAME}/{NAME}-backfill",
        "d8",
    )
    assert back_change.fields == back_change.delete_schedules == back_change.delete_triggers == ()


def test_a_bare_deployment_gone_from_the_manifests_is_still_deleted() -> None:
    (have,) = wanted(spec(cron=None, triggers=()))
    plan = diff([], server(stored(have, id="d7")))
    assert [(c.action, c.deployment_id) for c in plan.changes] == [("delete", "d7")]
    assert plan.unchanged == ()


def test_only_limits_the_plan_to_the_named_pipelines() -> None:
    want = wanted(spec(), spec("sales"), backfill(), backfill("sales"))
    gone = [stored(d, id=f"d-{d.name}") for d in wanted(spec("gone"), backfill("gone"))]
    plan = diff(want, server(*gone), only={"sales"})  # gone's would be deleted unscoped
    assert [(c.action, c.full_name) for c in plan.changes] == [
        ("create", f"{FLOW_NAME}/sales"),
        ("create", f"{BACKFILL_FLOW_NAME}/sales-backfill"),
    ]
    assert plan.unchanged == ()
    unscoped = diff(want, server(*gone))
    assert [(c.action, c.full_name) for c in unscoped.changes] == [
        ("create", f"{FLOW_NAME}/{NAME}"),
        ("create", f"{BACKFILL_FLOW_NAME}/{NAME}-backfill"),
        ("delete", f"{FLOW_NAME}/gone"),
        ("delete", f"{BACKFILL_FLOW_NAME}/gone-backfill"),
        ("create", f"{FLOW_NAME}/sales"),
        ("create", f"{BACKFILL_FLOW_NAME}/sales-backfill"),
    ]


def test_only_takes_a_pipeline_by_name_not_a_pipeline_named_like_its_backfill() -> None:
    # pipeline "sales-backfill" is not part of pipeline "sales", nor the other way round
    want = wanted(spec("sales"), backfill("sales"), spec("sales-backfill"))
    plan = diff(want, server(), only={"sales"})
    assert [c.full_name for c in plan.changes] == [
        f"{FLOW_NAME}/sales",
        f"{BACKFILL_FLOW_NAME}/sales-backfill",
    ]
    plan = diff(want, server(), only={"sales-backfill"})
    assert [c.full_name for c in plan.changes] == [f"{FLOW_NAME}/sales-backfill"]


def test_an_untagged_deployment_of_a_pipeline_is_refused() -> None:
    want = wanted(spec(), spec("sales"), backfill("sales"))
    foreign = {f"{FLOW_NAME}/{NAME}", f"{BACKFILL_FLOW_NAME}/sales-backfill", "hand-made"}
    with pytest.raises(GitOpsError) as caught:
        diff(want, server(foreign=frozenset(foreign)))
    assert str(caught.value) == (
        f"deployment(s) {FLOW_NAME}/{NAME}, {BACKFILL_FLOW_NAME}/sales-backfill exist on the "
        "server without the 'barecount' tag, so BareCount does not own them; delete them, or "
        "tag them 'barecount' to let 'barecount apply' take them over"
    )


def test_untagged_deployments_no_pipeline_claims_are_left_alone() -> None:
    want = wanted(spec(), backfill())
    taken = frozenset({f"{FLOW_NAME}/{NAME}", f"{BACKFILL_FLOW_NAME}/{NAME}-backfill"})
    plan = diff(want, server(foreign=taken | {"x/hand-made"}), only={"sales"})
    assert plan == Plan(create_work_pool=False, changes=())
    # the same names in the other flow are other deployments
    elsewhere = frozenset({f"{BACKFILL_FLOW_NAME}/{NAME}", f"{FLOW_NAME}/{NAME}-backfill"})
    plan = diff(want, server(foreign=elsewhere))
    assert [(c.action, c.full_name) for c in plan.changes] == [
        ("create", f"{FLOW_NAME}/{NAME}"),
        ("create", f"{BACKFILL_FLOW_NAME}/{NAME}-backfill"),
    ]
