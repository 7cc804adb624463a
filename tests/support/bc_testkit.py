"""Helpers shared by tests (importable because conftest puts tests/support on sys.path)."""

from __future__ import annotations

from pathlib import Path


def write_pipeline(root: Path, name: str, stages: list[dict], **spec: object) -> Path:
    """Write a Pipeline manifest (JSON is YAML) into a manifests folder and return its path."""
    import json

    document = {
        "apiVersion": "barecount/v1",
        "kind": "Pipeline",
        "metadata": {"name": name, "owner": "finance-data"},
        "spec": {"stages": stages, **spec},
    }
    path = root / "pipelines" / f"{name}.yaml"
    path.write_text(json.dumps(document, indent=2))
    return path
