"""Compiled deployment specs -> the deployments in the JSON shapes the Prefect server stores.

Pure like `barecount.deploy.plan`: Prefect's schema classes only put schedules and triggers
into the server's shapes; nothing here talks to a server.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from barecount.deploy.plan import FLOWS, DesiredDeployment, Schedule, Trigger
from barecount.errors import GitOpsError
from barecount.names import WORK_POOL

_SET_LIKE = ("after", "expect", "for_each")  # pydantic sets: their JSON order means nothing


def flow_settings(flow: str) -> dict[str, Any]:
    """Version and parameter schema of a flow by name, read as `prefect deploy` reads them."""
    from prefect.utilities.callables import parameter_schema

    from barecount.runtime.flows import governed_backfill, governed_pipeline

    found = {f.name: f for f in (governed_pipeline, governed_backfill)}[flow]
    schema = parameter_schema(found).model_dump(exclude_unset=True)
    return {"version": found.version, "parameter_openapi_schema": schema}


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
    specs: Iterable[dict[str, Any]],
    *,
    pull_steps: list[dict[str, Any]],
    flows: Mapping[str, Any] | None = None,
) -> list[DesiredDeployment]:
    """The deployments in `compile_project` output, in the JSON shapes Prefect stores.

    A deployment's flow is the one its entrypoint loads; `flows` maps each flow's name to
    its version and parameter schema (default: read from the flows); every deployment gets
    `pull_steps` (`barecount.deploy.source.pull_steps`), which bring a worker to the code.

    Raises:
        GitOpsError: a spec's entrypoint is neither flow's.
    """
    flows = {f: flow_settings(f) for f in FLOWS.values()} if flows is None else flows
    return [_desired(spec, flows, list(pull_steps)) for spec in specs]


def _desired(spec: dict[str, Any], flows: Mapping[str, Any], pull: Any) -> DesiredDeployment:
    from prefect.client.schemas.schedules import CronSchedule

    flow = FLOWS.get(spec.get("entrypoint", ""))
    if flow is None:
        raise GitOpsError(f"deployment {spec['name']}: no flow at {spec.get('entrypoint')!r}")
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
        **flows[flow],
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
        trigger_adapter().validate_python({"name": f"{spec['name']}__automation_{i}", **t})
        for i, t in enumerate(spec.get("triggers") or [], start=1)
    ]
    return DesiredDeployment(
        flow=flow,
        name=spec["name"],
        settings=settings,
        schedules=tuple(schedules),
        triggers=tuple(Trigger(normalise_trigger(t.model_dump(mode="json"))) for t in triggers),
    )
