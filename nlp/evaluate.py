"""Scoring redaction against gold spans: leaks (a secret's words survive) and over-masking
(text that must stay, such as an order number or a contact phone, was masked).

A leak is judged as ``../shared/tools/score_extraction.py`` judges it: a significant word
or digit group of the gold span occurs more often in the redacted text than outside the
span in the input. The contract's ``[CATEGORY]`` masks never count.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_STOP = frozenset({"the", "and", "for", "with", "was", "his", "her", "has", "are", "not"})
_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")


def leaked(text: str, span: str, redacted: str) -> bool:
    """True when a significant token of ``span`` (a substring of ``text``) survives."""
    start = text.find(span)
    outside = text[:start] + " " + text[start + len(span) :] if start >= 0 else text
    redacted = _PLACEHOLDER.sub(" ", redacted)
    for tok in set(re.findall(r"\w+", span)):
        t = tok.lower()
        if t in _STOP or (len(t) < 3 and not t.isdigit()) or (t.isdigit() and len(t) < 3):
            continue
        pat = re.compile(r"(?<!\w)" + re.escape(tok) + r"(?!\w)", re.IGNORECASE)
        if len(pat.findall(redacted)) > len(pat.findall(outside)):
            return True
    return False


def over_masked(text: str, keep: str, redacted: str) -> bool:
    """True when ``keep`` (a substring of ``text``) no longer stands whole in ``redacted``."""
    return redacted.count(keep) < text.count(keep)


@dataclass
class RedactionScore:
    """Counts over a suite of cases with ``sensitive`` spans and ``keep`` strings."""

    cases: int = 0
    spans: int = 0
    leaks: int = 0
    negatives: int = 0
    negatives_over_masked: int = 0
    keeps: int = 0
    keeps_masked: int = 0
    errors: int = 0
    by_class: dict[str, Counter[str]] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "spans": self.spans,
            "leaks": self.leaks,
            "negatives": self.negatives,
            "negatives_over_masked": self.negatives_over_masked,
            "negative_over_mask_rate": round(self.negatives_over_masked / self.negatives, 4)
            if self.negatives
            else 0.0,
            "keeps": self.keeps,
            "keeps_masked": self.keeps_masked,
            "errors": self.errors,
            "by_class": {k: dict(v) for k, v in sorted(self.by_class.items())},
        }


def score_redaction(
    cases: Iterable[Mapping[str, Any]], redacted_by_id: Mapping[str, str | None]
) -> RedactionScore:
    """Score each case's redacted text; ``None`` means the text was refused (an error line),
    which stores nothing and so leaks nothing, but counts as an error."""
    score = RedactionScore()
    for case in cases:
        text, cid = case["text"], case["id"]
        redacted = redacted_by_id.get(cid)
        score.cases += 1
        counts = score.by_class.setdefault(case.get("class", ""), Counter())
        counts["cases"] += 1
        if redacted is None:
            score.errors += 1
            counts["errors"] += 1
            continue
        for gold in case.get("sensitive", []):
            score.spans += 1
            if leaked(text, gold["span"], redacted):
                score.leaks += 1
                counts["leaks"] += 1
                score.misses.append({"id": cid, "leaked": gold["span"], "redacted": redacted})
        negative = not case.get("sensitive")
        if negative:
            score.negatives += 1
        masked_here = False
        for keep in case.get("keep", []):
            score.keeps += 1
            if over_masked(text, keep, redacted):
                score.keeps_masked += 1
                counts["keeps_masked"] += 1
                masked_here = True
                score.misses.append({"id": cid, "over_masked": keep, "redacted": redacted})
        if negative and masked_here:
            score.negatives_over_masked += 1
    return score
