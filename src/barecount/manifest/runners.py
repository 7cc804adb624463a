"""The task runner of a pipeline's manifest: where the stage tasks of its runs go."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from barecount.manifest.fields import Int
from barecount.manifest.limits import shown

# Dask's own address forms: protocol://host:port (tcp, tls, ucx, ws, wss); IPv6 in brackets.
RUNNER_HELP = (
    "Where the stage tasks of its runs and backfills run; BARECOUNT_TASK_RUNNER, "
    "BARECOUNT_DASK_ADDRESS and BARECOUNT_TASK_RUNNER_WORKERS override it per run."
)
_ADDRESS = re.compile(r"(tcp|tls|ucx|ws|wss)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}")


class TaskRunnerSpec(BaseModel):
    """Threads of the flow run's process (the default), or a Dask cluster via prefect-dask."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["threads", "dask"] = Field(
        default="threads",
        description="threads: the flow run's own process; dask: a Dask cluster (needs the "
        "barecount[dask] extra).",
    )
    address: str | None = Field(
        default=None,
        description="Dask scheduler address, e.g. tcp://dask-scheduler:8786; none: a local "
        "cluster of worker processes, started for each flow run.",
    )
    workers: Int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Threads (threads) or worker processes of the local Dask cluster (dask "
        "without address); default: Prefect's thread pool, or Dask's choice by CPU count.",
    )

    @field_validator("address")
    @classmethod
    def _dask_address(cls, value: str | None) -> str | None:
        if value is not None and not _ADDRESS.fullmatch(value):
            raise ValueError(
                f"task_runner address {shown(value)} is not a Dask scheduler address; write "
                "protocol://host:port, e.g. tcp://dask-scheduler:8786"
            )
        return value

    @model_validator(mode="after")
    def _settings_fit_type(self) -> TaskRunnerSpec:
        if self.type == "threads" and self.address is not None:
            raise ValueError(
                "task_runner has an address but type 'threads'; set 'type: dask' or drop address"
            )
        if self.address is not None and self.workers is not None:
            raise ValueError(
                "task_runner sets both address and workers; the cluster at an address has its "
                "own workers: drop 'workers' (it sizes a local cluster)"
            )
        return self

    def describe(self) -> str:
        """One line for logs: where the stages run."""
        if self.type == "threads":
            return "threads" + (f" ({self.workers})" if self.workers else "")
        if self.address:
            return f"dask at {self.address}"
        workers = f"{self.workers} worker processes" if self.workers else "worker processes"
        return f"dask local cluster ({workers})"
