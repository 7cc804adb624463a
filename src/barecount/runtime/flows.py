"""The two Prefect flows: one partition of a pipeline, and a backfill of many.

Both are thin: a partition's run lives in runtime.lifecycle, a backfill in runtime.backfill.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.runtime import flow_run as current_flow_run

from barecount.names import BACKFILL_FLOW_NAME, FLOW_NAME
from barecount.runtime.backfill import BackfillRequest, run_backfill
from barecount.runtime.lifecycle import RunScope, resolve_partition, restatement, run_partition


def _flow_run_name() -> str:
    params = current_flow_run.parameters
    return f"{params['pipeline']}-{params.get('partition') or 'scheduled'}"


@flow(name=FLOW_NAME, flow_run_name=_flow_run_name)
def governed_pipeline(
    pipeline: str,
    partition: str | None = None,
    run_token: str | None = None,
    manifests: str | None = None,
    trigger: str = "manual",
    contract_pins: dict[str, str] | None = None,
    verify: bool = False,
    restate_reason: str | None = None,
    requested_by: str | None = None,
) -> dict[str, Any]:
    """Run a BareCount pipeline for one partition under a run token.

    Args:
        pipeline: Pipeline name from the manifests.
        partition: Partition key, e.g. 2026-11-26; default: the scheduled run's partition.
        run_token: Reuse this token (replay); default: derived deterministically.
        manifests: Manifests folder; default: BARECOUNT_MANIFESTS or ./manifests.
        trigger: What started the run (schedule, event, manual, backfill, replay).
        contract_pins: Contract versions to govern by (replay), instead of those in force.
        verify: Recompute every stage into a scratch warehouse and compare its output
            fingerprint with the one recorded under the token; publishes nothing.
        restate_reason: Publish a new version of an already published partition, for this
            reason (a restatement); without it a published partition is not published again.
        requested_by: Who asks for the restatement (default: the OS user running the flow).
    """
    scope = RunScope.open(pipeline, manifests)
    return run_partition(
        scope,
        partition=resolve_partition(scope.spec, partition),
        token=run_token,
        trigger=trigger,
        pins=contract_pins,
        verify=verify,
        restatement=restatement(restate_reason, requested_by),
    )


@flow(name=BACKFILL_FLOW_NAME, flow_run_name="backfill-{pipeline}-{start}-{end}")
def governed_backfill(
    pipeline: str,
    start: str,
    end: str,
    contracts: list[str] | None = None,
    mode: str = "missing",
    parallel: int = 4,
    fail_fast: bool = False,
    dry_run: bool = False,
    manifests: str | None = None,
    requested_by: str | None = None,
    restate_reason: str | None = None,
) -> dict[str, Any]:
    """Backfill PIPELINE from START to END (inclusive), each partition under its own token.

    Args:
        pipeline: Pipeline name.
        start: First partition key.
        end: Last partition key.
        contracts: Contract pins NAME@VERSION; default: the versions each partition ran under.
        mode: missing (not published), failed (last run failed or interrupted), or all.
        parallel: Partitions in flight at once.
        fail_fast: Stop starting partitions after the first failure.
        dry_run: Plan and record nothing else.
        manifests: Manifests folder.
        requested_by: Who asked (default: the OS user running the flow).
        restate_reason: With mode all: publish new versions of partitions published under
            other tokens, for this reason (a restatement).
    """
    parameters = dict(locals())  # the flow's parameters are the request's fields
    scope = RunScope.open(parameters.pop("pipeline"), parameters.pop("manifests"))
    return run_backfill(scope, BackfillRequest(**parameters))
