"""Verifying the ledger against checkpoints published outside it (``verify --against``).

Someone with write access can rewrite the database consistently: every row's hash
recomputed, the heads and the in-database checkpoints rewritten to match. Plain ``verify``
cannot tell. A checkpoint published in a JSONL file and signed by a key the database never
held can: each line's signature is checked with the trusted public key, then the database
must still hold that checkpoint, with that hash, and every row it sealed at that place with
that hash. The file is read a line at a time (memory stays flat), one indexed query per lane
per checkpoint, and lanes that did not move since the line before are not read again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import literal, select, union_all
from sqlmodel import Session

from barecount.errors import UsageError
from barecount.ledger import checkpoint_keys as keys
from barecount.ledger.checkpoint_models import LedgerCheckpoint, checkpoint_hash
from barecount.ledger.models import CHAINED_TABLES
from barecount.ledger.verify import Progress, Verification, named, place

if TYPE_CHECKING:
    from barecount.ledger.ledger import Ledger

_FIELDS = {"id": int, "recorded_at": str, "heads": dict, "rows": int, "reason": str}
_FIELDS |= {"prev_hash": str, "hash": str, "signature": str}


@dataclass(frozen=True)
class AnchoredVerification(Verification):
    """A verification against published checkpoints: how many lines agreed, and the last."""

    anchored: int = 0
    last_checkpoint: int | None = None  # the highest checkpoint the file vouched for
    last_hash: str | None = None


class _Refused(Exception):
    def __init__(self, problem: str, **where: Any):
        super().__init__(problem)
        self.problem, self.where = problem, where


def verify_against(
    ledger: Ledger,
    path: Path,
    *,
    public_key: str | None = None,
    since: LedgerCheckpoint | None = None,
    progress: Progress | None = None,
) -> AnchoredVerification:
    """Check every checkpoint in the JSONL file ``path`` (signature, then the database
    agrees), then walk the chain as ``Ledger.verify`` does.

    ``public_key``: the trusted 'ed25519:...' key; default the ``.pub`` file beside
    BARECOUNT_CHECKPOINT_KEY.

    Raises:
        UsageError: ``path`` cannot be read.
        SigningKeyError: the trusted public key cannot be read.
    """
    from barecount.settings import get_settings

    if public_key is None:
        public_key = keys.read_public_key(keys.public_path(keys.key_path(get_settings())))
    anchored, last, seen = 0, None, {}
    try:
        with ledger.session() as session:
            for number, line in _lines(path):
                checkpoint = _trusted(path, number, line, public_key)
                _agrees(session, checkpoint, f"{path}:{number}", seen)
                anchored += 1
                if last is None or checkpoint.id > last.id:
                    last = checkpoint
        if anchored == 0:
            raise _Refused(f"{path} holds no checkpoints: there is nothing to verify against")
    except _Refused as refused:
        return AnchoredVerification(rows=0, problem=refused.problem, **refused.where)
    result = ledger.verify(since=since, progress=progress)
    return AnchoredVerification(
        **asdict(result), anchored=anchored, last_checkpoint=last.id, last_hash=last.hash
    )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every non-blank line, read one at a time."""
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield number, line
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(f"--against {path}: cannot read the checkpoints ({reason})") from None


def _trusted(path: Path, number: int, line: str, public_key: str) -> LedgerCheckpoint:
    """The checkpoint on one line, if it is well formed, matches its hash and was signed by
    ``public_key``."""
    at = f"{path}:{number}"
    checkpoint = _parse(at, line)
    if checkpoint_hash(checkpoint) != checkpoint.hash:
        raise _Refused(
            f"{at}: checkpoint {checkpoint.id} does not match its hash (the line was edited)"
        )
    trusted_id = keys.key_fingerprint(public_key)
    if checkpoint.key_id and checkpoint.key_id != trusted_id:
        raise _Refused(
            f"{at}: checkpoint {checkpoint.id} is signed by key {checkpoint.key_id}, "
            f"not by the trusted key {trusted_id} (pass that key's .pub file with --key)"
        )
    if not keys.verify_signature(public_key, checkpoint.hash.encode(), checkpoint.signature):
        raise _Refused(
            f"{at}: checkpoint {checkpoint.id}'s signature does not verify with the "
            f"trusted key {trusted_id}: the line was forged or edited"
        )
    return checkpoint


def _parse(at: str, line: str) -> LedgerCheckpoint:
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise _Refused(f"{at}: not a JSON line ({getattr(exc, 'msg', exc)})") from None
    if not isinstance(data, dict):
        raise _Refused(f"{at}: not a checkpoint: expected a JSON object")
    for name, kind in _FIELDS.items():
        value = data.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _Refused(f"{at}: field {name!r} is missing or not a {kind.__name__}")
    try:
        recorded_at = datetime.fromisoformat(data["recorded_at"])
    except ValueError:
        raise _Refused(f"{at}: recorded_at {data['recorded_at']!r} is not a timestamp") from None
    for lane, head in data["heads"].items():
        fits = isinstance(head, list) and len(head) == 2 and isinstance(head[1], str)
        if not (lane.isdigit() and fits and isinstance(head[0], int)):
            raise _Refused(f"{at}: heads[{lane!r}] is not [position, hash] of a lane")
    return LedgerCheckpoint(
        **{name: data[name] for name in _FIELDS if name != "recorded_at"},
        recorded_at=recorded_at,
        key_id=str(data.get("key_id") or ""),
    )


def _agrees(session: Session, checkpoint: LedgerCheckpoint, at: str, seen: dict) -> None:
    """The database holds ``checkpoint`` and every row it sealed, unchanged (``seen``: the
    lane heads already found, not read again)."""
    number = checkpoint.id
    held = session.get(LedgerCheckpoint, number)
    if held is None:
        raise _Refused(
            f"checkpoint {number} ({at}) is not in the ledger: deleted, or the ledger was replaced"
        )
    if held.hash != checkpoint.hash:
        raise _Refused(
            f"checkpoint {number} in the ledger differs from the one published at {at}: "
            "the ledger's checkpoints were rewritten"
        )
    for lane, (seq, sealed) in sorted(checkpoint.heads.items(), key=lambda h: int(h[0])):
        if seen.get(lane) == (seq, sealed):
            continue
        found = _row_at(session, int(lane), seq)
        where = {"lane": int(lane), "seq": seq}
        if found is None:
            raise _Refused(
                f"{place(int(lane), seq)} is missing from the ledger but checkpoint {number} "
                f"({at}) sealed it (deleted, or the ledger was truncated?)",
                **where,
            )
        row_id, table, digest = found
        if digest != sealed:
            raise _Refused(
                f"{named(row_id, table, int(lane), seq)} is not the row checkpoint {number} "
                f"({at}) sealed: its hash differs (the ledger was rewritten after it)",
                row_id=row_id,
                table=table,
                **where,
            )
        seen[lane] = (seq, sealed)


def _row_at(session: Session, lane: int, seq: int) -> tuple[int, str, str] | None:
    """(id, table, hash) of the row at ``lane``/``seq``: one query over every table's
    (lane, seq) index."""
    query = union_all(
        *(
            select(t.id, literal(t.__tablename__).label("table"), t.hash).where(
                t.lane == lane, t.seq == seq
            )
            for t in CHAINED_TABLES
        )
    )
    found = session.execute(query).first()
    return None if found is None else (found[0], found[1], found[2])
