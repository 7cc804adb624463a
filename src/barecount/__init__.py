"""BareCount: governed orchestration and scheduling of data pipelines on Prefect 3."""

__version__ = "0.1.0"
