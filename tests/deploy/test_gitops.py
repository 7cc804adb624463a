"""plan and apply: the Prefect server's deployments, schedules and triggers follow the manifests.

Each pipeline has two deployments: governed-pipeline/<pipeline> and its backfill's,
governed-backfill/<pipeline>-backfill; plan and apply manage both.

Isolation: every server test writes pipelines with names unique to the test into a copy of
the manifests and passes ``--only`` those names. Other tests of the session deploy
governed-pipeline/finance-kpi (and more) on the same server; an unscoped apply would delete
them as "not in these manifests". Deleting owned deployments outside a scope is covered by
the pure diff tests in test_plan.py instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from bc_testkit import write_pipeline
from prefect import get_client
from prefect.exceptions import ObjectNotFound

from barecount.cli.gitops import plan_json, plan_lines, plan_summary
from barecount.cli.main import main
from barecount.deploy import apply as server_side
from barecount.deploy.compile import compile_project, render_prefect_yaml
from barecount.deploy.plan import Change, Plan, Schedule, Trigger, diff
from barecount.manifest import load_manifests
from barecount.manifest.projectconfig import WorkPool
from barecount.names import BACKFILL_FLOW_NAME, FLOW_NAME, WORK_POOL

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")
STAGES = [{"name": "total", "kind": "transform", "run": "bc_test_stages:sleepy"}]
TRIGGERS = [
    {"on": "source-updated", "source": "erp.invoices"},
    {"on": "contract-approved", "contract": "invoices"},
]


def pipeline(root: Path, name: str, *, cron: str | None = "0 2 * * *", **spec) -> Path:
    if cron is not None:
        spec["schedule"] = {"cron": cron, "timezone": "Europe/Berlin"}
    spec.setdefault("triggers", TRIGGERS)
    return write_pipeline(root, name, STAGES, partition={"calendar": "daily"}, **spec)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli(capsys, command: str, manifests: Path, *names: str, extra: tuple[str, ...] = ()):
    only = [arg for name in names for arg in ("--only", name)]
    return run(capsys, command, "-m", str(manifests), "--project", str(REPO), *only, *extra)


# Its deployments trigger on erp.invoices like finance-kpi's: an event another test emits
# would start them on that test's worker (tests/conftest.py: SHARED_DEPLOYMENTS).
pytestmark = pytest.mark.xdist_group("finance-kpi-deployment")


def on_server(name: str, flow: str = FLOW_NAME):
    """The deployment and the automations related to it, or (None, [])."""
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(f"{flow}/{name}")
        except ObjectNotFound:
            return None, []
        automations = client.read_resource_related_automations(
            f"prefect.deployment.{deployment.id}"
        )
    return deployment, automations


def backfill_on_server(name: str):
    """The backfill deployment of pipeline `name` and its automations, or (None, [])."""
    return on_server(f"{name}-backfill", BACKFILL_FLOW_NAME)


def applied(out: str) -> list[str]:
    """apply's output lines, without the work pool line an earlier test may have made moot."""
    lines = out.splitlines()
    if lines[:1] == [f"created work pool {WORK_POOL} (process)"]:
        lines = lines[1:]
        count, _, rest = lines[-1].removeprefix("applied: ").partition(" ")
        lines[-1] = f"applied: {int(count) - 1} {rest}"
    return lines


@pytest.fixture
def name() -> str:
    return f"gx-{uuid.uuid4().hex[:10]}"


# --- rendering the plan (no server) ------------------------------------------------------


