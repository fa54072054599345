"""Complaints: detection, category, severity, repeat and status, several per text.

Each segment is scored with phrase cues (a problem phrase of a category, or a category
topic next to a dissatisfaction signal) and, when a trained classifier ships with the
package, its complaint probability. Hits of one category form one complaint; its status
and severity come from the segments up to the next complaint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..facts import COMPLAINT_CATEGORIES
from ..text import PhraseTable, build_table, doc_keys, segments
from .base import DataComponent, add_fact, evidence_for, make_fact

COMPLAINT_LABEL = "complaint"


@dataclass(slots=True)
class Hit:
    segment: int
    category: str
    strength: float


@dataclass(slots=True)
class Complaint:
    category: str
    first: int
    segments: list[int] = field(default_factory=list)


class Complaints(DataComponent):
    data_name = "complaints"

    def __init__(
        self,
        nlp: Language,
        name: str,
        threshold: float = 0.6,
        min_cue: float = 0.2,
        own_words_threshold: float = 0.75,
        relabel_threshold: float = 2.0,
        relabel_margin: float = 0.2,
    ) -> None:
        super().__init__(nlp, name)
        self.threshold = threshold
        self.min_cue = min_cue
        self.own_words_threshold = own_words_threshold
        self.relabel_threshold = relabel_threshold
        self.relabel_margin = relabel_margin

    def setup(self) -> None:
        d, md = self.data, self.make_doc
        self.problems: PhraseTable[str] = build_table(
            md, [(p, cat) for cat, ps in d["problems"].items() for p in ps]
        )
        self.topics: PhraseTable[str] = build_table(
            md, [(p, cat) for cat, ps in d["topics"].items() for p in ps]
        )
        self.groups: dict[str, PhraseTable[bool]] = {
            name: build_table(md, {p: True for p in d[name]})
            for name in (
                "signals",
                "strong_signals",
                "negated",
                "severity_high",
                "severity_low",
                "repeat",
            )
        }
        self.own_words = re.compile(d["own_words_regex"]["pattern"])
        self.gapped = [
            {
                "first": {self.singular(w) for w in r["first"]},
                "then": {self.singular(w) for w in r["then"]},
                "within": int(r["within"]),
                "category": r["category"],
            }
            for r in d.get("gapped_problems", {}).get("rules", [])
        ]
        self.overrides = [
            {"from": r["from"], "to": r["to"], "near": {self.singular(w) for w in r["near"]}}
            for r in d.get("context_overrides", {}).get("rules", [])
        ]
        self.precedence: dict[str, list[str]] = d.get("segment_precedence", {})
        self.resolved = build_table(md, {p: "resolved" for p in d["resolved"]})
        self.open = build_table(md, {p: "open" for p in d["open"]})

    def _has(self, group: str, keys: list[str], span: Span) -> bool:
        return bool(self.groups[group].find(keys, span.start, span.end))

    def _segment_hits(
        self, doc: Doc, keys: list[str], si: int, seg: Span, prev_start: int | None = None
    ) -> list[Hit]:
        if self._has("negated", keys, seg):
            return []
        hits: list[Hit] = []
        found = {m.value for m in self.problems.find(keys, seg.start, seg.end)}
        found |= self._gapped(keys, seg)
        found = self._override(keys, seg, found, prev_start)
        explained = {c for cat in found for c in self.precedence.get(cat, ())}
        for cat in sorted(found - explained):
            hits.append(Hit(si, cat, 1.0))
        signals = self.groups["signals"].find(keys, seg.start, seg.end)
        strong = bool(self.groups["strong_signals"].find(keys, seg.start, seg.end))
        for m in self.topics.find(keys, seg.start, seg.end):
            hits.append(Hit(si, m.value, 0.6 if strong else 0.4 if signals else 0.2))
        if strong and not hits:
            hits.append(Hit(si, "", 0.5))
        return hits

    def _gapped(self, keys: list[str], seg: Span) -> set[str]:
        """Problems with words between their parts: 'turned up an hour and a half late'."""
        out: set[str] = set()
        for rule in self.gapped:
            for i in range(seg.start, seg.end):
                if keys[i] in rule["first"]:
                    window = keys[i + 1 : min(seg.end, i + 1 + rule["within"])]
                    if set(window) & rule["then"]:
                        out.add(rule["category"])
        return out

    def _override(
        self, keys: list[str], seg: Span, found: set[str], prev_start: int | None
    ) -> set[str]:
        """Re-read a problem by the subject named nearby (this or the previous segment)."""
        start = seg.start if prev_start is None else prev_start
        nearby = set(keys[start : seg.end])
        for rule in self.overrides:
            if rule["from"] in found and nearby & rule["near"]:
                found = (found - {rule["from"]}) | {rule["to"]}
        return found

    def __call__(self, doc: Doc) -> Doc:
        self._require()
        keys = doc_keys(doc)
        segs = segments(doc)
        hits: list[Hit] = []
        for si, seg in enumerate(segs):
            prev_start = segs[si - 1].start if si > 0 else None
            hits.extend(self._segment_hits(doc, keys, si, seg, prev_start))
        complaints = self._group(hits, keys, segs)
        if complaints:
            self._recategorise(doc, complaints)
        else:
            complaints = self._from_classifier(doc, keys, segs, hits)
        for c in complaints:
            self._emit(doc, keys, segs, c, complaints)
        return doc

    def _group(self, hits: list[Hit], keys: list[str], segs: list[Span]) -> list[Complaint]:
        strong_cats: dict[int, set[str]] = {}
        for h in hits:
            if h.category and h.strength >= 1.0:
                strong_cats.setdefault(h.segment, set()).add(h.category)
        by_cat: dict[str, Complaint] = {}
        # A weak hit counts only where its segment or a neighbour shows a real problem,
        # or where it is the only evidence (then it needs a strong signal: strength 0.6).
        for h in sorted(hits, key=lambda h: (h.segment, -h.strength)):
            if not h.category:
                continue
            near_strong = any(strong_cats.get(s) for s in (h.segment - 1, h.segment, h.segment + 1))
            if h.strength < 0.4:
                continue
            if h.strength < 1.0:
                if near_strong and h.category not in strong_cats.get(h.segment, set()):
                    continue
                if not near_strong and h.strength < 0.6:
                    continue
            c = by_cat.get(h.category)
            if c is None:
                by_cat[h.category] = Complaint(h.category, h.segment, [h.segment])
            elif h.segment not in c.segments:
                c.segments.append(h.segment)
        if not by_cat:
            unknown = [h for h in hits if not h.category]
            if unknown:
                # A strong signal ("cust furious") takes its category from a topic nearby.
                seg = unknown[0].segment
                near = [h for h in hits if h.category and abs(h.segment - seg) <= 1]
                near.sort(key=lambda h: (-h.strength, h.segment))
                category = near[0].category if near else "other"
                first = min([seg, *[h.segment for h in near[:1]]])
                by_cat[category] = Complaint(category, first, [first])
        return sorted(by_cat.values(), key=lambda c: c.first)

    def _recategorise(self, doc: Doc, complaints: list[Complaint]) -> None:
        """Let the trained classifier name the category where the phrase cues guess.

        Cues find where a complaint is; which category it belongs to depends on what
        went wrong, and cue words mislead there ("damaged" reads as quality, though a
        parcel damaged in transit is delivery). One complaint in the text takes the
        classifier's category when it is confident and clearly ahead of the cue's; of
        several, only those the cues could not place ("other") take the best category
        not already present.
        """
        scores = {c: doc.cats[c] for c in COMPLAINT_CATEGORIES if c in doc.cats}
        if not scores or self.relabel_threshold > 1.0:
            return
        ranked = sorted(scores, key=lambda c: -scores[c])
        if len(complaints) == 1:
            c = complaints[0]
            best = ranked[0]
            if (
                best != c.category
                and scores[best] >= self.relabel_threshold
                and scores[best] - scores.get(c.category, 0.0) >= self.relabel_margin
            ):
                c.category = best
            return
        present = {c.category for c in complaints}
        for c in complaints:
            if c.category != "other":
                continue
            free = [k for k in ranked if k not in present and k != "other"]
            if free and scores[free[0]] >= self.relabel_threshold:
                present.discard("other")
                c.category = free[0]
                present.add(c.category)

    def _from_classifier(
        self, doc: Doc, keys: list[str], segs: list[Span], hits: list[Hit]
    ) -> list[Complaint]:
        """One complaint when the trained classifier is confident and no rule matched."""
        p = doc.cats.get(COMPLAINT_LABEL)
        if p is None or p < self.threshold or not segs:
            return []
        own_words = bool(self.own_words.search(doc.text))
        cue = max((h.strength for h in hits), default=0.0)
        if own_words:
            # the customer's own words: a topic word will do, or a confident classifier
            if cue < 0.2 and p < self.own_words_threshold:
                return []
        elif cue < self.min_cue:
            return []
        scores = {c: doc.cats.get(c, 0.0) for c in COMPLAINT_CATEGORIES}
        weak = [h for h in hits if h.category]
        if weak:
            category = max(weak, key=lambda h: (h.strength, scores.get(h.category, 0.0))).category
            first = min(h.segment for h in weak if h.category == category)
        else:
            category = max(scores, key=lambda c: scores[c])
            if scores[category] < 0.3:
                category = "other"
            first = 0
        return [Complaint(category, first, [first])]

    def _emit(
        self,
        doc: Doc,
        keys: list[str],
        segs: list[Span],
        c: Complaint,
        all_complaints: list[Complaint],
    ) -> None:
        later = [o.first for o in all_complaints if o.first > c.first]
        region_end = min(later) if later else len(segs)
        region = list(range(c.first, region_end))
        region.extend(i for i in c.segments if i not in region)
        region.sort()
        whole = [segs[i] for i in region]
        high = any(self._has("severity_high", keys, s) for s in whole)
        low = any(self._has("severity_low", keys, s) for s in whole)
        repeat = any(self._has("repeat", keys, seg) for seg in segs)
        status = "open"
        for span in whole:
            for cue in sorted(
                self.resolved.find(keys, span.start, span.end)
                + self.open.find(keys, span.start, span.end),
                key=lambda cue: cue.start,
            ):
                status = cue.value
        severity = "high" if high else "low" if low else "medium"
        first_seg = segs[c.first]
        ev = evidence_for(doc, first_seg.start_char, first_seg.end_char)
        attrs: dict[str, Any] = {
            "category": c.category,
            "severity": severity,
            "repeat": repeat,
            "status": status,
        }
        add_fact(doc, make_fact("complaint", ev, 0.75, **attrs))


@Language.factory(
    "trustline_complaints",
    default_config={
        "threshold": 0.6,
        "min_cue": 0.2,
        "own_words_threshold": 0.75,
        "relabel_threshold": 2.0,
        "relabel_margin": 0.2,
    },
)
def make_complaints(
    nlp: Language,
    name: str,
    threshold: float,
    min_cue: float,
    own_words_threshold: float,
    relabel_threshold: float,
    relabel_margin: float,
) -> Complaints:
    return Complaints(
        nlp, name, threshold, min_cue, own_words_threshold, relabel_threshold, relabel_margin
    )
