"""GitOps: the deployments the manifests want, their diff to the server's, and apply."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from barecount.errors import GitOpsError
from barecount.names import FLOW_NAME, OWNED_TAG, WORK_POOL

PULL_STEP = "prefect.deployments.steps.set_working_directory"
# plan label -> the deployment fields it stands for (names as in Prefect's DeploymentUpdate)
FIELDS: dict[str, tuple[str, ...]] = {
    "description": ("description",),
    "tags": ("tags",),
    "parameters": ("parameters",),
    "entrypoint": ("entrypoint",),
    "work pool": ("work_pool_name", "work_queue_name"),
    "job variables": ("job_variables",),
    "pull steps": ("pull_steps",),
    "parameter schema": ("parameter_openapi_schema",),
    "version": ("version",),
}
SETTINGS = frozenset(a for attrs in FIELDS.values() for a in attrs)
_SET_LIKE = ("after", "expect", "for_each")  # pydantic sets: their JSON order means nothing


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class Schedule:
    """A deployment schedule: Prefect's schedule JSON, the active flag and parameters."""

    schedule: dict[str, Any]
    active: bool = True
    parameters: dict[str, Any] = field(default_factory=dict)
    id: str | None = field(default=None, compare=False)

    def key(self) -> str:
        return _canon([self.schedule, self.active, self.parameters])

    def describe(self) -> str:
        s = self.schedule
        what = next(
            (f"{kind} '{s[kind]}'" for kind in ("cron", "interval", "rrule") if kind in s), str(s)
        )
        return f"{what} {s.get('timezone') or 'UTC'}" + ("" if self.active else " (paused)")


@dataclass(frozen=True)
class Trigger:
    """A deployment trigger as Prefect's DeploymentEventTrigger JSON (automation + action)."""

    content: dict[str, Any]
    id: str | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return str(self.content.get("name"))

    def key(self) -> str:
        return _canon(self.content)


