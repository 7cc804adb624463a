"""GitOps, the server half: read the Prefect server's state, carry a plan out on it.

Every function takes Prefect's sync client (`get_client(sync_client=True)`); what to do
is decided by the pure `barecount.deploy.plan`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from barecount.deploy.desired import normalise_trigger, trigger_adapter
from barecount.deploy.plan import (
    FIELDS,
    FLOWS,
    SETTINGS,
    ActualState,
    Change,
    DesiredDeployment,
    Plan,
    Schedule,
    Trigger,
)
from barecount.errors import GitOpsError
from barecount.manifest.projectconfig import WorkPool
from barecount.names import OWNED_TAG, WORK_POOL

# --- read the server ----------------------------------------------------------------------


def read_actual(client: Any, *, work_pool: str = WORK_POOL, page: int = 200) -> ActualState:
    """Both flows' deployments on the server, only ours (tagged 'barecount') read in full,
    and the work pool's type."""
    from prefect.exceptions import ObjectNotFound

    flows = _flow_names(client)
    found = _flow_deployments(client, list(flows), page)
    try:
        pool_type = client.read_work_pool(work_pool).type
    except ObjectNotFound:
        pool_type = None
    return ActualState(
        deployments=[
            _read_deployment(client, flows[r.flow_id], r) for r in found if OWNED_TAG in r.tags
        ],
        foreign=frozenset(f"{flows[r.flow_id]}/{r.name}" for r in found if OWNED_TAG not in r.tags),
        work_pool_exists=pool_type is not None,
        work_pool_type=pool_type,
    )


def _flow_names(client: Any) -> dict[UUID, str]:
    """Flow id -> name, of the two flows whose deployments are managed (those on the server)."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    names = FlowFilter(name=FlowFilterName(any_=sorted(set(FLOWS.values()))))
    return {f.id: f.name for f in client.read_flows(flow_filter=names)}


def _flow_deployments(client: Any, flow_ids: list[UUID], page: int) -> list[Any]:
    """Every deployment of these flows, read `page` at a time."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterId

    if not flow_ids:
        return []
    flows = FlowFilter(id=FlowFilterId(any_=flow_ids))
    found: list[Any] = []
    while len(batch := client.read_deployments(flow_filter=flows, limit=page, offset=len(found))):
        found.extend(batch)
        if len(batch) < page:
            break
    return found


def _read_deployment(client: Any, flow: str, response: Any) -> DesiredDeployment:
    related = client.read_resource_related_automations(f"prefect.deployment.{response.id}")
    triggers = [t for a in related if (t := _trigger_of(a, response.id)) is not None]
    schedules = [
        Schedule(s.schedule.model_dump(mode="json"), s.active, dict(s.parameters), str(s.id))
        for s in response.schedules
    ]
    return DesiredDeployment(
        id=str(response.id),
        flow=flow,
        name=response.name,
        settings=response.model_dump(mode="json", include=SETTINGS),
        schedules=tuple(schedules),
        triggers=tuple(sorted(triggers, key=lambda t: t.name)),
    )


def _trigger_of(automation: Any, deployment_id: UUID) -> Trigger | None:
    """The trigger an automation stands for, if it has the shape `prefect deploy` creates."""
    actions = automation.actions
    if automation.actions_on_trigger or automation.actions_on_resolve or len(actions) != 1:
        return None
    run = actions[0].model_dump(mode="json")
    if (run.get("type"), run.get("source"), run.get("deployment_id")) != (
        "run-deployment",
        "selected",
        str(deployment_id),
    ):
        return None
    automation_fields = {"name", "description", "enabled"}
    content = automation.trigger.model_dump(mode="json")
    content |= automation.model_dump(mode="json", include=automation_fields)
    content |= {k: run[k] for k in ("parameters", "job_variables", "schedule_after")}
    return Trigger(normalise_trigger(content), id=str(automation.id))


def check_secret_block(client: Any, name: str) -> None:
    """The Secret block a git_clone pull step takes its access token from exists.

    Raises:
        GitOpsError: it does not: workers could not clone.
    """
    from prefect.exceptions import ObjectNotFound

    try:
        client.read_block_document_by_name(name, "secret", include_secrets=False)
    except ObjectNotFound:
        raise GitOpsError(
            f"the Prefect server has no Secret block {name!r}, which barecount.yaml names as "
            "the git access token, so workers could not clone; create it (Prefect UI: Blocks "
            f"> Secret, or in Python: Secret(value=TOKEN).save({name!r})) and apply again"
        ) from None


