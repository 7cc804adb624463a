"""Pipelines at a glance (``/``) and one pipeline's run history (``/pipelines/{name}``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from barecount.console.deps import ConfigDep, LedgerDep, ManifestsDep, OptionalUserDep
from barecount.console.pages import Refusal, page
from barecount.console.svg import STATE_STYLE, stage_svg
from barecount.errors import UnknownPipelineError
from barecount.ledger.views import run_views
from barecount.manifest.graph import stage_layers, stage_needs
from barecount.manifest.models import Pipeline
from barecount.status import StageState

router = APIRouter(tags=["pipelines"])


@router.get("/", response_class=HTMLResponse)
def pipelines(
    config: ConfigDep, ledger: LedgerDep, loaded: ManifestsDep, user: OptionalUserDep
) -> HTMLResponse:
    items = []
    with ledger.session() as session:
        for name in sorted(loaded.pipelines):
            views = run_views(session=session, pipeline=name, limit=1)
            last = views[0] if views else None
            svg = _svg(loaded.pipeline(name), last.states if last else {})
            items.append({"name": name, "svg": svg, "last": last})
    return page(
        "pipelines",
        title="Pipelines",
        pipelines=items,
        root=str(config.manifests),
        legend=_legend(),
        ui=config.prefect_ui,
        user=user,
    )


@router.get("/pipelines/{name}", response_class=HTMLResponse)
def pipeline(
    name: str, config: ConfigDep, ledger: LedgerDep, loaded: ManifestsDep, user: OptionalUserDep
) -> HTMLResponse:
    try:
        spec = loaded.pipeline(name)
    except UnknownPipelineError as exc:
        raise Refusal(404, str(exc)) from None
    with ledger.session() as session:
        views = run_views(session=session, pipeline=name, limit=200)
    history: dict[str, list] = {}
    for view in views:
        history.setdefault(view.run.partition, []).append(view)
    return page(
        "pipeline",
        title=f"Pipeline {name}",
        svg=_svg(spec, views[0].states if views else {}),
        history=sorted(history.items(), reverse=True),
        ui=config.prefect_ui,
        user=user,
    )


def _svg(spec: Pipeline, states: dict[str, str]) -> str:
    stages = [(s.name, s.kind) for s in spec.spec.stages]
    return stage_svg(spec.name, stages, stage_needs(spec), stage_layers(spec), states)


def _legend() -> list[tuple[str, tuple[str, str]]]:
    return [(k, v) for k, v in STATE_STYLE.items() if k != StageState.CACHED]
