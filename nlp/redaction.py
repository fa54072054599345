"""Offsets between an input text and its redacted form (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence


def placeholder(category: str) -> str:
    """The mask of a sensitive span, per the extraction contract: [CATEGORY]."""
    return f"[{category.upper()}]"


def to_redacted(start: int, end: int, spans: Sequence[tuple[int, int, str]]) -> tuple[int, int]:
    """Map [start, end) of the input text onto the redacted text.

    `spans` are the masked (start, end, category) ranges, non-overlapping. A range that
    begins or ends inside a masked span widens to cover its whole placeholder.
    """
    shift_start = shift_end = 0
    new_start, new_end = start, end
    for s, e, category in sorted(spans):
        delta = len(placeholder(category)) - (e - s)
        if e <= start:
            shift_start += delta
        elif s < start:  # start inside a masked span
            new_start = s
        if e <= end:
            shift_end += delta
        elif s < end:  # end inside a masked span: take the whole placeholder
            new_end = s + len(placeholder(category))
    return new_start + shift_start, new_end + shift_end
