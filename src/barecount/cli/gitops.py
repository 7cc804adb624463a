"""plan and apply: make the Prefect server match the manifests (GitOps)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Placeholder until plan/apply land."""
