"""Manifests: strict models, a YAML loader that keeps line numbers, validation, graphs."""

from barecount.manifest.loader import load_manifests
from barecount.manifest.models import Pipeline, StageSpec, Team
from barecount.manifest.project import ManifestSet

__all__ = ["ManifestSet", "Pipeline", "StageSpec", "Team", "load_manifests"]
