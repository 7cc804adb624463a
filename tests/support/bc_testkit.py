"""Helpers shared by tests (importable because conftest puts tests/support on sys.path)."""

from __future__ import annotations

from pathlib import Path

ITEMS_COLUMNS = [("id", "integer", True)]


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
    uses_items = any(stage.get("contract") == "items" for stage in stages)
    if uses_items and not (root / "contracts" / "items.yaml").exists():
        write_contract(root, "items", ITEMS_COLUMNS)  # what bc_test_stages.extract extracts
    return path


def write_contract(root: Path, name: str, columns: list[tuple[str, str, bool]], **settings) -> Path:
    """Write an ODCS v3 contract; settings become barecount.* customProperties."""
    import json

    document = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": name,
        "name": name,
        "version": "1.0.0",
        "status": "active",
        "schema": [
            {
                "name": name,
                "properties": [{"name": c, "logicalType": t, "required": r} for c, t, r in columns],
            }
        ],
        "customProperties": [
            {"property": f"barecount.{key}", "value": value} for key, value in settings.items()
        ],
    }
    path = root / "contracts" / f"{name}.yaml"
    path.write_text(json.dumps(document, indent=2))
    return path
