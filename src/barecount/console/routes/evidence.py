"""The evidence chain of one run token: KPIs, runs, stage attempts, contracts, approvals."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from barecount.console.deps import ConfigDep, LedgerDep, OptionalUserDep
from barecount.console.pages import Refusal, page
from barecount.errors import UnknownTokenError
from barecount.ledger.views import evidence_view

router = APIRouter(tags=["evidence"])


@router.get("/evidence/{token}", response_class=HTMLResponse)
def evidence(
    token: str, config: ConfigDep, ledger: LedgerDep, user: OptionalUserDep
) -> HTMLResponse:
    try:
        with ledger.session() as session:
            view = evidence_view(session=session, token=token)
    except UnknownTokenError as exc:
        raise Refusal(404, str(exc)) from None
    return page("evidence", title="Evidence", ev=view, ui=config.prefect_ui, user=user)