# --- make it so ---------------------------------------------------------------------------


def apply(plan: Plan, client: Any) -> list[str]:
    """Carry the plan out on the server; returns one line per thing done."""
    pool = plan.work_pool
    done = (
        [f"created work pool {pool.name} ({pool.type})"]
        if plan.create_work_pool and _create_work_pool(client, pool)
        else []
    )
    steps = {"create": _create, "update": _update, "delete": _delete}
    for change in plan.changes:
        done += steps[change.action](change, client)
    return done


def _create_work_pool(client: Any, pool: WorkPool) -> bool:
    """Create the work pool; False when it exists already."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from barecount.deploy.pools import base_job_template

    # the template `prefect work-pool create --type TYPE` would store
    template = base_job_template(pool.type)
    try:
        client.create_work_pool(
            WorkPoolCreate(name=pool.name, type=pool.type, base_job_template=template)
        )
    except ObjectAlreadyExists:
        return False
    return True


def _create(change: Change, client: Any) -> list[str]:
    """A new deployment with its schedules, then its triggers."""
    want = change.desired
    assert want is not None, "a create change carries the desired deployment"
    deployment_id = client.create_deployment(
        flow_id=client.create_flow_from_name(want.flow),
        name=change.name,
        schedules=[_schedule(s) for s in want.schedules],
        path=None,
        enforce_parameter_schema=True,
        **want.settings,
    )
    return [
        f"created deployment {change.full_name}",
        *_create_triggers(change, deployment_id, client),
    ]


def _update(change: Change, client: Any) -> list[str]:
    """Triggers out, changed fields, schedules out and in, triggers in."""
    from prefect.client.schemas.actions import DeploymentUpdate

    name, deployment_id = change.full_name, UUID(change.deployment_id)
    done = _delete_triggers(change, client)
    if change.fields:
        settings = change.desired.settings
        update = {a: settings[a] for label in change.fields for a in FIELDS[label]}
        client.update_deployment(deployment_id, DeploymentUpdate(**update))
        done.append(f"updated deployment {name}: {', '.join(change.fields)}")
    for schedule in change.delete_schedules:
        client.delete_deployment_schedule(deployment_id, UUID(schedule.id))
        done.append(f"deleted schedule {name}: {schedule.describe()}")
    if change.create_schedules:
        client.create_deployment_schedules(
            deployment_id, [_schedule(s) for s in change.create_schedules]
        )
        done += [f"created schedule {name}: {s.describe()}" for s in change.create_schedules]
    return done + _create_triggers(change, deployment_id, client)


def _delete(change: Change, client: Any) -> list[str]:
    """The deployment's triggers, every automation it owns, then the deployment."""
    from prefect.exceptions import ObjectNotFound

    deployment_id = UUID(change.deployment_id)
    done = _delete_triggers(change, client)
    # Prefect deletes a deployment's schedules with it, but not its automations
    client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
    try:
        client.delete_deployment(deployment_id)
    except ObjectNotFound:
        pass
    return [*done, f"deleted deployment {change.full_name}"]


def _schedule(schedule: Schedule) -> Any:
    from prefect.client.schemas.actions import DeploymentScheduleCreate

    return DeploymentScheduleCreate(
        schedule=schedule.schedule, active=schedule.active, parameters=schedule.parameters
    )


def _delete_triggers(change: Change, client: Any) -> list[str]:
    """The automations of the change's dropped triggers."""
    done = []
    for trigger in change.delete_triggers:
        client.delete_automation(UUID(trigger.id))
        done.append(f"deleted trigger {change.full_name}: {trigger.name}")
    return done


def _create_triggers(change: Change, deployment_id: UUID, client: Any) -> list[str]:
    """The change's new triggers, made as `prefect deploy` makes them."""
    # as `prefect deploy` does: an automation owned by prefect.deployment.<id>
    # whose one action runs the deployment with the trigger's parameters
    done = []
    for trigger in change.create_triggers:
        model = trigger_adapter().validate_python(trigger.content)
        model.set_deployment_id(deployment_id)
        client.create_automation(model.as_automation())
        done.append(f"created trigger {change.full_name}: {trigger.name}")
    return done
