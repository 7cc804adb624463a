"""Prefect entrypoint of backfills: flows/governed_backfill.py:governed_backfill."""

from barecount.runtime.flows import governed_backfill

__all__ = ["governed_backfill"]
