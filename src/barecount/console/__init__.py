"""The governance web console: pipelines, pending approvals, evidence, backfills (FastAPI)."""
