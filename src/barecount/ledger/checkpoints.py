"""Writing checkpoints: every lane's head sealed, signed, and published outside the database.

A checkpoint is written under a lock of its own (PostgreSQL: an advisory lock; SQLite has one
writer anyway), chained to the one before it, signed with the key of
barecount.ledger.checkpoint_keys, and then published where a rewrite of the database cannot
reach: one line appended to a JSONL file, and a Prefect event and artifact. The database
commits first, so nothing outside it ever names a checkpoint the database does not hold.
``barecount ledger verify --against FILE`` (barecount.ledger.checkpoint_anchor) compares.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, union_all
from sqlmodel import Session

from barecount.ledger import checkpoint_keys as keys
from barecount.ledger.base import ChainHead
from barecount.ledger.chain import GENESIS, lock_key, now
from barecount.ledger.checkpoint_models import LedgerCheckpoint, checkpoint_hash
from barecount.ledger.models import CHAINED_TABLES

if TYPE_CHECKING:
    from barecount.ledger.ledger import Ledger
    from barecount.settings import Settings

log = logging.getLogger(__name__)
EVENT = "barecount.ledger.checkpoint"
ARTIFACT_KEY = "ledger-checkpoint"
Due = Callable[[Session, dict[str, list], LedgerCheckpoint | None], str | None]


def write_checkpoint(ledger: Ledger, *, reason: str = "manual") -> LedgerCheckpoint:
    """Seal every lane's head into checkpoint n + 1, sign it and publish it.

    Nothing changed since the last checkpoint: that one is returned and nothing is written.
    """
    written = _write(ledger, lambda *_: reason)
    assert written is not None  # always due: only an unchanged ledger returns the last one
    return written


def maybe_checkpoint(ledger: Ledger) -> LedgerCheckpoint | None:
    """Write a checkpoint when ``checkpoint_every_rows`` rows were appended since the last
    one, or it is ``checkpoint_every_minutes`` old (before the first: the first row is);
    else nothing. Cheap enough for the end of every run: two small queries when not due."""
    from barecount.settings import get_settings

    settings = get_settings()

    def due(session: Session, heads: dict[str, list], last: LedgerCheckpoint | None) -> str | None:
        return _due(session, heads, last, settings)

    with ledger.session() as session:
        last = last_checkpoint(session)
        if due(session, current_heads(session), last) is None:
            return None
    written = _write(ledger, due)  # decided again under the lock: another may have written
    return None if written is None or (last and written.id == last.id) else written


def current_heads(session: Session) -> dict[str, list]:
    """Lane -> [last position, its hash], for every lane holding rows."""
    query = select(ChainHead).where(ChainHead.last_seq > 0).order_by(ChainHead.id)
    return {str(h.id): [h.last_seq, h.last_hash] for h in session.execute(query).scalars()}


def last_checkpoint(session: Session) -> LedgerCheckpoint | None:
    query = select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1)
    return session.execute(query).scalars().first()


def _due(session, heads, last, settings: Settings) -> str | None:
    """Why a checkpoint is due ('rows', 'minutes'), or None."""
    if last is not None and heads == last.heads:
        return None
    rows = sum(seq for seq, _ in heads.values())
    if rows - (last.rows if last is not None else 0) >= settings.checkpoint_every_rows:
        return "rows"
    since = last.recorded_at if last is not None else _first_row_at(session)
    if since is None:
        return None
    if since.tzinfo is None:  # SQLite returns naive datetimes; the ledger writes UTC
        since = since.replace(tzinfo=UTC)
    if now() - since >= timedelta(minutes=settings.checkpoint_every_minutes):
        return "minutes"
    return None


def _first_row_at(session: Session) -> datetime | None:
    """When the ledger's first row was written: one query over the recorded_at indexes."""
    firsts = union_all(*(select(func.min(t.recorded_at).label("at")) for t in CHAINED_TABLES))
    return session.execute(select(func.min(firsts.subquery().c.at))).scalar_one_or_none()


def _write(ledger: Ledger, reason_if_due: Due) -> LedgerCheckpoint | None:
    """Checkpoint n + 1 if ``reason_if_due`` gives a reason and a lane moved, else the last
    checkpoint (None: there is none)."""
    from barecount.settings import get_settings

    settings = get_settings()
    with ledger.session() as session:
        lock_key(session, "checkpoint")
        heads, last = current_heads(session), last_checkpoint(session)
        reason = reason_if_due(session, heads, last)
        if reason is None or (last is not None and heads == last.heads):
            return last
        key, public = keys.signing_key(keys.key_path(settings))
        checkpoint = LedgerCheckpoint(
            id=(last.id if last is not None else 0) + 1,
            recorded_at=now(),
            heads=heads,
            rows=sum(seq for seq, _ in heads.values()),
            reason=reason[:200],
            prev_hash=last.hash if last is not None else GENESIS,
            hash="",
            key_id=keys.key_fingerprint(public),
        )
        checkpoint.hash = checkpoint_hash(checkpoint)
        checkpoint.signature = keys.sign(key, checkpoint.hash.encode())
        session.add(checkpoint)
    publish(checkpoint, public, settings)
    return checkpoint


