"""Dependency graphs: stage order within a pipeline, trigger edges between pipelines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from barecount.errors import GraphError
from barecount.manifest.models import Pipeline, PipelinePublished

Edges = Mapping[str, Sequence[str]]  # node -> the nodes it depends on


def find_cycle(nodes: Iterable[str], needs: Edges) -> list[str] | None:
    """A cycle as [a, b, ..., a] in dependency order, or None. Deterministic."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in needs.get(node, ()):
            if state.get(dep) == 1:
                start = stack.index(dep)
                return [*stack[start:], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in nodes:
        if node not in state and (found := visit(node)):
            # read it the way data flows: upstream first
            return list(reversed(found))
    return None


def layers(nodes: Sequence[str], needs: Edges) -> list[list[str]]:
    """Topological layers: each layer only needs earlier ones, so its nodes may run together.

    Order inside a layer follows declaration order. Raises GraphError on a cycle.
    """
    remaining = list(nodes)
    done: set[str] = set()
    result: list[list[str]] = []
    while remaining:
        ready = [n for n in remaining if all(d in done for d in needs.get(n, ()))]
        if not ready:
            cycle = find_cycle(remaining, needs) or remaining
            raise GraphError("dependency cycle: " + " -> ".join(cycle))
        result.append(ready)
        done.update(ready)
        remaining = [n for n in remaining if n not in done]
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
