"""GitOps, the pure half: the deployments the manifests want and their diff to the server's.

Nothing here talks to the Prefect server: `barecount.deploy.desired` turns compiled specs
into `DesiredDeployment`s, `barecount.deploy.apply` reads the server into an `ActualState`
and carries a `Plan` out.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from barecount import names
from barecount.errors import GitOpsError
from barecount.manifest.projectconfig import WorkPool
from barecount.names import BACKFILL_FLOW_NAME, FLOW_NAME, OWNED_TAG

# entrypoint -> name of the flow it loads: the two flows whose deployments plan and apply manage
FLOWS = {names.ENTRYPOINT: FLOW_NAME, names.BACKFILL_ENTRYPOINT: BACKFILL_FLOW_NAME}
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
    """A pipeline's deployment (`governed-pipeline/<pipeline>`) or its backfill's
    (`governed-backfill/<pipeline>-backfill`); read back from the server it has an `id`."""

    flow: str  # FLOW_NAME or BACKFILL_FLOW_NAME
    name: str
    settings: dict[str, Any]  # DeploymentUpdate field -> JSON value, for every field in FIELDS
    schedules: tuple[Schedule, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    id: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.flow}/{self.name}"

    @property
    def pipeline(self) -> str:
        """The pipeline it belongs to, by name: '<pipeline>-backfill' in the backfill flow."""
        suffix = names.backfill_deployment_name("")
        return self.name.removesuffix(suffix) if self.flow == BACKFILL_FLOW_NAME else self.name

    def order(self) -> tuple[str, bool, str]:
        """Sort key: by pipeline, its own deployment before its backfill's."""
        return self.pipeline, self.flow != FLOW_NAME, self.name


@dataclass(frozen=True, kw_only=True)
class ActualState:
    """The server: our deployments of both flows, full names of those not ours, the pool
    (whether it exists and its type)."""

    deployments: list[DesiredDeployment]
    foreign: frozenset[str] = frozenset()
    work_pool_exists: bool = True
    work_pool_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class Change:
    """What happens to one deployment, its schedules and its triggers."""

    action: Literal["create", "update", "delete"]
    flow: str
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
        return f"{self.flow}/{self.name}"


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Everything apply would do; empty when the server matches the manifests."""

    create_work_pool: bool
    changes: tuple[Change, ...]
    unchanged: tuple[str, ...] = ()  # full names
    work_pool: WorkPool = field(default_factory=WorkPool)

    @property
    def has_changes(self) -> bool:
        return self.create_work_pool or bool(self.changes)


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
    desired: list[DesiredDeployment],
    actual: ActualState,
    *,
    only: set[str] | None = None,
    work_pool: WorkPool | None = None,
) -> Plan:
    """What to do so the server matches `desired` on `work_pool`; `only` limits it to those
    pipelines, each with its deployment and its backfill deployment.

    Raises:
        GitOpsError: a deployment to manage exists without the 'barecount' tag, or the
            pool exists with another type (Prefect cannot change a pool's type).
    """
    work_pool = work_pool or WorkPool()
    if actual.work_pool_exists and actual.work_pool_type not in (None, work_pool.type):
        raise GitOpsError(
            f"work pool {work_pool.name!r} on the server is a {actual.work_pool_type} pool, "
            f"but the project config asks for {work_pool.type}; Prefect cannot change a "
            f"pool's type: delete it ('prefect work-pool delete {work_pool.name}') or name "
            "another pool in barecount.yaml"
        )
    wanted, have = _scoped(desired, only), _scoped(actual.deployments, only)
    taken = [n for n in wanted if n in actual.foreign]
    if taken:
        raise GitOpsError(
            f"deployment(s) {', '.join(taken)} exist on the server "
            f"without the '{OWNED_TAG}' tag, so BareCount does not own them; delete them, or "
            f"tag them '{OWNED_TAG}' to let 'barecount apply' take them over"
        )
    keys = _scoped([*have.values(), *wanted.values()], None)
    compared = {key: _compare(wanted.get(key), have.get(key)) for key in keys}
    changes = tuple(c for c in compared.values() if c is not None)
    unchanged = tuple(key for key, c in compared.items() if c is None)
    return Plan(
        create_work_pool=not actual.work_pool_exists,
        changes=changes,
        unchanged=unchanged,
        work_pool=work_pool,
    )


def _scoped(found: Iterable[DesiredDeployment], only: set[str] | None) -> dict[str, Any]:
    """Full name -> deployment, of the pipelines in `only` (all if None), in plan order."""
    ordered = sorted(found, key=DesiredDeployment.order)
    return {d.full_name: d for d in ordered if only is None or d.pipeline in only}


def _compare(want: DesiredDeployment | None, got: DesiredDeployment | None) -> Change | None:
    """The change from `got` (server) to `want` (manifests); None when they match."""
    action = "create" if got is None else "delete" if want is None else "update"
    known = want or got
    assert known is not None
    # a missing side is a bare copy of the other: created or deleted whole, settings as they are
    bare = DesiredDeployment(flow=known.flow, name=known.name, settings=known.settings)
    want, got = want or bare, got or bare
    edits: dict[str, Any] = {
        "fields": tuple(
            label
            for label, attrs in FIELDS.items()
            if any(want.settings.get(a) != got.settings.get(a) for a in attrs)
        ),
        "create_schedules": _surplus(want.schedules, got.schedules),
        "delete_schedules": _surplus(got.schedules, want.schedules),
        "create_triggers": _surplus(want.triggers, got.triggers),
        "delete_triggers": _surplus(got.triggers, want.triggers),
    }
    if action == "update" and not any(edits.values()):
        return None
    return Change(
        action=action, flow=known.flow, name=known.name, deployment_id=got.id, desired=want, **edits
    )