def test_plan_lines_summary_and_json_show_every_change() -> None:
    cron = Schedule({"cron": "0 2 * * *", "timezone": "Europe/Berlin"})
    paused = Schedule({"cron": "30 1 * * *", "timezone": "UTC"}, active=False, id="s1")
    trigger = Trigger({"name": "a on source-updated [x]"})
    old = Trigger({"name": "a on contract-approved c"}, id="t1")
    plan = Plan(
        create_work_pool=True,
        changes=(
            Change(
                action="create",
                flow=FLOW_NAME,
                name="a",
                create_schedules=(cron,),
                create_triggers=(trigger,),
            ),
            Change(
                action="update",
                flow=FLOW_NAME,
                name="b",
                deployment_id="d2",
                fields=("description", "work pool"),
                create_schedules=(cron,),
                delete_schedules=(paused,),
                delete_triggers=(old,),
            ),
            Change(
                action="delete",
                flow=BACKFILL_FLOW_NAME,
                name="c-backfill",
                deployment_id="d3",
                delete_triggers=(old,),
            ),
        ),
        unchanged=(f"{FLOW_NAME}/d", f"{BACKFILL_FLOW_NAME}/d-backfill"),
    )
    assert plan_lines(plan) == [
        f"[green]+[/] create work pool {WORK_POOL} (process)",
        f"[green]+[/] create deployment {FLOW_NAME}/a",
        f"[green]+[/] create schedule {FLOW_NAME}/a: cron '0 2 * * *' Europe/Berlin",
        f"[green]+[/] create trigger {FLOW_NAME}/a: a on source-updated \\[x]",
        f"[yellow]~[/] update deployment {FLOW_NAME}/b: description, work pool",
        f"[red]-[/] delete schedule {FLOW_NAME}/b: cron '30 1 * * *' UTC (paused)",
        f"[red]-[/] delete trigger {FLOW_NAME}/b: a on contract-approved c",
        f"[green]+[/] create schedule {FLOW_NAME}/b: cron '0 2 * * *' Europe/Berlin",
        f"[red]-[/] delete deployment {BACKFILL_FLOW_NAME}/c-backfill",
        f"[red]-[/] delete trigger {BACKFILL_FLOW_NAME}/c-backfill: a on contract-approved c",
    ]
    assert plan_summary(plan) == "Plan: 1 to create, 1 to update, 1 to delete."
    result = plan_json(plan)
    assert (result["changes"], result["work_pool"]) == (
        True,
        {"name": WORK_POOL, "type": "process", "create": True},
    )
    assert result["deployments"][1] == {
        "deployment": f"{FLOW_NAME}/b",
        "action": "update",
        "fields": ["description", "work pool"],
        "schedules": {
            "create": ["cron '0 2 * * *' Europe/Berlin"],
            "delete": ["cron '30 1 * * *' UTC (paused)"],
        },
        "triggers": {"create": [], "delete": ["a on contract-approved c"]},
    }
    assert result["deployments"][2]["deployment"] == f"{BACKFILL_FLOW_NAME}/c-backfill"
    assert result["unchanged"] == [f"{FLOW_NAME}/d", f"{BACKFILL_FLOW_NAME}/d-backfill"]
    nothing = Plan(create_work_pool=False, changes=(), unchanged=("a", "b"))
    assert (plan_lines(nothing), plan_summary(nothing)) == (
        [],
        "no changes: 2 deployment(s) match the manifests",
    )


# --- against the session's real Prefect server -------------------------------------------


