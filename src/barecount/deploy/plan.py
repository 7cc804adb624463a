"""GitOps, the pure half: the deployments the manifests want and their diff to the server's.

Nothing here talks to the Prefect server: `barecount.deploy.apply` reads the server into an
`ActualState` and carries a `Plan` out. Prefect's schema classes are used only to put
schedules and triggers into the JSON shapes the server stores.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from barecount.errors import GitOpsError
from barecount.names import OWNED_TAG, WORK_POOL, deployment_name

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
        return deployment_name(self.name)


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


@functools.cache
def trigger_adapter() -> Any:
    """A pydantic adapter from trigger JSON to Prefect's deployment trigger models."""
    from prefect.events import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    return TypeAdapter(DeploymentTriggerTypes)


def normalise_trigger(trigger: dict[str, Any]) -> dict[str, Any]:
    """Trigger JSON without its id, set-like lists sorted: equal triggers compare equal."""
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
    adapter = trigger_adapter()
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
                triggers=tuple(
                    Trigger(normalise_trigger(t.model_dump(mode="json"))) for t in triggers
                ),
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
            f"deployment(s) {', '.join(deployment_name(n) for n in taken)} exist on the server "
            f"without the '{OWNED_TAG}' tag, so BareCount does not own them; delete them, or "
            f"tag them '{OWNED_TAG}' to let 'barecount apply' take them over"
        )
    changes, unchanged = [], []
    for name in sorted(set(wanted) | set(have)):
        change = _compare(name, wanted.get(name), have.get(name))
        if change is None:
            unchanged.append(name)
        else:
            changes.append(change)
    return Plan(
        create_work_pool=not actual.work_pool_exists,
        changes=tuple(changes),
        unchanged=tuple(unchanged),
    )


def _compare(
    name: str, want: DesiredDeployment | None, got: DesiredDeployment | None
) -> Change | None:
    """The change from `got` (server) to `want` (manifests); None when they match."""
    if got is None:
        assert want is not None
        return Change(
            action="create",
            name=name,
            create_schedules=want.schedules,
            create_triggers=want.triggers,
            desired=want,
        )
    action: Literal["update", "delete"] = "update" if want is not None else "delete"
    if want is None:  # to be deleted: same settings, its schedules and triggers go
        want = DesiredDeployment(name=name, settings=got.settings)
    change = Change(
        action=action,
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
    edits = (
        change.fields,
        change.create_schedules,
        change.delete_schedules,
        change.create_triggers,
        change.delete_triggers,
    )
    return change if action == "delete" or any(edits) else None
