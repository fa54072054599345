"""A view of a text made only for matching numbers: every Unicode decimal digit as its
ASCII value and every run of separator characters as one space, with exact offsets back
into the original text.

Agents and customers write the same card number as ``4111 1111 1111 1111``,
``4111.1111.1111.1111``, ``4111–1111–1111–1111`` (en dash), ``４１１１...`` (fullwidth) or
across a line break. Number shapes and checksums are written once, against this view,
and each match maps back to the exact span of the original text.
"""

from __future__ import annotations

import sys
import unicodedata
from array import array
from dataclasses import dataclass
from typing import Final

# Characters that separate the groups of a number: every space (Unicode Zs) and dash (Pd)
# character, controls that break lines, zero-width characters, and the punctuation people
# type between digit groups.
_EXTRA_SEPARATORS: Final = (
    "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85.,/\\_|·•‧∙−⁃\u200b\u200c\u200d\u2060\ufeff．，／＿"
)


def _tables() -> tuple[dict[int, str], frozenset[str]]:
    digits: dict[int, str] = {}
    separators = set(_EXTRA_SEPARATORS)
    for cp in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xF8FF or 0x30000 <= cp <= 0xDFFFF:  # surrogates, private, empty
            continue
        ch = chr(cp)
        value = unicodedata.decimal(ch, None)
        if value is not None:
            digits[cp] = str(value)
            continue
        if unicodedata.category(ch) in ("Zs", "Pd"):
            separators.add(ch)
    separators.update(" -")
    return digits, frozenset(separators)


_DIGITS, SEPARATORS = _tables()


@dataclass(frozen=True, slots=True)
class MatchView:
    """``text`` is the view; ``origin[i]`` is where view character ``i`` starts in the
    original text and ``to_view[j]`` is the view position of original position ``j``."""

    text: str
    original: str
    origin: array[int]
    to_view: array[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of view characters ``[start, end)``; a separator at either end
        of the match is left out (it stands for a whole run of the original)."""
        while start < end and self.text[start] == " ":
            start += 1
        while end > start and self.text[end - 1] == " ":
            end -= 1
        if end <= start:
            return self.origin[start], self.origin[start]
        return self.origin[start], self.origin[end - 1] + 1


def make_view(text: str) -> MatchView:
    """Build the matching view of ``text`` (see the module's docstring)."""
    out: list[str] = []
    origin = array("l")
    to_view = array("l", bytes(8 * (len(text) + 1)))
    previous_separator = False
    ascii_text = text.isascii()
    for i, ch in enumerate(text):
        if ch in SEPARATORS:
            if not previous_separator:
                origin.append(i)
                out.append(" ")
                previous_separator = True
            to_view[i] = len(out) - 1
            continue
        previous_separator = False
        to_view[i] = len(out)
        origin.append(i)
        out.append(ch if ascii_text else _DIGITS.get(ord(ch), ch))
    to_view[len(text)] = len(out)
    view = "".join(out)
    return MatchView(view, text, origin, to_view)