def test_apply_creates_deployment_schedule_and_triggers_then_has_nothing_to_do(
    prefect_api, capsys, manifests, name
) -> None:
    pipeline(manifests, name)
    code, out, _ = cli(capsys, "apply", manifests, name)
    assert code == 0, out
    assert applied(out) == [
        f"created deployment {FLOW_NAME}/{name}",
        f"created trigger {FLOW_NAME}/{name}: {name} on source-updated erp.invoices",
        f"created trigger {FLOW_NAME}/{name}: {name} on contract-approved invoices",
        f"created deployment {BACKFILL_FLOW_NAME}/{name}-backfill",
        "applied: 4 change(s)",
    ]

    deployment, automations = on_server(name)
    assert deployment.entrypoint == "flows/governed_pipeline.py:governed_pipeline"
    assert deployment.parameters == {"pipeline": name}
    assert deployment.tags == ["barecount", f"pipeline:{name}", "owner:finance-data"]
    assert deployment.work_pool_name == WORK_POOL
    assert deployment.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
    ]
    assert "pipeline" in deployment.parameter_openapi_schema["properties"]
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *", "Europe/Berlin")
    assert schedule.parameters == {"trigger": "schedule"}
    by_event = {tuple(a.trigger.expect): a for a in automations}
    assert set(by_event) == {("barecount.source.updated",), ("barecount.contract.approved",)}
    (action,) = by_event[("barecount.source.updated",)].actions
    assert action.deployment_id == deployment.id
    assert action.parameters["partition"] == "{{ event.payload.partition }}"

    backfill, backfill_automations = backfill_on_server(name)
    assert backfill.entrypoint == "flows/governed_backfill.py:governed_backfill"
    assert backfill.parameters == {"pipeline": name}
    assert backfill.tags == ["barecount", f"pipeline:{name}", "owner:finance-data", "backfill"]
    assert (backfill.work_pool_name, backfill.pull_steps) == (WORK_POOL, deployment.pull_steps)
    assert {"start", "end", "mode"} <= set(backfill.parameter_openapi_schema["properties"])
    assert (backfill.schedules, backfill_automations) == ([], [])

    code, out, _ = cli(capsys, "apply", manifests, name)
    assert (code, out.strip()) == (0, "no changes: 2 deployment(s) match the manifests")
    code, out, _ = cli(capsys, "plan", manifests, name, extra=("--detailed-exitcode",))
    assert (code, out.strip()) == (0, "no changes: 2 deployment(s) match the manifests")
    # a directory pull has no commit to pin: CI's --commit changes nothing, and says so
    code, out, err = cli(capsys, "plan", manifests, name, extra=("--commit", "abc1234"))
    assert (code, out.strip()) == (0, "no changes: 2 deployment(s) match the manifests")
    assert "note: --commit is ignored: the project config pulls from a directory" in err
    assert on_server(name)[0].id == deployment.id
    assert backfill_on_server(name)[0].id == backfill.id


def test_a_backfill_deployment_deleted_on_the_server_is_recreated(
    prefect_api, capsys, manifests, name
) -> None:
    pipeline(manifests, name)
    assert cli(capsys, "apply", manifests, name)[0] == 0
    deployment, _ = on_server(name)
    with get_client(sync_client=True) as client:
        client.delete_deployment(backfill_on_server(name)[0].id)

    code, out, _ = cli(capsys, "plan", manifests, name, extra=("--detailed-exitcode",))
    assert code == 2
    assert out.splitlines() == [
        f"+ create deployment {BACKFILL_FLOW_NAME}/{name}-backfill",
        "Plan: 1 to create, 0 to update, 0 to delete.",
    ]
    code, out, _ = cli(capsys, "apply", manifests, name)
    assert code == 0
    assert applied(out) == [
        f"created deployment {BACKFILL_FLOW_NAME}/{name}-backfill",
        "applied: 1 change(s)",
    ]
    backfill, _ = backfill_on_server(name)
    assert (backfill.entrypoint, backfill.parameters) == (
        "flows/governed_backfill.py:governed_backfill",
        {"pipeline": name},
    )
    assert on_server(name)[0].id == deployment.id  # the pipeline's deployment was left alone
    code, out, _ = cli(capsys, "plan", manifests, name, extra=("--detailed-exitcode",))
    assert (code, out.strip()) == (0, "no changes: 2 deployment(s) match the manifests")


def test_changed_cron_is_updated_and_removed_schedule_is_deleted(
    prefect_api, capsys, manifests, name
) -> None:
    pipeline(manifests, name)
    assert cli(capsys, "apply", manifests, name)[0] == 0

    pipeline(manifests, name, cron="30 1 * * *")
    code, out, _ = cli(capsys, "plan", manifests, name, extra=("--detailed-exitcode",))
    assert code == 2
    assert out.splitlines() == [
        f"- delete schedule {FLOW_NAME}/{name}: cron '0 2 * * *' Europe/Berlin",
        f"+ create schedule {FLOW_NAME}/{name}: cron '30 1 * * *' Europe/Berlin",
        "Plan: 0 to create, 1 to update, 0 to delete.",
    ]
    assert cli(capsys, "apply", manifests, name)[0] == 0
    (schedule,) = on_server(name)[0].schedules
    assert schedule.schedule.cron == "30 1 * * *"

    pipeline(manifests, name, cron=None)  # unlike `prefect deploy`, the schedule goes
    code, out, _ = cli(capsys, "apply", manifests, name)
    assert code == 0
    assert f"deleted schedule {FLOW_NAME}/{name}: cron '30 1 * * *' Europe/Berlin" in out
    deployment, automations = on_server(name)
    assert deployment.schedules == []
    assert len(automations) == 2  # the triggers were left alone


