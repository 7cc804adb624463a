"""A loaded set of manifests: pipelines, teams and contracts, with where each came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from open_data_contract_standard.model import OpenDataContractStandard

from barecount.errors import UnknownPipelineError
from barecount.manifest.models import Pipeline
from barecount.manifest.suggest import did_you_mean
from barecount.manifest.team import Team
from barecount.manifest.yamlsource import Document


@dataclass(frozen=True)
class Loaded:
    """A validated manifest and the YAML document it came from."""

    model: Any
    document: Document

    @property
    def file(self) -> Path:
        return self.document.file

    def where(self, *path: str | int) -> str:
        """'file:line' of a path inside the document."""
        return f"{self.document.file}:{self.document.line_of(path)}"


@dataclass
class ManifestSet:
    """Everything under a manifests folder, by kind and name."""

    root: Path
    pipelines: dict[str, Loaded] = field(default_factory=dict)
    teams: dict[str, Loaded] = field(default_factory=dict)
    contracts: dict[str, Loaded] = field(default_factory=dict)
    # names in documents that did not load (invalid): references to them are not reported as
    # unknown, so one pass reports each file's own problems without false ones
    unloaded: set[str] = field(default_factory=set)

    def knows(self, name: object, registry: dict[str, Loaded]) -> bool:
        """Whether ``name`` is in ``registry``, or names a manifest that did not load."""
        return name in registry or name in self.unloaded

    def pipeline(self, name: str) -> Pipeline:
        """The pipeline called ``name``, or a clear error listing the known ones."""
        loaded = self.pipelines.get(name)
        if loaded is None:
            known = ", ".join(sorted(self.pipelines)) or "none"
            raise UnknownPipelineError(
                f"unknown pipeline {name!r}{did_you_mean(name, self.pipelines)}; "
                f"pipelines in {self.root}: {known}"
            )
        return loaded.model

    def team(self, name: str) -> Team:
        return self.teams[name].model

    def contract(self, name: str) -> OpenDataContractStandard:
        return self.contracts[name].model

    def owning_team(self, pipeline: Pipeline) -> Team | None:
        name = pipeline.spec.alerts.team or pipeline.metadata.owner
        loaded = self.teams.get(name) if name else None
        return loaded.model if loaded else None

    def owning_team_of_contract(self, contract: str, pipeline: Pipeline) -> Team | None:
        """The team whose approvers decide on drift: the contract's owner, else the pipeline's."""
        owner = None
        for prop in self.contract(contract).customProperties or ():
            if prop.property == "barecount.owner":
                owner = prop.value
        if isinstance(owner, str) and owner in self.teams:
            return self.teams[owner].model
        return self.owning_team(pipeline)