def record(checkpoint: LedgerCheckpoint, public_key: str) -> dict[str, Any]:
    """A checkpoint as it is published: one JSON object, with the public key that signs."""
    recorded_at = checkpoint.recorded_at
    if recorded_at.tzinfo is None:
        recorded_at = recorded_at.replace(tzinfo=UTC)
    return {
        "id": checkpoint.id,
        "recorded_at": recorded_at.isoformat(timespec="microseconds"),
        "heads": checkpoint.heads,
        "rows": checkpoint.rows,
        "reason": checkpoint.reason,
        "prev_hash": checkpoint.prev_hash,
        "hash": checkpoint.hash,
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
        "public_key": public_key,
    }


def publish(checkpoint: LedgerCheckpoint, public_key: str, settings: Settings) -> None:
    """Publish outside the database: the JSONL file (when set), then Prefect (when there
    is one). The file must succeed; Prefect failing only logs a warning."""
    published = record(checkpoint, public_key)
    if settings.checkpoint_file is not None:
        append_line(settings.checkpoint_file, published)
    _publish_to_prefect(published, settings)


def append_line(path: Path, published: dict[str, Any]) -> None:
    """Append one JSON line and fsync it: the file only ever grows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(published, sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one write of an O_APPEND file: lines never interleave
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish_to_prefect(published: dict[str, Any], settings: Settings) -> None:
    """The event ``barecount.ledger.checkpoint`` and, inside a flow run, the artifact
    ``ledger-checkpoint`` (Prefect deprecates artifacts outside runs). Outside a run only
    when an API is configured or this home's server runs, and only if it answers. Prefect
    is imported only here: the ledger works without it."""
    try:
        from prefect.context import get_run_context
        from prefect.exceptions import MissingContextError

        try:
            in_run = get_run_context() is not None
        except MissingContextError:
            in_run = False
        if in_run:
            _emit(published, artifact=True)
            return
        from barecount.local_server import running_server
        from barecount.prefect_api import api_headers, configured_api_url, is_healthy, use_api

        api = configured_api_url(settings) or running_server(settings)
        if not api or not is_healthy(api, timeout=2, headers=api_headers()):
            return
        from prefect.events.worker import EventsWorker

        with use_api(api):
            _emit(published, artifact=False)
            EventsWorker.drain_all(timeout=10)  # a short-lived CLI must not exit before sending
    except Exception as exc:  # Prefect holds a copy, never the record: the run goes on
        _warn(f"ledger checkpoint {published['id']} was not published to Prefect: {exc}")


def _emit(published: dict[str, Any], *, artifact: bool) -> None:
    from prefect.artifacts import create_markdown_artifact
    from prefect.events import emit_event

    number = published["id"]
    emit_event(
        event=EVENT,
        resource={
            "prefect.resource.id": f"barecount.ledger.checkpoint.{number}",
            "prefect.resource.name": f"ledger checkpoint {number}",
        },
        payload=published,
    )
    if not artifact:
        return
    lanes = "\n".join(
        f"| {lane} | {seq} | `{digest}` |" for lane, (seq, digest) in published["heads"].items()
    )
    create_markdown_artifact(
        key=ARTIFACT_KEY,
        markdown=(
            f"# Ledger checkpoint {number}\n\n"
            f"- rows sealed: {published['rows']} ({published['reason']})\n"
            f"- hash: `{published['hash']}`\n- previous: `{published['prev_hash']}`\n"
            f"- signed by key `{published['key_id']}`: `{published['public_key']}`\n"
            f"- signature: `{published['signature']}`\n\n"
            f"| lane | position | hash |\n|---|---|---|\n{lanes or '| - | 0 | |'}\n"
        ),
        description=f"Ledger checkpoint {number}: {published['rows']} rows sealed",
    )


def _warn(message: str) -> None:
    try:
        from prefect.logging import get_run_logger

        get_run_logger().warning(message)
    except Exception:
        log.warning(message)


def checkpoint_after(ledger: Ledger, *, backfill: int | None = None) -> LedgerCheckpoint | None:
    """The checkpoint at the end of a run (when due) or of a backfill (always, reason
    'backfill <id>'). One that cannot be written (key or file unusable) is a warning, not
    a failed run: the rows it would seal are in the ledger, and the next checkpoint seals
    them."""
    from barecount.errors import BareCountError

    try:
        if backfill is None:
            return maybe_checkpoint(ledger)
        return write_checkpoint(ledger, reason=f"backfill {backfill}")
    except (BareCountError, OSError) as exc:
        _warn(f"no ledger checkpoint was written: {exc}")
        return None
