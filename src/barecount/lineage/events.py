"""OpenLineage events of ledger rows, with openlineage-python's model classes: one job per
pipeline stage, one OpenLineage run per stage attempt (START, then COMPLETE or FAIL), its
parent the pipeline run; an OTHER event on the ingestion attempt for each contract gate check.
"""

from __future__ import annotations

from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import (
    data_quality_assertions_dataset as dq,
)
from openlineage.client.generated import (
    dataset_version_dataset,
    datasource_dataset,
    error_message_run,
    job_type_job,
    nominal_time_run,
    output_statistics_output_dataset,
    ownership_job,
    parent_run,
    schema_dataset,
)

from barecount.ledger.evidence_elements import signature as verified_signature
from barecount.ledger.models import StageAttempt
from barecount.lineage import facets as bc
from barecount.lineage.naming import Naming, attempt_run_id, pipeline_run_id, utc, when
from barecount.lineage.rows import CheckRows, RunRows
from barecount.manifest.partitions import parse_partition
from barecount.status import GateOutcome, StageState

P = bc.PRODUCER
SUCCEEDED = (StageState.COMPLETED, StageState.CACHED)


def _job(naming: Naming, pipeline: str, stage: str) -> Job:
    facts = naming.pipelines.get(pipeline)
    facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="BARECOUNT", jobType="TASK", producer=P
        )
    }
    if facts is not None and facts.owner:
        owner = ownership_job.Owner(name=f"team:{facts.owner}", type="team")
        facets["ownership"] = ownership_job.OwnershipJobFacet(owners=[owner], producer=P)
    return Job(namespace=naming.namespace, name=naming.job(pipeline, stage), facets=facets)


def _run_facets(naming: Naming, rows: RunRows, attempt: StageAttempt) -> dict[str, Any]:
    run = rows.run
    parent = pipeline_run_id(run)
    job = naming.job(run.pipeline)
    facets: dict[str, Any] = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent),
            job=parent_run.Job(namespace=naming.namespace, name=job),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=parent),
                job=parent_run.RootJob(namespace=naming.namespace, name=job),
            ),
            producer=P,
        ),
        bc.RUN_FACET: bc.BareCountRunFacet(
            token=attempt.token,
            pipeline=run.pipeline,
            partition=run.partition,
            stage=attempt.stage,
            attempt=attempt.attempt,
            state=attempt.state,
            ledgerRow=bc.ledger_row(attempt),
            ledgerRunId=run.id,
            contractVersions={k: str(v) for k, v in (run.contract_versions or {}).items()},
            flowRunId=run.flow_run_id,
            taskRunId=attempt.task_run_id,
            outputFingerprint=attempt.output_fingerprint,
            producer=P,
        ),
    }
    facts = naming.pipelines.get(run.pipeline)
    if facts is not None and facts.partition is not None:
        try:
            window = parse_partition(run.partition, facts.partition)
        except ValueError:
            window = None
        if window is not None:
            facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
                nominalStartTime=when(window.start), nominalEndTime=when(window.end), producer=P
            )
    return facets


def _sources(naming: Naming, attempt: StageAttempt) -> list[InputDataset]:
    found = []
    for source in (attempt.lineage or {}).get("sources", []):
        namespace, name = naming.source(str(source.get("path")))
        facets = {
            "dataSource": datasource_dataset.DatasourceDatasetFacet(
                name="landing", uri=f"file://{naming.landing or ''}", producer=P
            ),
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=str(source.get("sha256")), producer=P
            ),
        }
        found.append(InputDataset(namespace=namespace, name=name, facets=facets))
    return found


def _warehouse(naming: Naming, table: str) -> dict[str, Any]:
    facet = datasource_dataset.DatasourceDatasetFacet(
        name="warehouse", uri=naming.warehouse, producer=P
    )
    return {"namespace": naming.warehouse, "name": table, "facets": {"dataSource": facet}}


def _inputs(naming: Naming, rows: RunRows, attempt: StageAttempt) -> list[InputDataset]:
    """The landed files it read, its upstream stages' tables, upstream pipelines' KPIs."""
    lineage = attempt.lineage or {}
    found = _sources(naming, attempt)
    for stage in sorted(lineage.get("upstream") or {}):
        made = [a for a in rows.attempts if a.stage == stage and a.state in SUCCEEDED]
        tables = (made[-1].lineage or {}).get("tables", {}) if made else {}
        found += [InputDataset(**_warehouse(naming, table)) for table in sorted(tables)]
    for pipeline, token in sorted((lineage.get("upstream_pipelines") or {}).items()):
        for kpi in sorted({p.kpi for p in rows.upstream.get(token or "", [])}):
            namespace, name = naming.kpi(pipeline, kpi)
            found.append(InputDataset(namespace=namespace, name=name))
    return found


def _outputs(naming: Naming, rows: RunRows, attempt: StageAttempt) -> list[OutputDataset]:
    """The warehouse tables it wrote (with row counts) and the KPIs it computed."""
    lineage = attempt.lineage or {}
    found = []
    for table, count in sorted((lineage.get("tables") or {}).items()):
        stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=int(count), producer=P
        )
        found.append(
            OutputDataset(**_warehouse(naming, table), outputFacets={"outputStatistics": stats})
        )
    for kpi in lineage.get("kpis") or []:
        namespace, name = naming.kpi(rows.run.pipeline, kpi)
        found.append(OutputDataset(namespace=namespace, name=name))
    return found


