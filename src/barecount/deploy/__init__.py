"""Deployments: compile manifests, plan and apply them on a Prefect server, serve, submit."""
