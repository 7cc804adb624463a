"""Budgets for reading manifests, the problem a file can raise, and values shown in messages.

Manifests come from anyone who can open a pull request, so reading one must stay cheap
whatever it holds: every budget below is checked while the file is read, before a value is
built, and a file over one is reported at the line where it went over.
"""

from __future__ import annotations

import re

MAX_FILE_BYTES = 1 << 20  # 1 MiB: the largest shipped manifest is under 3 KiB
MAX_DOCUMENTS = 100  # YAML documents ('---') in one file
MAX_DEPTH = 64  # nested mappings and lists, counting what aliases expand to
MAX_ALIASES = 100  # '*alias' uses in one file
MAX_VALUES = 50_000  # values (keys, items, scalars) in one file once aliases are expanded
MAX_CHARS = 4 << 20  # characters of text in one file once aliases are expanded
MAX_PROBLEMS_PER_FILE = 50  # problems listed for one file; the rest are counted

_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
SHOWN_CHARS = 60  # a longer value is cut in messages, with its length


class YamlProblem(Exception):
    """A file we refuse to read: not UTF-8, not valid YAML, over a budget, or using YAML we
    do not accept (tags, duplicate keys, recursive aliases). ``message`` ends with the fix."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def shown(value: object) -> str:
    """``repr(value)``, cut to a readable length: '...' and the full length mark a cut."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS + 2:
        return text
    if isinstance(value, str):
        return f"{value[:SHOWN_CHARS]!r}... ({len(value)} characters)"
    return f"{text[:SHOWN_CHARS]}... ({len(text)} characters)"


def capped(file: object, problems: list[str]) -> list[str]:
    """At most MAX_PROBLEMS_PER_FILE of a file's problems, then one line counting the rest."""
    if len(problems) <= MAX_PROBLEMS_PER_FILE:
        return problems
    more = len(problems) - MAX_PROBLEMS_PER_FILE
    return [
        *problems[:MAX_PROBLEMS_PER_FILE],
        f"{file}:1: {more} more problem(s) in this file not listed; fix the ones above first",
    ]


def line_and_column(text: str) -> tuple[int, int]:
    """1-based line and column just after ``text``, counting line breaks the way YAML does."""
    line, start = 1, 0
    for match in _BREAK.finditer(text):
        line, start = line + 1, match.end()
    return line, len(text) - start + 1
