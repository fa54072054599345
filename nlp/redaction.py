"""Offsets between an input text and its redacted form (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

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


_WORD = re.compile(r"[^\W_]+")
_MIN_STEM = 4


def _secret_words(text: str, spans: Iterable[tuple[int, int, str]]) -> dict[str, str]:
    """Each word or digit group of the masked spans (lower case) -> its placeholder."""
    words: dict[str, str] = {}
    for start, end, category in spans:
        for w in _WORD.findall(text[start:end]):
            if len(w) >= 2 or w.isdigit():
                words[w.lower()] = placeholder(category)
    return words


def _masked_word(word: str, secrets: dict[str, str]) -> str | None:
    """The placeholder of a secret that ``word`` is, or is a form of ('diabete' of
    'diabetes', 'passwords' of 'password')."""
    w = word.lower()
    if w in secrets:
        return secrets[w]
    if len(w) >= _MIN_STEM:
        for s, mask in secrets.items():
            if len(s) >= _MIN_STEM and (s.startswith(w) or w.startswith(s)):
                return mask
    return None


def scrub_value(value: str, secrets: dict[str, str]) -> str:
    """``value`` with every word of a masked span replaced by its placeholder."""

    def mask(m: re.Match[str]) -> str:
        return _masked_word(m.group(), secrets) or m.group()

    return _WORD.sub(mask, value)


# Attributes that carry the customer's own words; the others are values of a closed list.
_FREE_TEXT = frozenset({"detail", "subject"})
_FREE_VALUE_FIELDS = frozenset({"interest", "size"})


def _free_text(fact: Fact, key: str) -> bool:
    return key in _FREE_TEXT or (key == "value" and fact.get("field") in _FREE_VALUE_FIELDS)


def scrub_facts(text: str, facts: Sequence[Fact]) -> list[Fact]:
    """Facts whose string attributes (an interest, a detail, a complaint's subject) hold no
    word of a masked span: every value that is stored or published comes from the redacted
    text ("interested in password hunter2 recovery" -> "password [CREDENTIAL] recovery")."""
    spans = sensitive_spans(facts)
    if not spans:
        return list(facts)
    secrets = _secret_words(text, spans)
    out: list[Fact] = []
    for f in facts:
        if f.kind == "sensitive":
            out.append(f)
            continue
        attrs = {
            k: scrub_value(v, secrets) if _free_text(f, k) and isinstance(v, str) else v
            for k, v in f.attrs.items()
        }
        out.append(f if attrs == f.attrs else replace(f, attrs=attrs))
    return out
