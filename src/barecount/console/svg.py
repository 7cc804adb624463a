"""A pipeline's stage graph as inline SVG: boxes per layer, arrows, fill by stage state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from barecount.status import StageState

NOT_RUN = "not-run"  # a stage of the graph with no attempt in the run shown
# stage state (barecount.status.StageState, derived in ledger.views) -> (fill, label)
STATE_STYLE: dict[str, tuple[str, str]] = {
    StageState.COMPLETED: ("#2e9d4f", "completed"),
    StageState.CACHED: ("#2e9d4f", "cached"),
    StageState.FAILED: ("#d03b3b", "failed"),
    StageState.RETRYING: ("#f08c00", "retrying"),
    StageState.HELD: ("#f2b705", "held at gate"),
    NOT_RUN: ("#9aa0a6", "not run"),
}

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 180, 54, 70, 24, 16


def stage_svg(
    title: str,
    stages: Sequence[tuple[str, str]],
    needs: Mapping[str, Sequence[str]],
    layers: Sequence[Sequence[str]],
    states: Mapping[str, str],
) -> str:
    """SVG of the stages (name, kind) laid out left to right by layer.

    Each box is a ``<rect>`` with ``data-stage`` and ``data-state`` attributes and the fill of
    its state; a stage missing from ``states`` is drawn as not run.
    """
    kinds = dict(stages)
    tallest = max((len(layer) for layer in layers), default=1)
    width = PAD * 2 + len(layers) * BOX_W + max(len(layers) - 1, 0) * GAP_X
    height = PAD * 2 + tallest * BOX_H + (tallest - 1) * GAP_Y
    where: dict[str, tuple[int, int]] = {}
    for col, layer in enumerate(layers):
        offset = (height - (len(layer) * BOX_H + (len(layer) - 1) * GAP_Y)) // 2
        for row, name in enumerate(layer):
            where[name] = (PAD + col * (BOX_W + GAP_X), offset + row * (BOX_H + GAP_Y))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="stage-graph" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)} stage graph">',
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' "
        "markerHeight='7' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' "
        "fill='#555'/></marker></defs>",
    ]
    for name, deps in needs.items():
        for dep in deps:
            if dep not in where or name not in where:
                continue
            (x1, y1), (x2, y2) = where[dep], where[name]
            parts.append(
                f'<line class="edge" x1="{x1 + BOX_W}" y1="{y1 + BOX_H // 2}" x2="{x2 - 2}" '
                f'y2="{y2 + BOX_H // 2}" stroke="#555" stroke-width="1.5" '
                'marker-end="url(#arrow)"/>'
            )
    for name, (x, y) in where.items():
        state = states.get(name, NOT_RUN)
        fill, label = STATE_STYLE.get(state, STATE_STYLE[NOT_RUN])
        parts.append(
            f'<g class="stage"><title>{escape(name)}: {escape(label)}</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" '
            f'stroke="#333" data-stage="{escape(name)}" data-state="{escape(state)}"/>'
            f'<text x="{x + BOX_W // 2}" y="{y + 22}" text-anchor="middle" fill="#fff" '
            f'font-size="13" font-weight="600">{escape(name)}</text>'
            f'<text x="{x + BOX_W // 2}" y="{y + 40}" text-anchor="middle" fill="#fff" '
            f'font-size="11">{escape(kinds.get(name, ""))} · {escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
