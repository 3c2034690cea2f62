"""Breaking a shipped fixture on purpose: the text with one value replaced, and where that value is."""

from __future__ import annotations


def broken(text: str, old: str, new: str) -> tuple[str, int, int]:
    """`text` with the first `old` replaced by `new`, and the 1-based line and column where `new` starts."""
    at = text.index(old)
    line = text.count("\n", 0, at) + 1
    column = at - text.rfind("\n", 0, at)
    return text.replace(old, new, 1), line, column
