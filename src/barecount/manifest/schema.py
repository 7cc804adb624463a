"""JSON Schema of the manifests, generated from the models (editors and CI use it)."""

from __future__ import annotations

import json
from pathlib import Path

from barecount.manifest.models import Pipeline
from barecount.manifest.projectconfig import ProjectConfig
from barecount.manifest.team import Team

SCHEMA_DIR = Path("schemas")
MODELS = {"pipeline": Pipeline, "team": Team, "project": ProjectConfig}  # project: barecount.yaml


def render_schemas() -> dict[str, str]:
    """File name -> JSON text, stable across runs."""
    rendered = {}
    for name, model in MODELS.items():
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://barecount.dev/schemas/{name}.schema.json"
        rendered[f"{name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return rendered


def stale_schemas(folder: Path = SCHEMA_DIR) -> list[str]:
    """Schema files in ``folder`` that differ from what the models generate."""
    return [
        name
        for name, text in render_schemas().items()
        if not (folder / name).exists() or (folder / name).read_text(encoding="utf-8") != text
    ]


def write_schemas(folder: Path = SCHEMA_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written
