"""Stage order, parallel layers and the cross-pipeline graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from barecount.manifest import load_manifests
from barecount.manifest.graph import (
    find_cycle,
    layers,
    render_pipeline,
    render_pipelines,
    stage_layers,
    stage_order,
)
from barecount.manifest.models import Pipeline


def pipeline(stages: list[dict], name: str = "p", triggers: tuple = ()) -> Pipeline:
    return Pipeline.model_validate(
        {
            "apiVersion": "barecount/v1",
            "kind": "Pipeline",
            "metadata": {"name": name},
            "spec": {"stages": stages, "triggers": list(triggers)},
        }
    )


def stage(name: str, *needs: str, kind: str = "transform") -> dict:
    return {"name": name, "kind": kind, "run": "json:dumps", "needs": list(needs)}


def test_layers_group_independent_stages() -> None:
    p = pipeline(
        [stage("d", "b", "c"), stage("b", "a"), stage("c", "a"), stage("a"), stage("e", "a")]
    )
    assert stage_layers(p) == [["a"], ["b", "c", "e"], ["d"]]
    assert stage_order(p) == ["a", "b", "c", "e", "d"]


def test_layers_raise_on_cycle_naming_it() -> None:
    with pytest.raises(ValueError, match="dependency cycle: a -> b -> a"):
        layers(["a", "b"], {"a": ["b"], "b": ["a"]})


def test_find_cycle_none_for_a_dag() -> None:
    assert find_cycle(["a", "b", "c"], {"c": ["b"], "b": ["a"]}) is None


def test_render_formats() -> None:
    p = pipeline([stage("a"), stage("b", "a")])
    assert render_pipeline(p, "text") == "p\n  1. a (transform)\n  2. b (transform)  <- a\n"
    assert render_pipeline(p, "mermaid") == (
        'flowchart LR\n    n0["a (transform)"]\n    n1["b (transform)"]\n    n0 --> n1\n'
    )
    assert render_pipeline(p, "dot") == (
        'digraph "p" {\n    rankdir=LR;\n    node [shape=box];\n'
        '    "a" [label="a (transform)"];\n    "b" [label="b (transform)"];\n'
        '    "a" -> "b";\n}\n'
    )
    with pytest.raises(ValueError, match="unknown graph format 'svgz'"):
        render_pipeline(p, "svgz")


def test_cross_pipeline_graph_follows_publication_triggers() -> None:
    up = pipeline([stage("a")], name="up")
    down = pipeline(
        [stage("a")], name="down", triggers=[{"on": "pipeline-published", "pipeline": "up"}]
    )
    assert render_pipelines([down, up], "text") == "pipelines\n  1. up\n  2. down  <- up\n"


def test_finance_example_order() -> None:
    found = load_manifests(Path(__file__).resolve().parents[2] / "manifests")
    assert stage_order(found.pipeline("finance-kpi")) == [
        "ingest-invoices",
        "gdp-invoices",
        "kpi-finance",
    ]
