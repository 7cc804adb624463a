"""The console's routes, one router per page group; ``router`` includes them all."""

from fastapi import APIRouter

from barecount.console.routes import backfills, evidence, pending, pipelines, session, static

router = APIRouter()
for _module in (pipelines, pending, evidence, backfills, session, static):
    router.include_router(_module.router)

__all__ = ["router"]
