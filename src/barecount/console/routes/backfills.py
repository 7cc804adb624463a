"""Recent backfills with their outcome counts, finished or not."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from barecount.console.deps import ConfigDep, LedgerDep, OptionalUserDep
from barecount.console.pages import page
from barecount.ledger.views import backfill_views

router = APIRouter(tags=["backfills"])


@router.get("/backfills", response_class=HTMLResponse)
def backfills(config: ConfigDep, ledger: LedgerDep, user: OptionalUserDep) -> HTMLResponse:
    with ledger.session() as session:
        views = backfill_views(session=session)
    return page("backfills", title="Backfills", backfills=views, ui=config.prefect_ui, user=user)
