"""Deterministic ERP invoice exports, one CSV per daily partition, with realistic mess."""

from __future__ import annotations

import csv
import hashlib
import os
import random
import re
import tempfile
from datetime import date, timedelta
from pathlib import Path

from barecount.errors import PartitionError

COLUMNS = ("invoice_id", "customer_id", "amount", "currency", "issue_date", "due_date", "paid_date")
DRIFTS = ("drop-column", "rename-column", "add-column", "type-change")

_PARTITION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Cumulative weights: most invoices are in EUR, a few in CHF.
_CURRENCIES = ((0.60, "EUR"), (0.80, "USD"), (0.95, "GBP"), (1.00, "CHF"))
_TERMS = (14, 30, 60)
_ISSUED_TODAY = 0.80  # the rest are older open items re-exported because they changed
_UNPAID = 0.25
_MAX_AGE = 90  # days: oldest issue date and longest payment delay
_DUPLICATE_EVERY = 100  # one re-exported row per this many invoices


def parse_partition(partition: str) -> date:
    """The day a partition key names.

    Raises:
        PartitionError: the key is not a real calendar day written 'YYYY-MM-DD'.
    """
    if isinstance(partition, str) and _PARTITION.fullmatch(partition):
        try:
            return date.fromisoformat(partition)
        except ValueError:
            pass
    raise PartitionError(
        f"partition key {partition!r} is not a day: expected the form 'YYYY-MM-DD', "
        "e.g. '2026-11-26'"
    )


def extract_path(landing: Path, source: str, partition: str) -> Path:
    """Where the extract of ``source`` for ``partition`` lands: ``landing/<source>/<key>.csv``."""
    parse_partition(partition)
    if not source or "/" in source or "\\" in source or source in {".", ".."}:
        raise ValueError(f"source {source!r} must be a plain name such as 'erp.invoices'")
    return Path(landing) / source / f"{partition}.csv"


def write_extract(
    landing: Path,
    source: str,
    partition: str,
    invoices: int = 2000,
    *,
    drift: str | None = None,
) -> Path:
    """Write the ERP invoice export of one day, byte-identical for the same arguments.

    Args:
        landing: Landing folder; the file goes to ``landing/<source>/<partition>.csv``.
        source: Source system name, e.g. 'erp.invoices'.
        partition: Day key 'YYYY-MM-DD'; the only seed of the data.
        invoices: Distinct invoices in the file (a few more rows are re-exports).
        drift: Simulated schema drift, one of ``DRIFTS``, or None.

    Returns:
        The path written.
    """
    if drift is not None and drift not in DRIFTS:
        raise ValueError(f"unknown drift {drift!r}: expected one of {', '.join(DRIFTS)}")
    dest = extract_path(landing, source, partition)
    header, rows = _apply_drift(_invoice_rows(partition, invoices), drift, partition)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A reader (the ingest stage, another worker) must never see a half-written file.
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def _rng(partition: str, purpose: str) -> random.Random:
    # hashlib, not hash(): hash() of a str changes with every interpreter start.
    digest = hashlib.sha256(f"barecount.finance:{purpose}:{partition}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _invoice_rows(partition: str, invoices: int) -> list[list[str]]:
    """Rows of the export in file order: one per invoice plus re-exported duplicates."""
    day = parse_partition(partition)
    rng = _rng(partition, "invoices")
    # Offsets relative to the partition day stay within +-(_MAX_AGE + longest term).
    iso = {off: (day + timedelta(days=off)).isoformat() for off in range(-200, 201)}
    stamp = f"{day:%Y%m%d}"
    base: list[tuple[list[str], int, int | None]] = []
    for seq in range(1, invoices + 1):
        issued = 0 if rng.random() < _ISSUED_TODAY else -rng.randint(1, _MAX_AGE)
        pick = rng.random()
        currency = next(code for bound, code in _CURRENCIES if pick < bound)
        amount = min(max(rng.lognormvariate(6.5, 1.1), 5.0), 250_000.0)
        due = issued + _TERMS[rng.randrange(3)]
        # Paid dates after the partition day were not known that day: clamp them to it.
        paid = None if rng.random() < _UNPAID else min(issued + rng.randint(0, _MAX_AGE), 0)
        row = [
            f"INV-{stamp}-{seq:06d}",
            f"C{rng.randint(1, 2500):05d}",
            f"{amount:.2f}",
            currency,
            iso[issued],
            iso[due],
            "" if paid is None else iso[paid],
        ]
        base.append((row, issued, paid))

    # Re-exports: the same invoice again, later in the file, half of them with news
    # about its payment (a first or a later paid date).
    later: dict[int, list[list[str]]] = {}
    for _ in range(invoices // _DUPLICATE_EVERY):
        src = rng.randrange(invoices)
        row, issued, paid = base[src]
        copy = list(row)
        if rng.random() < 0.5:
            if paid is None:
                copy[6] = iso[rng.randint(issued, 0)]
            elif paid < 0:
                copy[6] = iso[rng.randint(paid + 1, 0)]
        later.setdefault(rng.randint(src, invoices - 1), []).append(copy)

    rows: list[list[str]] = []
    for index, (row, _, _) in enumerate(base):
        rows.append(row)
        rows.extend(later.get(index, ()))
    return rows


def _apply_drift(
    rows: list[list[str]], drift: str | None, partition: str
) -> tuple[list[str], list[list[str]]]:
    header = list(COLUMNS)
    if drift == "drop-column":
        at = header.index("due_date")
        del header[at]
        rows = [row[:at] + row[at + 1 :] for row in rows]
    elif drift == "rename-column":
        header[header.index("customer_id")] = "client_id"
    elif drift == "add-column":
        # Own generator, so the base data stays identical to the undrifted file.
        rng = _rng(partition, "drift")
        header.append("po_number")
        rows = [
            [*row, f"PO-{rng.randrange(10**6):06d}" if rng.random() < 0.1 else ""] for row in rows
        ]
    elif drift == "type-change":
        at = header.index("amount")
        rows = [[*row[:at], f"{row[3]} {row[at]}", *row[at + 1 :]] for row in rows]
    return header, rows
