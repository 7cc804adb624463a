"""Pydantic models of the Pipeline and Team manifests (apiVersion barecount/v1)."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from barecount.manifest.fields import (  # noqa: F401 (patterns are part of this API)
    API_VERSION,
    KPI_PATTERN,
    NAME_PATTERN,
    RUN_PATTERN,
    Bool,
    Clock,
    Cron,
    Int,
    KpiName,
    Name,
    Number,
    TimeZone,
)
from barecount.manifest.runners import RUNNER_HELP, TaskRunnerSpec


class Strict(BaseModel):
    """Every manifest model: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Metadata(Strict):
    name: Name = Field(description="Unique name of this manifest within its kind.")
    owner: str | None = Field(default=None, description="Team (manifest name) that owns it.")
    description: str = Field(default="", description="One line for people and the Prefect UI.")
    labels: dict[str, str] = Field(default_factory=dict, description="Free-form labels.")


class PartitionSpec(Strict):
    calendar: Literal["hourly", "daily", "weekly", "monthly"] = Field(
        default="daily", description="Calendar unit of one partition."
    )
    timezone: TimeZone = Field(default="UTC", description="Time zone partitions are cut in.")
    offset: Int = Field(
        default=0,
        ge=-366,
        le=366,
        description="Partitions to shift from the one a scheduled run starts in; -1 = previous.",
    )


class Window(Strict):
    start: Clock = Field(description="Earliest local start time, HH:MM.")
    end: Clock = Field(description="Latest local start time, HH:MM; after start.")
    late: Literal["skip", "run"] = Field(
        default="skip", description="What a run starting outside the window does."
    )

    @model_validator(mode="after")
    def _end_after_start(self) -> Window:
        if time.fromisoformat(self.end) <= time.fromisoformat(self.start):
            raise ValueError(
                f"window end {self.end} is not after start {self.start}; "
                "windows are within one day, so pick an end later than the start"
            )
        return self


class Schedule(Strict):
    cron: Cron = Field(description="Five-field cron expression, evaluated in `timezone`.")
    timezone: TimeZone = Field(default="UTC", description="IANA time zone of the cron.")
    window: Window | None = Field(default=None, description="When a scheduled run may start.")
    active: Bool = Field(default=True, description="False keeps the schedule but pauses it.")


class SourceUpdated(Strict):
    on: Literal["source-updated"] = Field(description="Run when a source system publishes data.")
    source: str = Field(min_length=1, description="Source name, e.g. erp.invoices.")


class ContractApproved(Strict):
    on: Literal["contract-approved"] = Field(description="Run when a contract version is approved.")
    contract: Name = Field(description="Contract name.")


class PipelinePublished(Strict):
    on: Literal["pipeline-published"] = Field(
        description="Run when an upstream pipeline publishes a partition (same partition)."
    )
    pipeline: Name = Field(description="Upstream pipeline name.")


Trigger = Annotated[SourceUpdated | ContractApproved | PipelinePublished, Field(discriminator="on")]


class Retries(Strict):
    max: Int = Field(default=3, ge=0, le=50, description="Retries after the first attempt.")
    backoff: Literal["exponential", "fixed"] = Field(
        default="exponential", description="How the delay grows between attempts."
    )
    base_seconds: Number = Field(default=10, ge=0, description="Delay before the first retry.")
    max_seconds: Number = Field(default=600, ge=0, description="Cap on any single delay.")
    jitter: Number = Field(
        default=0.2, ge=0, le=1, description="Random extra delay, as a fraction of the delay."
    )

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> Retries:
        if self.max_seconds < self.base_seconds:
            raise ValueError(
                f"max_seconds {self.max_seconds:g} is below base_seconds {self.base_seconds:g}; "
                "raise max_seconds or lower base_seconds"
            )
        return self

    def delays(self) -> list[float]:
        """Delay before each retry, without jitter."""
        if self.backoff == "fixed":
            return [min(self.base_seconds, self.max_seconds)] * self.max
        return [min(self.base_seconds * 2**i, self.max_seconds) for i in range(self.max)]