def test_changed_trigger_and_tags_are_reconciled(prefect_api, capsys, manifests, name) -> None:
    pipeline(manifests, name)
    assert cli(capsys, "apply", manifests, name)[0] == 0
    before = {a.name: a.id for a in on_server(name)[1]}

    triggers = [TRIGGERS[0], {"on": "pipeline-published", "pipeline": "finance-kpi"}]
    path = pipeline(manifests, name, triggers=triggers)
    document = json.loads(path.read_text())
    document["metadata"]["description"] = "changed"
    path.write_text(json.dumps(document))
    out = cli(capsys, "plan", manifests, name)[1]
    assert out.splitlines() == [
        f"~ update deployment {FLOW_NAME}/{name}: description",
        f"- delete trigger {FLOW_NAME}/{name}: {name} on contract-approved invoices",
        f"+ create trigger {FLOW_NAME}/{name}: {name} on pipeline-published finance-kpi",
        "Plan: 0 to create, 1 to update, 0 to delete.",
    ]
    assert cli(capsys, "apply", manifests, name)[0] == 0
    deployment, automations = on_server(name)
    after = {a.name: a.id for a in automations}
    assert deployment.description == "changed"
    assert set(after) == {
        f"{name} on source-updated erp.invoices",
        f"{name} on pipeline-published finance-kpi",
    }
    # the unchanged trigger is the same automation: reconciled, not recreated
    key = f"{name} on source-updated erp.invoices"
    assert after[key] == before[key]


def test_changes_made_by_hand_on_the_server_are_reverted(
    prefect_api, capsys, manifests, name
) -> None:
    from prefect.client.schemas.actions import DeploymentUpdate

    pipeline(manifests, name)
    assert cli(capsys, "apply", manifests, name)[0] == 0
    deployment, _ = on_server(name)
    backfill, _ = backfill_on_server(name)
    with get_client(sync_client=True) as client:
        client.update_deployment(
            backfill.id, DeploymentUpdate(description="by hand", version="by-hand")
        )
        client.update_deployment(
            deployment.id,
            DeploymentUpdate(
                description="by hand",
                tags=["barecount"],
                parameters={"pipeline": "other"},
                entrypoint="elsewhere.py:flow",
                work_queue_name="by-hand",
                job_variables={"env": {"X": "1"}},
                pull_steps=[],
                parameter_openapi_schema={"type": "object", "properties": {}},
                version="by-hand",
            ),
        )
    out = cli(capsys, "plan", manifests, name)[1]
    assert out.splitlines() == [
        f"~ update deployment {FLOW_NAME}/{name}: description, tags, parameters, entrypoint, "
        "work pool, job variables, pull steps, parameter schema, version",
        f"~ update deployment {BACKFILL_FLOW_NAME}/{name}-backfill: description, version",
        "Plan: 0 to create, 2 to update, 0 to delete.",
    ]
    assert cli(capsys, "apply", manifests, name)[0] == 0
    restored, _ = on_server(name)
    assert (restored.work_queue_name, restored.pull_steps) == (
        deployment.work_queue_name,
        deployment.pull_steps,
    )
    restored, _ = backfill_on_server(name)
    assert (restored.description, restored.version) == (backfill.description, backfill.version)
    assert cli(capsys, "plan", manifests, name)[1].startswith("no changes")


