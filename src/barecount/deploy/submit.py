"""Starting runs through a deployment, so a worker executes them, keyed by run token."""

from __future__ import annotations

from typing import Any

from prefect.deployments import run_deployment

from barecount.ledger import Ledger
from barecount.manifest import ManifestSet
from barecount.manifest.partitions import parse_partition
from barecount.names import deployment_name
from barecount.runtime.plan import RunPlan, contract_names, plan_run


def submit_run(
    ledger: Ledger,
    manifests: ManifestSet,
    pipeline: str,
    partition: str,
    *,
    token: str | None = None,
    manifests_path: str | None = None,
    trigger: str = "cli",
) -> tuple[RunPlan, Any]:
    """Create a flow run of the pipeline's deployment without waiting for it.

    The run token is the Prefect idempotency key: asking twice for the same token
    returns the flow run created the first time instead of a second one.
    """
    spec = manifests.pipeline(pipeline)
    in_force = ledger.versions_in_force(manifests=manifests, contracts=contract_names(spec))
    versions = {name: row.version for name, row in in_force.items()}
    key = parse_partition(partition, spec.spec.partition).key
    upstream = ledger.upstream_tokens(pipeline=spec, partition=key)
    plan = plan_run(manifests, pipeline, key, versions=versions, upstream=upstream, token=token)
    parameters: dict[str, Any] = {
        "pipeline": pipeline,
        "partition": plan.partition,
        "run_token": plan.token,
        "trigger": trigger,
    }
    if manifests_path:
        parameters["manifests"] = manifests_path
    flow_run = run_deployment(
        deployment_name(pipeline),
        parameters=parameters,
        idempotency_key=plan.token,
        timeout=0,
        as_subflow=False,
    )
    return plan, flow_run
