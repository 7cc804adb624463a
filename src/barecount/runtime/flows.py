"""The two Prefect flows: one partition of a pipeline, and a backfill of many.

Both are thin: a partition's run lives in runtime.lifecycle, a backfill in runtime.backfill.
An expected end (a stage failed for good, governance rejected, timed out or blocked the run,
bad input) is a BareCountError: the flow returns a Failed state carrying it, with its one-line
message, so Prefect logs no traceback; only a bug (any other exception) is raised. A run
suspended for governance raises Prefect's Pause (a BaseException) as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow, get_client, get_run_logger
from prefect.runtime import flow_run as current_flow_run
from prefect.states import Completed, Failed, Running, State

from barecount.errors import BareCountError
from barecount.names import BACKFILL_FLOW_NAME, FLOW_NAME
from barecount.runtime.backfill import BackfillRequest, run_backfill
from barecount.runtime.lifecycle import RunScope, resolve_partition, restatement, run_partition


def _flow_run_name() -> str:
    params = current_flow_run.parameters
    return f"{params['pipeline']}-{params.get('partition') or 'scheduled'}"


def ended(work: Callable[[], dict[str, Any]]) -> State:
    """The flow run's final state: Completed with the summary, or Failed with the error."""
    try:
        summary = work()
    except BareCountError as error:
        message = " ".join(str(error).split())  # one line, whatever the stage's text was
        _leave_expired_pause()
        return Failed(message=message, data=error)
    detail = summary.get("detail") or ""
    status = summary.get("status")
    return Completed(message=f"{status}: {detail}" if status and detail else status, data=summary)


def _leave_expired_pause() -> None:
    """After a pause timed out, the server still reads Paused and would replace this run's
    end with "The flow was paused and never resumed."; the process is running: say so."""
    if current_flow_run.id is None:
        return
    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(current_flow_run.id).state
            if state is not None and state.is_paused():
                client.set_flow_run_state(current_flow_run.id, Running(), force=True)
    except Exception:  # the run still ends, with Prefect's words instead of ours
        get_run_logger().warning("could not mark the timed-out pause as over", exc_info=True)


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
) -> State:
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

    def work() -> dict[str, Any]:
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

    return ended(work)


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
) -> State:
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

    def work() -> dict[str, Any]:
        scope = RunScope.open(parameters.pop("pipeline"), parameters.pop("manifests"))
        return run_backfill(scope, BackfillRequest(**parameters))

    return ended(work)