def attempt_events(naming: Naming, rows: RunRows, attempt: StageAttempt) -> list[RunEvent]:
    """START and COMPLETE (or FAIL) of one stage attempt."""
    run_id = attempt_run_id(attempt)
    job = _job(naming, rows.run.pipeline, attempt.stage)
    inputs = _inputs(naming, rows, attempt)
    outputs = _outputs(naming, rows, attempt)
    facets = _run_facets(naming, rows, attempt)
    start = RunEvent(
        eventType=RunState.START,
        eventTime=when(attempt.started_at),
        run=Run(runId=run_id, facets=facets),
        job=job,
        inputs=inputs,
        outputs=outputs,
        producer=P,
    )
    facets = dict(facets)  # the same facets, and the error of a failed attempt
    if attempt.state in SUCCEEDED:
        state = RunState.COMPLETE
    else:
        state = RunState.FAIL
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=f"{attempt.error_class}: {attempt.error_message}",
            programmingLanguage="python",
            producer=P,
        )
    end = RunEvent(
        eventType=state,
        eventTime=when(attempt.ended_at),
        run=Run(runId=run_id, facets=facets),
        job=job,
        inputs=inputs,
        outputs=outputs,
        producer=P,
    )
    return [start, end]


def checked_attempt(rows: RunRows, item: CheckRows) -> StageAttempt | None:
    """The attempt whose extract a gate check checked: the stage's last success before it."""
    made = [
        a
        for a in rows.attempts
        if a.stage == item.check.stage and a.state in SUCCEEDED and (a.id or 0) < item.check.id
    ]
    return made[-1] if made else None


def gate_event(naming: Naming, rows: RunRows, item: CheckRows) -> RunEvent | None:
    """An OTHER event on the checked attempt's run: the gate's data quality assertions on
    the extract, its schema, and BareCount's governance facet (decisions, signatures)."""
    attempt = checked_attempt(rows, item)
    if attempt is None:
        return None
    check = item.check
    assertions = [
        dq.Assertion(
            assertion="contract_schema",
            success=check.outcome == GateOutcome.PASS,
            name=f"{check.contract}@{check.contract_version}",
            severity="error",
            description=f"the extract matches data contract {check.contract} "
            f"version {check.contract_version}",
        )
    ] + [
        dq.Assertion(assertion=str(c.get("kind")), success=False, column=str(c.get("column")))
        for c in check.diff or []
    ]
    schema = schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name=c["name"], type=c.get("logical_type"))
            for c in check.extracted or []
        ],
        producer=P,
    )
    checked = _sources(naming, attempt) or [
        InputDataset(**_warehouse(naming, t))
        for t in sorted((attempt.lineage or {}).get("tables", {}))
    ]
    for dataset in checked:
        dataset.facets = {**(dataset.facets or {}), "schema": schema}
        facet = dq.DataQualityAssertionsDatasetFacet(assertions=assertions, producer=P)
        dataset.inputFacets = {"dataQualityAssertions": facet}
    facets = _run_facets(naming, rows, attempt)
    facets[bc.GOVERNANCE_FACET] = _governance(item)
    latest = max([check.recorded_at, *(d.recorded_at for d in item.decisions)], key=utc)
    return RunEvent(
        eventType=RunState.OTHER,
        eventTime=when(latest),
        run=Run(runId=attempt_run_id(attempt), facets=facets),
        job=_job(naming, rows.run.pipeline, attempt.stage),
        inputs=checked,
        outputs=[],
        producer=P,
    )


def _governance(item: CheckRows) -> bc.BareCountGovernanceRunFacet:
    check = item.check
    decisions = []
    for d in item.decisions:
        shown = verified_signature(check, d, item.signatures.get(d.id))
        decisions.append(
            bc.GovernanceDecision(
                approver=d.approver,
                decision=d.decision,
                reason=d.reason,
                accepted=d.accepted,
                signed=d.signed,
                ledgerRow=bc.ledger_row(d),
                signatureVerified=shown["verified"],
                keyFingerprint=shown["key_fingerprint"],
                newVersion=d.new_version,
            )
        )
    return bc.BareCountGovernanceRunFacet(
        contract=check.contract,
        contractVersion=check.contract_version,
        schemaFingerprint=check.schema_fingerprint,
        outcome=check.outcome,
        classification=check.classification,
        ledgerRow=bc.ledger_row(check),
        holdStatus=item.status,
        decisions=decisions,
        producer=P,
    )


def run_events(naming: Naming, rows: RunRows) -> list[RunEvent]:
    """Every event of one pipeline run, in ledger order."""
    timeline: list[tuple[int, list[RunEvent]]] = [
        (a.id or 0, attempt_events(naming, rows, a)) for a in rows.attempts
    ]
    for item in rows.checks:
        event = gate_event(naming, rows, item)
        if event is not None:
            timeline.append((item.check.id or 0, [event]))
    return [event for _, events in sorted(timeline, key=lambda t: t[0]) for event in events]
