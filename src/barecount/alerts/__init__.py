"""Alerts to the owning team: a pure policy over a run history, and delivery through Prefect
notification blocks or Apprise."""
