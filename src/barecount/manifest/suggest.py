"""Did-you-mean suggestions for misspelt names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib compares the word with every choice: past these sizes a suggestion costs more
# than it is worth (and a hostile manifest could ask for millions of comparisons).
MAX_WORD = 100
MAX_CHOICES = 1000


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when none is close.

    A choice that differs only in case wins ('REQUIRED' -> 'required').
    """
    word = str(word)
    options = [c for c in choices if isinstance(c, str)]
    folded = word.casefold()
    for choice in options:
        if choice.casefold() == folded and choice != word:
            return f" (did you mean {choice!r}?)"
    if len(word) > MAX_WORD or len(options) > MAX_CHOICES:
        return ""
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