def test_deleted_manifest_deletes_both_deployments_and_their_automations(
    prefect_api, capsys, manifests, name
) -> None:
    path = pipeline(manifests, name)
    assert cli(capsys, "apply", manifests, name)[0] == 0
    deployment, automations = on_server(name)
    assert len(automations) == 2
    assert backfill_on_server(name)[0] is not None

    path.unlink()
    code, out, _ = cli(capsys, "plan", manifests, name)
    assert out.splitlines() == [
        f"- delete deployment {FLOW_NAME}/{name}",
        f"- delete schedule {FLOW_NAME}/{name}: cron '0 2 * * *' Europe/Berlin",
        f"- delete trigger {FLOW_NAME}/{name}: {name} on contract-approved invoices",
        f"- delete trigger {FLOW_NAME}/{name}: {name} on source-updated erp.invoices",
        f"- delete deployment {BACKFILL_FLOW_NAME}/{name}-backfill",
        "Plan: 0 to create, 0 to update, 2 to delete.",
    ]
    code, out, _ = cli(capsys, "apply", manifests, name)
    assert code == 0
    assert applied(out) == [
        f"deleted trigger {FLOW_NAME}/{name}: {name} on contract-approved invoices",
        f"deleted trigger {FLOW_NAME}/{name}: {name} on source-updated erp.invoices",
        f"deleted deployment {FLOW_NAME}/{name}",
        f"deleted deployment {BACKFILL_FLOW_NAME}/{name}-backfill",
        "applied: 4 change(s)",
    ]
    assert on_server(name) == (None, [])
    assert backfill_on_server(name) == (None, [])
    with get_client(sync_client=True) as client:
        left = client.read_resource_related_automations(f"prefect.deployment.{deployment.id}")
        names = {a.name for a in client.read_automations()}
    assert left == []
    assert not {a.name for a in automations} & names  # Prefect alone would leave them behind
    assert cli(capsys, "apply", manifests, name)[1].strip() == (
        "no changes: 0 deployment(s) match the manifests"
    )


def test_deployment_without_barecount_tag_is_never_touched(
    prefect_api, capsys, manifests, name
) -> None:
    foreign = f"{name}-hand-made"
    with get_client(sync_client=True) as client:
        foreign_id = client.create_deployment(
            flow_id=client.create_flow_from_name(FLOW_NAME),
            name=foreign,
            tags=["someone-else"],
            entrypoint="elsewhere.py:flow",
        )
    pipeline(manifests, name)
    code, out, _ = cli(capsys, "apply", manifests, name, foreign)  # in scope, not in manifests
    assert code == 0
    assert foreign not in out
    deployment, _ = on_server(foreign)
    assert (deployment.id, deployment.tags) == (foreign_id, ["someone-else"])

    pipeline(manifests, foreign)  # a manifest may not take it over either
    code, _, err = cli(capsys, "plan", manifests, foreign)
    assert code == 1
    assert "exist on the server without the 'barecount' tag" in err.replace("\n", "")
    assert "Traceback" not in err
    assert on_server(foreign)[0].entrypoint == "elsewhere.py:flow"


def test_backfill_deployment_without_barecount_tag_is_never_taken_over(
    prefect_api, capsys, manifests, name
) -> None:
    with get_client(sync_client=True) as client:
        foreign_id = client.create_deployment(
            flow_id=client.create_flow_from_name(BACKFILL_FLOW_NAME),
            name=f"{name}-backfill",
            tags=["someone-else"],
            entrypoint="elsewhere.py:flow",
        )
    pipeline(manifests, name)
    code, out, err = cli(capsys, "apply", manifests, name)
    assert (code, out) == (1, "")
    assert err.strip() == (
        f"error: deployment(s) {BACKFILL_FLOW_NAME}/{name}-backfill exist on the server without "
        "the 'barecount' tag, so BareCount does not own them; delete them, or tag them "
        "'barecount' to let 'barecount apply' take them over"
    )
    assert on_server(name) == (None, [])  # refused as a whole: nothing was created
    deployment, _ = backfill_on_server(name)
    assert (deployment.id, deployment.tags) == (foreign_id, ["someone-else"])


