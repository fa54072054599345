"""Offsets between an input text and its redacted form (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .facts import Fact


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


def sensitive_spans(facts: Iterable[Fact]) -> list[tuple[int, int, str]]:
    """The (start, end, category) of every sensitive fact: what redaction masks."""
    return [
        (f.evidence.start, f.evidence.end, str(f.attrs["category"]))
        for f in facts
        if f.kind == "sensitive"
    ]


def redact(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """Replace every span with its placeholder; an overlapping later span is skipped."""
    parts: list[str] = []
    pos = 0
    for start, end, category in sorted(spans):
        if start < pos:
            continue
        parts.append(text[pos:start])
        parts.append(placeholder(category))
        pos = end
    parts.append(text[pos:])
    return "".join(parts)