class Alerts(Strict):
    team: Name | None = Field(default=None, description="Team alerted; defaults to the owner.")
    after_failed_runs: Int = Field(default=1, ge=1, description="Failed runs before alerting.")
    escalate_after: Int = Field(default=3, ge=1, description="Failed runs before escalating.")


class Governance(Strict):
    approval_timeout_seconds: Int = Field(
        default=86400,
        ge=1,
        description="How long a run paused on schema drift waits for a decision before it "
        "fails as rejected.",
    )
    hold: Literal["auto", "suspend", "pause"] = Field(
        default="auto",
        description="How a run waits for a decision: suspend (the run leaves its worker and "
        "is run again from the top on resume; deployment runs only), pause (the process "
        "waits), or auto (suspend for deployment runs, pause otherwise).",
    )


CODE_VERSION_HELP = "Code version, part of the run token (default: the stage module's hash)."


class StageSpec(Strict):
    name: Name = Field(description="Stage name, unique in the pipeline.")
    kind: Literal["ingestion", "transform", "kpi"] = Field(description="What the stage does.")
    run: str = Field(
        pattern=RUN_PATTERN, description="Stage function as 'package.module:function'."
    )
    needs: tuple[Name, ...] = Field(default=(), description="Stages that must finish first.")
    contract: Name | None = Field(
        default=None, description="Data contract the stage's output is checked against."
    )
    publishes: tuple[KpiName, ...] = Field(default=(), description="KPIs a kpi stage publishes.")
    retries: Retries | None = Field(default=None, description="Overrides the pipeline retries.")
    timeout_seconds: Number | None = Field(
        default=None, gt=0, description="Attempt timeout; none by default."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Passed to the stage code.")
    code_version: str | None = Field(
        default=None, min_length=1, max_length=128, description=CODE_VERSION_HELP
    )

    @model_validator(mode="after")
    def _kind_rules(self) -> StageSpec:
        if self.kind == "ingestion" and self.contract is None:
            raise ValueError(
                f"ingestion stage {self.name!r} declares no contract; add 'contract: <name>' "
                "naming a contract in manifests/contracts/"
            )
        if self.kind == "kpi" and not self.publishes:
            raise ValueError(
                f"kpi stage {self.name!r} publishes nothing; add 'publishes: [<kpi>, ...]'"
            )
        if self.kind != "kpi" and self.publishes:
            raise ValueError(
                f"stage {self.name!r} is {self.kind!r} but lists 'publishes'; "
                "only kpi stages publish"
            )
        if self.name in self.needs:
            raise ValueError(f"stage {self.name!r} needs itself; remove it from 'needs'")
        return self


class PipelineSpec(Strict):
    partition: PartitionSpec = Field(
        default_factory=PartitionSpec, description="How runs map to calendar partitions."
    )
    schedule: Schedule | None = Field(default=None, description="Time-driven runs.")
    triggers: tuple[Trigger, ...] = Field(default=(), description="Event-driven runs.")
    retries: Retries = Field(default_factory=Retries, description="Default retry policy.")
    alerts: Alerts = Field(default_factory=Alerts, description="Who hears about failures.")
    governance: Governance = Field(
        default_factory=Governance, description="How drift held for governance is handled."
    )
    stages: tuple[StageSpec, ...] = Field(min_length=1, description="The pipeline's stages.")
    task_runner: TaskRunnerSpec = Field(default_factory=TaskRunnerSpec, description=RUNNER_HELP)


class Pipeline(Strict):
    """A pipeline manifest: stages, their dependencies, schedule and triggers."""

    apiVersion: Literal["barecount/v1"] = Field(description="Always barecount/v1.")
    kind: Literal["Pipeline"] = Field(description="Always Pipeline.")
    metadata: Metadata = Field(description="Name, owner and description.")
    spec: PipelineSpec = Field(description="What runs, when, and how it recovers.")

    @property
    def name(self) -> str:
        return self.metadata.name

    def stage(self, name: str) -> StageSpec:
        return next(s for s in self.spec.stages if s.name == name)

    def retries_for(self, stage: StageSpec) -> Retries:
        return stage.retries or self.spec.retries
