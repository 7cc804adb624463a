"""Printing for the CLI: rich for people, JSON for machines, errors on stderr."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """One JSON document on stdout, nothing else."""
    out.file.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    out.file.flush()


def fail(message: str) -> None:
    # the message quotes user input (names, values, files): text, never markup
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, emoji=False, highlight=False)
