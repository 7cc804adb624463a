"""barecount serve: every compiled deployment, with its schedule and triggers, in this process."""

from __future__ import annotations

from typing import Any

from prefect import serve
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron

from barecount.deploy.compile import compile_backfills, compile_manifests
from barecount.manifest import ManifestSet
from barecount.names import FLOW_NAME
from barecount.runtime.flows import governed_backfill, governed_pipeline


def served_deployments(found: ManifestSet, *, manifests_path: str) -> list[Any]:
    """Runner deployments built from the same specs as deployments/prefect.yaml."""
    deployments = []
    for spec in compile_manifests(found):
        schedules = [
            Cron(s["cron"], timezone=s["timezone"], active=s["active"], parameters=s["parameters"])
            for s in spec["schedules"]
        ]
        triggers = [
            DeploymentEventTrigger(**{k: v for k, v in t.items() if k != "type"})
            for t in spec["triggers"]
        ]
        deployments.append(
            governed_pipeline.to_deployment(
                name=spec["name"],
                description=spec["description"],
                tags=spec["tags"],
                parameters={**spec["parameters"], "manifests": manifests_path},
                schedules=schedules,
                triggers=triggers,
            )
        )
    for spec in compile_backfills(found):  # startable from the UI with a start and an end
        deployments.append(
            governed_backfill.to_deployment(
                name=spec["name"],
                description=spec["description"],
                tags=spec["tags"],
                parameters={**spec["parameters"], "manifests": manifests_path},
            )
        )
    return deployments


def worker_deployments(found: ManifestSet) -> list[str]:
    """Deployments of these pipelines that already run on a work pool (apply/prefect deploy).

    Serving takes a deployment over, but Prefect keeps the work-pool deployment's storage
    settings, and its runs then fail to load the flow: such deployments are replaced.
    """
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    taken = []
    with get_client(sync_client=True) as client:
        for name in sorted(found.pipelines):
            try:
                deployment = client.read_deployment_by_name(f"{FLOW_NAME}/{name}")
            except ObjectNotFound:
                continue
            if deployment.work_pool_name:
                taken.append(deployment.name)
    return taken


def delete_deployments(names: list[str]) -> None:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        for name in names:
            deployment_id = client.read_deployment_by_name(f"{FLOW_NAME}/{name}").id
            # Prefect deletes a deployment's schedules with it, but not its trigger automations
            client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
            client.delete_deployment(deployment_id)


def serve_all(found: ManifestSet, *, manifests_path: str, limit: int | None = None) -> None:
    """Serve until interrupted; runs execute as subprocesses of this one."""
    serve(*served_deployments(found, manifests_path=manifests_path), limit=limit)
