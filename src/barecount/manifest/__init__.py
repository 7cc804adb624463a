"""Manifests: strict models, a YAML loader that keeps line numbers, validation, graphs."""

from barecount.manifest.loader import load_manifests
from barecount.manifest.models import Pipeline, StageSpec
from barecount.manifest.project import ManifestSet
from barecount.manifest.team import Team

__all__ = ["ManifestSet", "Pipeline", "StageSpec", "Team", "load_manifests"]
