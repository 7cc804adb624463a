"""Where ``verify --since`` starts: a checkpoint by number, or the last one a successful
``verify --against`` vouched for (kept in home/verify-state.json, per ledger URL).

Starting from a checkpoint trusts every row it sealed, so ``last`` is only a checkpoint that
was checked against its published, signed copy; and it must still hold the hash it had then,
else the ledger was rewritten since and verifying from there would prove nothing.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from barecount.errors import EvidenceBrokenError, UsageError
from barecount.ledger.checkpoint_models import LedgerCheckpoint
from barecount.ledger.engine import redact_url

if TYPE_CHECKING:
    from barecount.ledger.checkpoint_anchor import AnchoredVerification
    from barecount.ledger.ledger import Ledger


def state_path(home: Path) -> Path:
    return home / "verify-state.json"


def since_checkpoint(ledger: Ledger, since: str, state: Path) -> LedgerCheckpoint:
    """The checkpoint ``--since`` names: 'last' (the last one verified against its published
    copy) or a number.

    Raises:
        UsageError: ``since`` is neither, or names no checkpoint of this ledger.
        EvidenceBrokenError: the last verified checkpoint no longer holds its hash.
    """
    remembered = None
    if since == "last":
        remembered = _read(state).get(redact_url(ledger.url))
        if not isinstance(remembered, dict) or not isinstance(remembered.get("checkpoint"), int):
            raise UsageError(
                f"--since last: no checkpoint of this ledger was verified yet ({state}); "
                "run 'barecount ledger verify --against FILE' first"
            )
        number = int(remembered["checkpoint"])
    elif since.isdigit() and int(since) > 0:
        number = int(since)
    else:
        raise UsageError(f"--since {since!r}: expected 'last' or a checkpoint number (1, 2, ...)")
    with ledger.session() as session:
        checkpoint = session.get(LedgerCheckpoint, number)
    if checkpoint is None:
        raise UsageError(
            f"--since {since}: the ledger has no checkpoint {number}; "
            "'barecount ledger checkpoint' writes one"
        )
    if remembered and remembered.get("hash") != checkpoint.hash:
        raise EvidenceBrokenError(
            f"checkpoint {number} no longer holds the hash it had when it was verified "
            f"({remembered.get('verified_at')}): the ledger was rewritten since; "
            "verify it with --against FILE from the beginning"
        )
    return checkpoint


def remember(ledger: Ledger, result: AnchoredVerification, state: Path) -> None:
    """Record the last checkpoint a successful ``verify --against`` vouched for."""
    if not result.ok or result.last_checkpoint is None:
        return
    known = _read(state)
    known[redact_url(ledger.url)] = {
        "checkpoint": result.last_checkpoint,
        "hash": result.last_hash,
        "verified_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    state.parent.mkdir(parents=True, exist_ok=True)
    scratch = state.with_name(f".{state.name}.{os.getpid()}")
    scratch.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    scratch.replace(state)


def _read(state: Path) -> dict:
    """The recorded state; a missing or unreadable file is no state (verify from a number
    or from the beginning instead)."""
    try:
        data = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
