"""The console's routes, one router per page group; ``router`` includes them all.

Read pages (GET) of the page groups need a logged-in approver unless reads are public
(``BARECOUNT_CONSOLE_PUBLIC=true``); logging in and the stylesheet are open to everyone.
"""

from fastapi import APIRouter

from barecount.console.deps import ReadAccess
from barecount.console.routes import backfills, evidence, pending, pipelines, session, static

router = APIRouter()
for _module in (pipelines, pending, evidence, backfills):
    router.include_router(_module.router, dependencies=[ReadAccess])
for _module in (session, static):
    router.include_router(_module.router)

__all__ = ["router"]
