"""Events of what a run just recorded, built from the ledger the way an export builds them (so
live and exported events are the same), then delivered by ``emit``."""

from __future__ import annotations

import logging
from pathlib import Path

from barecount.ledger import Ledger
from barecount.ledger.models import StageAttempt
from barecount.lineage.emit import configured, deliver
from barecount.lineage.events import attempt_events, gate_event
from barecount.lineage.naming import Naming, naming
from barecount.lineage.rows import runs_by_id

log = logging.getLogger("barecount.lineage")
_names: dict[str, Naming] = {}


def _naming(manifests: str | Path | None) -> Naming:
    key = str(manifests or "")
    if key not in _names:
        _names[key] = naming(manifests=Path(manifests) if manifests else None)
    return _names[key]


def attempt_recorded(ledger: Ledger, attempt: StageAttempt, *, manifests: str | None) -> None:
    """Emit START and COMPLETE/FAIL of a stage attempt the ledger just recorded."""
    if not configured():
        return
    try:
        with ledger.session() as session:
            [rows] = runs_by_id(session, [attempt.run_id])
        mine = next(a for a in rows.attempts if a.id == attempt.id)
        events = attempt_events(_naming(manifests), rows, mine)
    except Exception:  # building events must not fail a run either
        log.exception("OpenLineage: could not build the events of attempt row %s", attempt.id)
        return
    deliver(ledger, run_id=attempt.run_id, row_id=attempt.id or 0, events=events)


def gate_settled(ledger: Ledger, *, run_id: int, stage: str, manifests: str | None) -> None:
    """Emit the OTHER event of each gate check of ``stage`` in run ``run_id`` once the gate
    let the run go on or stopped it (with the decisions taken meanwhile)."""
    if not configured():
        return
    try:
        with ledger.session() as session:
            [rows] = runs_by_id(session, [run_id])
        name = _naming(manifests)
        found = [
            (item.check.id or 0, gate_event(name, rows, item))
            for item in rows.checks
            if item.check.stage == stage
        ]
    except Exception:
        log.exception("OpenLineage: could not build the gate events of run %s", run_id)
        return
    for row_id, event in found:
        if event is not None:
            deliver(ledger, run_id=run_id, row_id=row_id, events=[event])