@dataclass(frozen=True, kw_only=True)
class DesiredDeployment:
    """One pipeline's deployment; read back from the server it also carries its `id`."""

    name: str
    settings: dict[str, Any]  # DeploymentUpdate field -> JSON value, for every field in FIELDS
    schedules: tuple[Schedule, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ActualState:
    """The server: our deployments, names of the flow's deployments not ours, the work pool."""

    deployments: list[DesiredDeployment]
    foreign: frozenset[str] = frozenset()
    work_pool_exists: bool = True


@dataclass(frozen=True, kw_only=True)
class Change:
    """What happens to one deployment, its schedules and its triggers."""

    action: Literal["create", "update", "delete"]
    name: str
    deployment_id: str | None = None
    fields: tuple[str, ...] = ()
    create_schedules: tuple[Schedule, ...] = ()
    delete_schedules: tuple[Schedule, ...] = ()
    create_triggers: tuple[Trigger, ...] = ()
    delete_triggers: tuple[Trigger, ...] = ()
    desired: DesiredDeployment | None = None

    @property
    def full_name(self) -> str:
        return f"{FLOW_NAME}/{self.name}"


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Everything apply would do; empty when the server matches the manifests."""

    create_work_pool: bool
    changes: tuple[Change, ...]
    unchanged: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return self.create_work_pool or bool(self.changes)


def flow_settings() -> dict[str, Any]:
    """Version and parameter schema of the governed flow, read as `prefect deploy` reads them."""
    from prefect.utilities.callables import parameter_schema

    from barecount.runtime.flows import governed_pipeline

    schema = parameter_schema(governed_pipeline).model_dump(exclude_unset=True)
    return {"version": governed_pipeline.version, "parameter_openapi_schema": schema}


def _trigger_adapter() -> Any:
    from prefect.events import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    return TypeAdapter(DeploymentTriggerTypes)


def _normalise(trigger: dict[str, Any]) -> dict[str, Any]:
    trigger = {k: v for k, v in trigger.items() if k != "id"}
    return trigger | {k: sorted(trigger[k]) for k in _SET_LIKE if isinstance(trigger.get(k), list)}


def desired_state(
    specs: Iterable[dict[str, Any]], *, project_dir: Path, flow: dict[str, Any] | None = None
) -> list[DesiredDeployment]:
    """The deployments in `compile_manifests` output, in the JSON shapes Prefect stores.

    `flow` holds version and parameter schema (default: read from the governed flow);
    the pull step makes a worker started anywhere run the flow from `project_dir`.
    """
    from prefect.client.schemas.schedules import CronSchedule

    flow = flow_settings() if flow is None else flow
    adapter = _trigger_adapter()
    pull = [{PULL_STEP: {"directory": str(Path(project_dir).absolute().resolve())}}]
    desired = []
    for spec in specs:
        pool = spec.get("work_pool") or {}
        settings = {
            "description": spec.get("description"),
            "tags": list(spec.get("tags") or []),
            "parameters": dict(spec.get("parameters") or {}),
            "entrypoint": spec.get("entrypoint"),
            "work_pool_name": pool.get("name", WORK_POOL),
            "work_queue_name": pool.get("work_queue_name") or "default",
            "job_variables": dict(pool.get("job_variables") or {}),
            "pull_steps": pull,
            **flow,
        }
        schedules = [
            Schedule(
                CronSchedule(cron=s["cron"], timezone=s.get("timezone")).model_dump(mode="json"),
                s.get("active", True),
                dict(s.get("parameters") or {}),
            )
            for s in spec.get("schedules") or []
        ]
        triggers = [  # an unnamed trigger gets the name prefect deploy would give it
            adapter.validate_python({"name": f"{spec['name']}__automation_{i}", **t})
            for i, t in enumerate(spec.get("triggers") or [], start=1)
        ]
        desired.append(
            DesiredDeployment(
                name=spec["name"],
                settings=settings,
                schedules=tuple(schedules),
                triggers=tuple(Trigger(_normalise(t.model_dump(mode="json"))) for t in triggers),
            )
        )
    return desired


def _surplus(items: Sequence[Any], other: Sequence[Any]) -> tuple[Any, ...]:
    """The items of `items` that `other` lacks, compared by key(), duplicates counted."""
    left = Counter(x.key() for x in items) - Counter(x.key() for x in other)
    surplus = []
    for item in items:
        if left[item.key()] > 0:
            left[item.key()] -= 1
            surplus.append(item)
    return tuple(surplus)


def diff(
    desired: list[DesiredDeployment], actual: ActualState, *, only: set[str] | None = None
) -> Plan:
    """What to do so the server matches `desired`; `only` limits it to those pipelines.

    Raises:
        GitOpsError: a pipeline's deployment exists without the 'barecount' tag.
    """
    wanted = {d.name: d for d in desired if only is None or d.name in only}
    have = {a.name: a for a in actual.deployments if only is None or a.name in only}
    taken = sorted(set(wanted) & actual.foreign)
    if taken:
        raise GitOpsError(
            f"deployment(s) {', '.join(f'{FLOW_NAME}/{n}' for n in taken)} exist on the server "
            f"without the '{OWNED_TAG}' tag, so BareCount does not own them; delete them, or "
            f"tag them '{OWNED_TAG}' to let 'barecount apply' take them over"
        )
    changes, unchanged = [], []
    for name in sorted(set(wanted) | set(have)):
        want, got = wanted.get(name), have.get(name)
        if got is None:
            changes.append(
                Change(
                    action="create",
                    name=name,
                    create_schedules=want.schedules,
                    create_triggers=want.triggers,
                    desired=want,
                )
            )
            continue
        if want is None:
            want = DesiredDeployment(name=name, settings=got.settings)
        change = Change(
            action="update" if name in wanted else "delete",
            name=name,
            deployment_id=got.id,
            fields=tuple(
                label
                for label, attrs in FIELDS.items()
                if any(want.settings.get(a) != got.settings.get(a) for a in attrs)
            ),
            create_schedules=_surplus(want.schedules, got.schedules),
            delete_schedules=_surplus(got.schedules, want.schedules),
            create_triggers=_surplus(want.triggers, got.triggers),
            delete_triggers=_surplus(got.triggers, want.triggers),
            desired=want,
        )
        edits = (change.fields, change.create_schedules, change.delete_schedules)
        if change.action == "delete" or any(
            (*edits, change.create_triggers, change.delete_triggers)
        ):
            changes.append(change)
        else:
            unchanged.append(name)
    return Plan(
        create_work_pool=not actual.work_pool_exists,
        changes=tuple(changes),
        unchanged=tuple(unchanged),
    )


# --- I/O: read the server, make it so (Prefect's sync client) ----------------------------


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
    return Trigger(_normalise(content), id=str(automation.id))


def _read_deployment(client: Any, response: Any) -> DesiredDeployment:
    related = client.read_resource_related_automations(f"prefect.deployment.{response.id}")
    triggers = [t for a in related if (t := _trigger_of(a, response.id)) is not None]
    schedules = [
        Schedule(s.schedule.model_dump(mode="json"), s.active, dict(s.parameters), str(s.id))
        for s in response.schedules
    ]
    return DesiredDeployment(
        id=str(response.id),
        name=response.name,
        settings=response.model_dump(mode="json", include=SETTINGS),
        schedules=tuple(schedules),
        triggers=tuple(sorted(triggers, key=lambda t: t.name)),
    )


def read_actual(client: Any, *, page: int = 200) -> ActualState:
    """The flow's deployments on the server; only ours (tagged 'barecount') are read in full."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.exceptions import ObjectNotFound

    flows = FlowFilter(name=FlowFilterName(any_=[FLOW_NAME]))
    found: list[Any] = []
    while len(batch := client.read_deployments(flow_filter=flows, limit=page, offset=len(found))):
        found.extend(batch)
        if len(batch) < page:
            break
    try:
        pool = client.read_work_pool(WORK_POOL) is not None
    except ObjectNotFound:
        pool = False
    return ActualState(
        deployments=[_read_deployment(client, r) for r in found if OWNED_TAG in r.tags],
        foreign=frozenset(r.name for r in found if OWNED_TAG not in r.tags),
        work_pool_exists=pool,
    )


def _schedule(schedule: Schedule) -> Any:
    from prefect.client.schemas.actions import DeploymentScheduleCreate

    return DeploymentScheduleCreate(
        schedule=schedule.schedule, active=schedule.active, parameters=schedule.parameters
    )


def _create_work_pool(client: Any) -> bool:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    # the template `prefect work-pool create --type process` would store
    template = ProcessWorker.get_default_base_job_template()
    try:
        client.create_work_pool(
            WorkPoolCreate(name=WORK_POOL, type="process", base_job_template=template)
        )
    except ObjectAlreadyExists:
        return False
    return True


def apply(plan: Plan, client: Any) -> list[str]:
    """Carry the plan out on the server; returns one line per thing done."""
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.exceptions import ObjectNotFound

    done = (
        [f"created work pool {WORK_POOL} (process)"]
        if plan.create_work_pool and _create_work_pool(client)
        else []
    )
    adapter = _trigger_adapter()
    for change in plan.changes:
        name = change.full_name
        if change.action == "create":
            want = change.desired
            deployment_id = client.create_deployment(
                flow_id=client.create_flow_from_name(FLOW_NAME),
                name=change.name,
                schedules=[_schedule(s) for s in want.schedules],
                path=None,
                enforce_parameter_schema=True,
                **want.settings,
            )
            done.append(f"created deployment {name}")
        else:
            deployment_id = UUID(change.deployment_id)
        for trigger in change.delete_triggers:
            client.delete_automation(UUID(trigger.id))
            done.append(f"deleted trigger {name}: {trigger.name}")
        if change.action == "delete":
            # Prefect deletes a deployment's schedules with it, but not its automations
            client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
            try:
                client.delete_deployment(deployment_id)
            except ObjectNotFound:
                pass
            done.append(f"deleted deployment {name}")
            continue
        if change.action == "update" and change.fields:
            update = {a: change.desired.settings[a] for f in change.fields for a in FIELDS[f]}
            client.update_deployment(deployment_id, DeploymentUpdate(**update))
            done.append(f"updated deployment {name}: {', '.join(change.fields)}")
        if change.action == "update":
            for schedule in change.delete_schedules:
                client.delete_deployment_schedule(deployment_id, UUID(schedule.id))
                done.append(f"deleted schedule {name}: {schedule.describe()}")
            if change.create_schedules:
                client.create_deployment_schedules(
                    deployment_id, [_schedule(s) for s in change.create_schedules]
                )
                done += [
                    f"created schedule {name}: {s.describe()}" for s in change.create_schedules
                ]
        for trigger in change.create_triggers:
            # as `prefect deploy` does: an automation owned by prefect.deployment.<id>
            # whose one action runs the deployment with the trigger's parameters
            model = adapter.validate_python(trigger.content)
            model.set_deployment_id(deployment_id)
            client.create_automation(model.as_automation())
            done.append(f"created trigger {name}: {trigger.name}")
    return done
