"""Prefect entrypoint of every BareCount deployment: flows/governed_pipeline.py:governed_pipeline."""

from barecount.runtime.flow import governed_pipeline

__all__ = ["governed_pipeline"]
