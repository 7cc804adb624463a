"""Checks across manifests: references, cycles, stage code that must import, alert channels
that would put credentials in git."""

from __future__ import annotations

import importlib
from typing import Any

from barecount.manifest.channels import credential_problem
from barecount.manifest.graph import find_cycle, pipeline_upstreams, stage_needs
from barecount.manifest.limits import MAX_PROBLEMS_PER_FILE, capped, shown
from barecount.manifest.models import ContractApproved, Pipeline, PipelinePublished
from barecount.manifest.project import Loaded, ManifestSet
from barecount.manifest.suggest import did_you_mean

CONTRACT_AUTO_APPROVE = ("none", "non-breaking")


def cross_check(found: ManifestSet, *, check_imports: bool = True) -> list[str]:
    """Every cross-reference problem among the manifests that loaded (a reference to one that
    did not load is not reported: that manifest's own problems are)."""
    problems: list[str] = []
    for loaded in found.pipelines.values():
        problems += _check_pipeline(loaded, found, check_imports)
    for loaded in found.contracts.values():
        problems += _check_contract(loaded, found)
    for loaded in found.teams.values():
        problems += _check_channels(loaded)
    problems += _check_pipeline_cycles(found)
    return problems


def _check_channels(loaded: Loaded) -> list[str]:
    """Alert channels keep credentials out of the manifest (Apprise says what is secret)."""
    team = loaded.model
    problems = []
    for field in ("alerts", "escalation"):
        for i, channel in enumerate(getattr(team.spec, field)):
            problem = credential_problem(channel, team.name)
            if problem:
                where = loaded.where("spec", field, i)
                problems.append(f"{where}: spec.{field}[{i}]: {problem}")
    return capped(loaded.file, problems)


def _check_pipeline(loaded: Loaded, found: ManifestSet, check_imports: bool) -> list[str]:
    problems = [*_check_teams(loaded, found), *_check_duplicate_stages(loaded)]
    room = MAX_PROBLEMS_PER_FILE - len(problems) - 1
    problems += _check_stage_references(loaded, found, check_imports, room)
    problems += [*_check_stage_cycle(loaded), *_check_triggers(loaded, found)]
    return capped(loaded.file, problems)


def _check_teams(loaded: Loaded, found: ManifestSet) -> list[str]:
    """The owner and the alerts team must be teams."""
    pipeline: Pipeline = loaded.model
    problems: list[str] = []
    meta = pipeline.metadata
    if meta.owner is not None and not found.knows(meta.owner, found.teams):
        problems.append(
            f"{loaded.where('metadata', 'owner')}: owner {meta.owner!r} is not a team"
            f"{did_you_mean(meta.owner, found.teams)}; add manifests/teams/{meta.owner}.yaml "
            "or name an existing team"
        )
    team = pipeline.spec.alerts.team
    if team is not None and not found.knows(team, found.teams):
        problems.append(
            f"{loaded.where('spec', 'alerts', 'team')}: alerts team {team!r} is not a team"
            f"{did_you_mean(team, found.teams)}; name an existing team"
        )
    return problems


def _check_duplicate_stages(loaded: Loaded) -> list[str]:
    pipeline: Pipeline = loaded.model
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for i, stage in enumerate(pipeline.spec.stages):
        at = ("spec", "stages", i)
        if stage.name in first_line:
            problems.append(
                f"{loaded.where(*at, 'name')}: duplicate stage {stage.name!r} (first on line "
                f"{first_line[stage.name]}); stage names must be unique in a pipeline"
            )
            continue
        first_line[stage.name] = loaded.document.line_of((*at, "name"))
    return problems


def _check_stage_references(
    loaded: Loaded, found: ManifestSet, check_imports: bool, room: int
) -> list[str]:
    """Each stage's needs, contract and (when ``check_imports``) run target must exist.

    Past ``room`` problems the rest are only counted: no suggestions, no imports (each
    costs milliseconds, and a hostile manifest can ask for tens of thousands).
    """
    pipeline: Pipeline = loaded.model
    problems: list[str] = []
    hidden, unchecked = 0, False
    names = [s.name for s in pipeline.spec.stages]
    known = set(names)
    for i, stage in enumerate(pipeline.spec.stages):
        at = ("spec", "stages", i)
        missing = [(j, need) for j, need in enumerate(stage.needs) if need not in known]
        no_contract = stage.contract is not None and not found.knows(
            stage.contract, found.contracts
        )
        space = room - len(problems)
        if space <= 0:
            hidden += len(missing) + no_contract
            unchecked = unchecked or check_imports
            continue
        hidden += max(len(missing) - space, 0)
        for j, need in missing[:space]:
            problems.append(
                f"{loaded.where(*at, 'needs', j)}: stage {stage.name!r} needs unknown stage "
                f"{need!r}{did_you_mean(need, names)}"
            )
        if no_contract:
            problems.append(
                f"{loaded.where(*at, 'contract')}: stage {stage.name!r} names unknown contract "
                f"{stage.contract!r}{did_you_mean(stage.contract, found.contracts)}; add "
                f"manifests/contracts/{stage.contract}.yaml or name an existing contract"
            )
        if check_imports and len(problems) < room:
            problem = check_run_target(stage.run)
            if problem:
                problems.append(f"{loaded.where(*at, 'run')}: stage {stage.name!r}: {problem}")
        elif check_imports:
            unchecked = True
    if hidden or unchecked:
        problems.append(
            f"{loaded.where('spec', 'stages')}: {hidden} more unknown reference(s) not listed, "
            "and later run targets not checked; fix the ones above first"
        )
    return problems


