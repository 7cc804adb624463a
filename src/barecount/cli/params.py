"""Checked arguments of the CLI: names, tokens, partition keys, pins, choices, output paths.

The ``typer`` callbacks run while the command line is parsed, so a bad argument ends in one
usage line and exit 2 before the command does any work. Numbers get their ranges where they
are declared (``min=``/``max=`` with the limits below).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import typer

from barecount.errors import UsageError
from barecount.manifest.fields import NAME_PATTERN
from barecount.manifest.limits import shown
from barecount.manifest.tokens import TOKEN_PATTERN

RUNS_LISTED_MAX = 10_000  # runs --limit
PARALLEL_MAX = 64  # backfill --parallel: partitions in flight at once
SERVED_RUNS_MAX = 1_000  # serve --limit: runs at once
WAIT_MAX_SECONDS = 86_400.0  # approve/reject --wait
ROW_ID_MAX = 2**63 - 1  # ledger row ids (BIGINT on PostgreSQL, INTEGER on SQLite)
PARTITION_KEY_MAX = 32  # the longest key of any calendar is 13 characters (2026-11-26T05)
_NAME = re.compile(NAME_PATTERN)
_SOURCE = re.compile(r"[^\s]{1,200}")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}")
NAME_RULE = "use lower-case letters, digits and dashes, starting with a letter (63 at most)"


def name(value: str | None) -> str | None:
    """A pipeline, approver or key name: the manifests' name pattern, nothing a path needs."""
    if value is not None and not _NAME.fullmatch(value):
        raise typer.BadParameter(f"{shown(value)} is not a name; {NAME_RULE}, e.g. finance-kpi")
    return value


def names(values: list[str] | None) -> list[str] | None:
    for value in values or ():
        name(value)
    return values


def token(value: str | None) -> str | None:
    """A run token: 1-128 letters, digits, '.', '_' or '-'."""
    if value is not None and not TOKEN_PATTERN.fullmatch(value):
        raise typer.BadParameter(
            f"run token {shown(value)} is not usable: use 1-128 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit"
        )
    return value


def run_ref(value: str | None) -> str | None:
    """A held run by Prefect flow run id, run token or hold id (all of token shape)."""
    if value is not None and not TOKEN_PATTERN.fullmatch(value):
        raise typer.BadParameter(
            f"{shown(value)} is neither a flow run id, a run token nor a hold id; "
            "'barecount pending' lists them"
        )
    return value


def partition_key(value: str | None) -> str | None:
    """A partition key of sane length; its calendar checks the rest once it is known."""
    if value is not None and (len(value) > PARTITION_KEY_MAX or not value.isprintable()):
        raise typer.BadParameter(
            f"{shown(value)} is not a partition key; keys look like 2026-11-26 (daily), "
            "2026-11-26T05 (hourly), 2026-W48 (weekly) or 2026-11 (monthly)"
        )
    return value


def source(value: str | None) -> str | None:
    """A source system's name, e.g. erp.invoices: printable, no spaces, 200 characters at most."""
    if value is not None and not _SOURCE.fullmatch(value):
        raise typer.BadParameter(
            f"{shown(value)} is not a source name; use up to 200 letters, digits and "
            "punctuation without spaces, e.g. erp.invoices"
        )
    return value


def contract_pins(values: list[str] | None) -> list[str] | None:
    """NAME@VERSION pins: a contract name and a version of letters, digits and '.+_-'."""
    for value in values or ():
        contract, sep, version = value.partition("@")
        if not sep or not _NAME.fullmatch(contract) or not _VERSION.fullmatch(version):
            raise typer.BadParameter(
                f"bad contract pin {shown(value)}; write NAME@VERSION, e.g. invoices@1.0.0"
            )
    return values


def choice(*allowed: str) -> Callable[[str], str]:
    """A callback that accepts one of ``allowed``."""

    def check(value: str) -> str:
        if value not in allowed:
            raise typer.BadParameter(f"{shown(value)} is not one of {', '.join(allowed)}")
        return value

    return check


def writable_file(path: Path, option: str) -> Path:
    """``path`` can be written: a file (or nothing yet) in an existing, writable folder.

    Raises:
        UsageError: it is a folder or a device, its folder is missing, or nothing can be
            written there (read-only, permissions, /proc).
    """
    folder = path.absolute().parent
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; name the file to write")
    if path.exists() and not path.is_file():
        raise UsageError(f"{option} {path} is not a regular file; name a file to write")
    if not folder.is_dir():
        raise UsageError(
            f"{option} {path}: folder {folder} does not exist; create it first or write "
            "somewhere else"
        )
    _probe(folder, f"{option} {path}")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path}: the file is not writable")
    return path


def existing_text(path: Path, option: str) -> str:
    """The text of ``path``; "" when there is no such file yet.

    Raises:
        UsageError: it is a folder, or cannot be read as UTF-8 text.
    """
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; name a file")
    if not path.exists():
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option} {path}: cannot read it as UTF-8 text ({exc})") from None


def writable_folder(path: Path, option: str) -> Path:
    """``path`` is a folder we can write in, or can be created under one."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file; name a folder")
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"{option} {path}: {existing} is a file, not a folder")
    _probe(existing, f"{option} {path}")
    return path


def _probe(folder: Path, what: str) -> None:
    # os.access says yes to root everywhere (also in /proc): only a real write tells
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".barecount-probe-"):
            pass
    except OSError as exc:
        raise UsageError(
            f"{what}: cannot write in {folder} ({exc.strerror or exc}); write somewhere else"
        ) from None


def inside(folder: Path, path: Path, what: str) -> Path:
    """``path`` once resolved (symlinks and '..' followed) still lies inside ``folder``.

    Raises:
        UsageError: it does not.
    """
    resolved, base = path.resolve(), folder.resolve()
    if not resolved.is_relative_to(base):
        raise UsageError(f"{what} {path} resolves to {resolved}, outside {base}; refused")
    return path