def test_plan_json(prefect_api, capsys, manifests, name) -> None:
    pipeline(manifests, name)
    code, out, _ = cli(capsys, "plan", manifests, name, extra=("--json",))
    assert code == 0
    result = json.loads(out)
    assert result["changes"] is True
    assert result["work_pool"]["name"] == WORK_POOL
    assert result["deployments"] == [
        {
            "deployment": f"{FLOW_NAME}/{name}",
            "action": "create",
            "fields": [],
            "schedules": {"create": ["cron '0 2 * * *' Europe/Berlin"], "delete": []},
            "triggers": {
                "create": [
                    f"{name} on source-updated erp.invoices",
                    f"{name} on contract-approved invoices",
                ],
                "delete": [],
            },
        },
        {
            "deployment": f"{BACKFILL_FLOW_NAME}/{name}-backfill",
            "action": "create",
            "fields": [],
            "schedules": {"create": [], "delete": []},
            "triggers": {"create": [], "delete": []},
        },
    ]
    assert cli(capsys, "apply", manifests, name, extra=("--json",))[0] == 0
    result = json.loads(cli(capsys, "plan", manifests, name, extra=("--json",))[1])
    assert (result["changes"], result["deployments"]) == (False, [])
    assert result["unchanged"] == [f"{FLOW_NAME}/{name}", f"{BACKFILL_FLOW_NAME}/{name}-backfill"]


def test_apply_matches_what_prefect_deploy_creates(
    prefect_api, capsys, manifests, name, tmp_path
) -> None:
    # the same manifests through `prefect deploy` and through plan: nothing to change
    project = tmp_path / "project"
    (project / "deployments").mkdir(parents=True)
    (project / "flows").symlink_to(REPO / "flows")
    pipeline(manifests, name)
    ours = (name, f"{name}-backfill")
    specs = [s for s in compile_project(load_manifests(manifests)) if s["name"] in ours]
    assert len(specs) == 2
    (project / "deployments" / "prefect.yaml").write_text(render_prefect_yaml(specs))
    with get_client(sync_client=True) as client:
        server_side.apply(Plan(create_work_pool=True, changes=()), client)
    result = subprocess.run(
        [PREFECT, "--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml"],
        cwd=project,
        env={**os.environ, "PREFECT_API_URL": prefect_api},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    code, out, _ = run(
        capsys, "plan", "-m", str(manifests), "--project", str(project), "--only", name
    )
    assert (code, out.strip()) == (0, "no changes: 2 deployment(s) match the manifests")


@pytest.mark.parametrize(
    ("kind", "variable"), [("process", "working_dir"), ("kubernetes", "cpu_request")]
)
def test_apply_creates_the_missing_work_pool(prefect_api, name, kind, variable) -> None:
    pool = WorkPool(name=f"{name}-pool", type=kind)
    with get_client(sync_client=True) as client:
        actual = server_side.read_actual(client, work_pool=pool.name)
        plan = diff([], actual, only=set(), work_pool=pool)  # no deployment in scope
        assert plan.create_work_pool
        assert server_side.apply(plan, client) == [f"created work pool {pool.name} ({kind})"]
        created = client.read_work_pool(pool.name)
        again = server_side.read_actual(client, work_pool=pool.name)
        assert not diff([], again, only=set(), work_pool=pool).has_changes
        client.delete_work_pool(pool.name)
    assert created.type == kind
    # the type's base job template, as `prefect work-pool create --type KIND` stores it
    assert variable in created.base_job_template["variables"]["properties"]
    assert "job_configuration" in created.base_job_template


def test_unreachable_api_is_one_clear_error(capsys, manifests, monkeypatch) -> None:
    from barecount.settings import get_settings

    monkeypatch.setenv("BARECOUNT_PREFECT_API_URL", "http://127.0.0.1:9/api")
    get_settings.cache_clear()
    try:
        code, out, err = run(capsys, "plan", "-m", str(manifests), "--project", str(REPO))
    finally:
        get_settings.cache_clear()
    assert code == 4  # the Prefect API cannot be reached (README "Exit codes")
    assert "the Prefect API at http://127.0.0.1:9/api does not answer" in err
    assert "Traceback" not in out + err


def test_project_without_the_flow_file_is_refused(capsys, manifests, tmp_path) -> None:
    code, _, err = run(capsys, "plan", "-m", str(manifests), "--project", str(tmp_path))
    assert code == 1
    assert f"{tmp_path} has no flows/governed_pipeline.py" in err.replace("\n", "")
