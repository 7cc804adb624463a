"""What OpenLineage events are named after: the job namespace, dataset namespaces of the
landing folder and the warehouse, and what the manifests say of each pipeline (its owning
team, its partition calendar for the nominal time)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from openlineage.client.uuid import generate_static_uuid

from barecount.errors import BareCountError
from barecount.ledger.models import PipelineRun, StageAttempt
from barecount.manifest.models import PartitionSpec

DEFAULT_NAMESPACE = "barecount"
NAMESPACE_VARIABLE = "OPENLINEAGE_NAMESPACE"


@dataclass(frozen=True)
class PipelineFacts:
    owner: str | None
    partition: PartitionSpec | None


@dataclass(frozen=True)
class Naming:
    """Names for one export or emission (one warehouse, one landing folder)."""

    namespace: str = DEFAULT_NAMESPACE
    warehouse: str = "warehouse"
    landing: Path | None = None
    pipelines: dict[str, PipelineFacts] = field(default_factory=dict)

    def job(self, pipeline: str, stage: str | None = None) -> str:
        return pipeline if stage is None else f"{pipeline}.{stage}"

    def kpi(self, pipeline: str, kpi: str) -> tuple[str, str]:
        """The dataset of a published KPI: (namespace, name)."""
        return self.namespace, f"{pipeline}/{kpi}"

    def source(self, path: str) -> tuple[str, str]:
        """The dataset of a landed file: (namespace 'file', its absolute path)."""
        where = Path(path)
        if not where.is_absolute() and self.landing is not None:
            where = self.landing / where
        return "file", where.as_posix()


def naming(*, namespace: str | None = None, manifests: Path | None = None) -> Naming:
    """The names of this process: OPENLINEAGE_NAMESPACE (default 'barecount'), the settings'
    warehouse (password hidden) and landing folder, and the manifests' pipelines when they
    load (events go without ownership and nominal time otherwise)."""
    from barecount.ledger.engine import redact_url
    from barecount.settings import get_settings

    settings = get_settings()
    facts: dict[str, PipelineFacts] = {}
    try:
        from barecount.manifest import load_manifests

        loaded = load_manifests(manifests or settings.manifests, check_imports=False)
        facts = {
            name: PipelineFacts(owner=p.metadata.owner, partition=p.spec.partition)
            for name, p in ((n, loaded.pipeline(n)) for n in loaded.pipelines)
        }
    except (BareCountError, OSError):
        pass
    return Naming(
        namespace=namespace or os.environ.get(NAMESPACE_VARIABLE) or DEFAULT_NAMESPACE,
        warehouse=redact_url(settings.warehouse_url),
        landing=settings.landing.absolute(),
        pipelines=facts,
    )


def utc(value: datetime) -> datetime:
    """Ledger times are UTC; SQLite gives them back without their zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def when(value: datetime) -> str:
    return utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pipeline_run_id(run: PipelineRun) -> str:
    """The OpenLineage run id of a pipeline run: the same from the same ledger row, always."""
    data = f"barecount/pipeline-run/{run.token}/{run.id}/{run.flow_run_id}".encode()
    return str(generate_static_uuid(utc(run.recorded_at or datetime.now(UTC)), data))


def attempt_run_id(attempt: StageAttempt) -> str:
    """The OpenLineage run id of one stage attempt (its START and COMPLETE/FAIL share it)."""
    data = f"barecount/attempt/{attempt.token}/{attempt.run_id}/{attempt.stage}/{attempt.id}"
    return str(generate_static_uuid(utc(attempt.started_at), data.encode()))