def _check_stage_cycle(loaded: Loaded) -> list[str]:
    pipeline: Pipeline = loaded.model
    names = [s.name for s in pipeline.spec.stages]
    cycle = find_cycle(names, stage_needs(pipeline))
    if not cycle:
        return []
    index = names.index(cycle[0])
    return [
        f"{loaded.where('spec', 'stages', index, 'needs')}: stages form a cycle: "
        f"{' -> '.join(cycle)}; remove one of these needs"
    ]


def _check_triggers(loaded: Loaded, found: ManifestSet) -> list[str]:
    """Triggers must name other, existing pipelines and existing contracts."""
    pipeline: Pipeline = loaded.model
    problems: list[str] = []
    for i, trigger in enumerate(pipeline.spec.triggers):
        at = ("spec", "triggers", i)
        if isinstance(trigger, PipelinePublished):
            if trigger.pipeline == pipeline.name:
                problems.append(
                    f"{loaded.where(*at, 'pipeline')}: pipeline {pipeline.name!r} triggers on its "
                    "own publication, which would start it again forever; remove this trigger"
                )
            elif not found.knows(trigger.pipeline, found.pipelines):
                problems.append(
                    f"{loaded.where(*at, 'pipeline')}: trigger names unknown pipeline "
                    f"{trigger.pipeline!r}{did_you_mean(trigger.pipeline, found.pipelines)}"
                )
        elif isinstance(trigger, ContractApproved) and not found.knows(
            trigger.contract, found.contracts
        ):
            problems.append(
                f"{loaded.where(*at, 'contract')}: trigger names unknown contract "
                f"{trigger.contract!r}{did_you_mean(trigger.contract, found.contracts)}"
            )
    return problems


def check_run_target(run: str) -> str | None:
    """Why ``run`` ('module:function') cannot be called, or None when it can."""
    module_name, _, attr = run.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of user code is a manifest problem
        return (
            f"run {run!r}: cannot import module {module_name!r} "
            f"({type(exc).__name__}: {exc}); check the module path and that it is installed"
        )
    target: Any = getattr(module, attr, None)
    if target is None:
        public = [n for n in dir(module) if not n.startswith("_")]
        return f"run {run!r}: module {module_name!r} has no {attr!r}{did_you_mean(attr, public)}"
    if not callable(target):
        return f"run {run!r}: {attr!r} is a {type(target).__name__}, not a function"
    return None


def contract_setting(contract: Any, key: str) -> Any:
    """A BareCount setting kept in an ODCS contract's customProperties ('barecount.<key>')."""
    for prop in contract.customProperties or ():
        if prop.property == f"barecount.{key}":
            return prop.value
    return None


def _check_contract(loaded: Loaded, found: ManifestSet) -> list[str]:
    contract = loaded.model
    problems = []
    owner = contract_setting(contract, "owner")
    if owner is not None and (not isinstance(owner, str) or not found.knows(owner, found.teams)):
        problems.append(
            f"{_setting_where(loaded, 'owner')}: contract {shown(contract.name)} owner "
            f"{shown(owner)} is not a team{did_you_mean(str(owner), found.teams)}; name the "
            "team that owns the contract"
        )
    auto = contract_setting(contract, "autoApprove")
    if auto is not None and (not isinstance(auto, str) or auto not in CONTRACT_AUTO_APPROVE):
        problems.append(
            f"{_setting_where(loaded, 'autoApprove')}: contract {shown(contract.name)} "
            f"barecount.autoApprove is {shown(auto)}; use one of "
            f"{', '.join(CONTRACT_AUTO_APPROVE)}"
        )
    return problems


def _setting_where(loaded: Loaded, key: str) -> str:
    """'file:line' of the value of the customProperties entry 'barecount.<key>'."""
    for i, prop in enumerate(loaded.model.customProperties or ()):
        if prop.property == f"barecount.{key}":
            return loaded.where("customProperties", i, "value")
    return loaded.where("customProperties")


def _check_pipeline_cycles(found: ManifestSet) -> list[str]:
    pipelines = [loaded.model for loaded in found.pipelines.values()]
    upstreams = {
        name: tuple(u for u in ups if u in found.pipelines and u != name)
        for name, ups in pipeline_upstreams(pipelines).items()
    }
    cycle = find_cycle(sorted(upstreams), upstreams)
    if not cycle:
        return []
    loaded = found.pipelines[cycle[1]]
    index = next(
        i
        for i, t in enumerate(loaded.model.spec.triggers)
        if isinstance(t, PipelinePublished) and t.pipeline == cycle[0]
    )
    return [
        f"{loaded.where('spec', 'triggers', index)}: pipelines trigger each other in a cycle: "
        f"{' -> '.join(cycle)}; each publication would start the next forever, so remove one "
        "pipeline-published trigger"
    ]
