"""Prefect entrypoint of every BareCount pipeline deployment (see deployments/prefect.yaml)."""

from barecount.runtime.flows import governed_pipeline

__all__ = ["governed_pipeline"]
