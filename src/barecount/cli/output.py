"""Printing for the CLI: rich for people, JSON for machines, errors on stderr.

Ledger and user text is data, never Rich markup: tables of data are ``DataTable``s (cells and
title print as they are), data put into a styled line goes through ``literal``, and a line
of data alone is printed with ``markup=False``. Only our own styling is markup.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# emoji=False: ':smile:' in a stage error is text too
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def literal(value: object) -> str:
    """``value`` escaped for a line that also carries our markup: it prints as it is."""
    return escape(str(value))


class DataTable(Table):
    """A table of data: string cells and the title print as they are, never as markup."""

    def __init__(self, *headers: str, title: str | None = None, **options: Any) -> None:
        super().__init__(*headers, title=None if title is None else Text(title), **options)

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: Any = None,
        end_section: bool = False,
    ) -> None:
        cells = [Text(cell) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, style=style, end_section=end_section)


# How many JSON documents this process printed: an error after one (a replay that printed
# its report, then failed) adds no second document to stdout.
printed = {"json": 0}


def print_json(data: Any) -> None:
    """One JSON document on stdout, nothing else."""
    out.file.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    out.file.flush()
    printed["json"] += 1


def print_errors_json(problems: list[str]) -> None:
    """``{"errors": [...]}`` on stdout, unless the command already printed its JSON."""
    if not printed["json"]:
        print_json({"errors": problems})


def fail(message: str) -> None:
    # the message quotes user input (names, values, files): text, never markup
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, emoji=False, highlight=False)
