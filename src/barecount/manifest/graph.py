"""Dependency graphs: stage order within a pipeline, trigger edges between pipelines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from barecount.errors import GraphError
from barecount.manifest.models import Pipeline, PipelinePublished

Edges = Mapping[str, Sequence[str]]  # node -> the nodes it depends on


def find_cycle(nodes: Iterable[str], needs: Edges) -> list[str] | None:
    """A cycle as [a, b, ..., a] in dependency order, or None. Deterministic.

    Depth-first from each node in order, following needs in listed order; iterative, so a
    chain of thousands of stages needs no deeper Python stack than one stage does.
    """
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    for start in nodes:
        if start in state:
            continue
        state[start] = 1
        path = [start]
        pending = [iter(needs.get(start, ()))]
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                state[path.pop()] = 2
                pending.pop()
            elif state.get(dep) == 1:
                found = [*path[path.index(dep) :], dep]
                return list(reversed(found))  # read it the way data flows: upstream first
            elif dep not in state:
                state[dep] = 1
                path.append(dep)
                pending.append(iter(needs.get(dep, ())))
    return None


def layers(nodes: Sequence[str], needs: Edges) -> list[list[str]]:
    """Topological layers: each layer only needs earlier ones, so its nodes may run together.

    Order inside a layer follows declaration order. Raises GraphError on a cycle (or on a
    need that is not among ``nodes``, which can never be met). Linear in nodes and needs.
    """
    order = {name: i for i, name in enumerate(dict.fromkeys(nodes))}
    waiting = dict.fromkeys(order, 0)
    dependents: dict[str, list[str]] = {name: [] for name in order}
    for name in order:
        for dep in dict.fromkeys(needs.get(name, ())):
            waiting[name] += 1
            if dep in dependents:
                dependents[dep].append(name)
    result: list[list[str]] = []
    ready = [name for name in order if waiting[name] == 0]
    while ready:
        result.append(ready)
        following = []
        for name in ready:
            for other in dependents[name]:
                waiting[other] -= 1
                if waiting[other] == 0:
                    following.append(other)
        ready = sorted(following, key=order.__getitem__)
    placed = {name for layer in result for name in layer}
    if len(placed) < len(order):
        remaining = [name for name in order if name not in placed]
        cycle = find_cycle(remaining, needs) or remaining
        raise GraphError("dependency cycle: " + " -> ".join(cycle))
    return result


def stage_needs(pipeline: Pipeline) -> dict[str, tuple[str, ...]]:
    return {s.name: s.needs for s in pipeline.spec.stages}


def stage_layers(pipeline: Pipeline) -> list[list[str]]:
    """The pipeline's stages in parallel layers."""
    return layers([s.name for s in pipeline.spec.stages], stage_needs(pipeline))


def stage_order(pipeline: Pipeline) -> list[str]:
    """The pipeline's stages in one valid run order."""
    return [name for layer in stage_layers(pipeline) for name in layer]


def pipeline_upstreams(pipelines: Iterable[Pipeline]) -> dict[str, tuple[str, ...]]:
    """Pipeline -> the pipelines whose publication triggers it."""
    return {
        p.name: tuple(t.pipeline for t in p.spec.triggers if isinstance(t, PipelinePublished))
        for p in pipelines
    }


def render_pipeline(pipeline: Pipeline, fmt: str) -> str:
    """The stage graph as 'text', 'mermaid' or 'dot'."""
    nodes = [(s.name, f"{s.name} ({s.kind})") for s in pipeline.spec.stages]
    return _render(pipeline.name, nodes, stage_needs(pipeline), fmt, stage_layers(pipeline))


def render_pipelines(pipelines: Sequence[Pipeline], fmt: str) -> str:
    """The cross-pipeline graph (publication triggers) as 'text', 'mermaid' or 'dot'."""
    upstreams = pipeline_upstreams(pipelines)
    nodes = [(p.name, p.name) for p in pipelines]
    known = {p.name for p in pipelines}
    upstreams = {k: tuple(u for u in v if u in known) for k, v in upstreams.items()}
    return _render(
        "pipelines", nodes, upstreams, fmt, layers([p.name for p in pipelines], upstreams)
    )


def _render(
    title: str,
    nodes: list[tuple[str, str]],
    needs: Edges,
    fmt: str,
    ordered: list[list[str]],
) -> str:
    labels = dict(nodes)
    edges = [(dep, name) for name, _ in nodes for dep in needs.get(name, ())]
    if fmt == "mermaid":
        ids = {name: f"n{i}" for i, (name, _) in enumerate(nodes)}
        lines = ["flowchart LR"]
        lines += [f'    {ids[name]}["{label}"]' for name, label in nodes]
        lines += [f"    {ids[a]} --> {ids[b]}" for a, b in edges]
        return "\n".join(lines) + "\n"
    if fmt == "dot":
        lines = [f'digraph "{title}" {{', "    rankdir=LR;", "    node [shape=box];"]
        lines += [f'    "{name}" [label="{label}"];' for name, label in nodes]
        lines += [f'    "{a}" -> "{b}";' for a, b in edges]
        return "\n".join([*lines, "}"]) + "\n"
    if fmt == "text":
        lines = [title]
        for i, layer in enumerate(ordered, start=1):
            for name in layer:
                deps = needs.get(name, ())
                after = f"  <- {', '.join(deps)}" if deps else ""
                lines.append(f"  {i}. {labels[name]}{after}")
        return "\n".join(lines) + "\n"
    raise GraphError(f"unknown graph format {fmt!r}; use text, mermaid or dot")
