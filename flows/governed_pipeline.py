"""Prefect entrypoint of every BareCount deployment (see deployments/prefect.yaml)."""

from barecount.runtime.flow import governed_pipeline

__all__ = ["governed_pipeline"]
