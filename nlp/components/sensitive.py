"""Sensitive data: secrets and identifiers (cards, IBANs, national ids, credentials)
and GDPR Art. 9 special categories. Each span becomes a `sensitive` fact; the
extractor masks them all in `redacted_text`.
"""

from __future__ import annotations

import re
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from ..identifiers import IdentifierCues, find_identifiers, load_cues
from ..langdata import lang_dir, load_vocab
from ..text import PhraseTable, build_table, doc_keys, phrase_keys, segments
from .base import DataComponent, add_fact, evidence_for, make_fact


class Sensitive(DataComponent):
    data_name = "special_categories"

    def setup(self) -> None:
        d, md = self.data, self.make_doc
        person_only = {(c, t) for c, ts in d["person_terms"].items() for t in ts}
        vocab = load_vocab(lang_dir(str(self.nlp.lang)) / "vocab" / "health.json")
        # The built vocabulary holds tens of thousands of terms, stored as token keys.
        keyed = [(tuple(k.split(" ")), ("health", False)) for k in vocab["direct"]] + [
            (tuple(k.split(" ")), ("health", True)) for k in vocab["with_person"]
        ]
        self.terms: PhraseTable[tuple[str, bool]] = PhraseTable(
            [
                *(
                    (phrase_keys(md(t)), (c, (c, t) in person_only))
                    for c, ts in d["terms"].items()
                    for t in ts
                ),
                *((phrase_keys(md(t)), (c, True)) for c, t in person_only),
                *keyed,
            ]
        )
        self.person_cues = build_table(md, {c: True for c in d["person_cues"]})
        self.animals = {self.singular(a) for a in d["animal_subjects"]}
        self.people = self.words(d["person_words"])
        self.roles = self.words(d["role_words"])
        self.continuations = self.words(d["continuation_words"])
        self.not_personal = build_table(md, {c: True for c in d["not_personal"]})
        # Compared with the next token's lower-cased text, not its key: listed as written.
        self.content_after = frozenset(d["content_after_term"]["words"])
        rule = d["needs_person_noun"]
        self.needs_noun = self.words(rule, "terms")
        self.person_nouns = self.words(rule, "person_nouns")
        self.copulas = self.words(rule, "copulas")
        self.party = re.compile(d["political_party_regex"])
        self.cues: IdentifierCues = load_cues(lang_dir(str(self.nlp.lang)) / "identifiers.json")

    def __call__(self, doc: Doc) -> Doc:
        self._require()
        spans: list[tuple[int, int, str, float]] = []
        # Identifiers are read from the original text: case matters ("QQ 12 34 56 C").
        original = doc.user_data.get("trustline.original_text", doc.text)
        for m in find_identifiers(original, self.cues):
            spans.append((m.start, m.end, m.category, 0.95))
        spans.extend(self._special(doc))
        for party in self.party.finditer(doc.text):
            spans.append((party.start(), party.end(), "political", 0.8))
        for start, end, category, conf in _non_overlapping(spans):
            ev = evidence_for(doc, start, end)
            add_fact(doc, make_fact("sensitive", ev, conf, category=category))
        return doc

    def _special(self, doc: Doc) -> list[tuple[int, int, str, float]]:
        keys = doc_keys(doc)
        out: list[tuple[int, int, str, float]] = []
        for seg in segments(doc):
            blocked = self.not_personal.find(keys, seg.start, seg.end)
            for m in self.terms.find(keys, seg.start, seg.end):
                category, needs_person = m.value
                if any(b.start <= m.end and m.start <= b.end for b in blocked):
                    continue
                if category == "health" and self._about_animal(keys, seg.start, m.start):
                    continue
                if needs_person:
                    window = max(seg.start, m.start - 3)
                    if not self.person_cues.find(keys, window, m.start):
                        continue
                if m.end < len(doc) and doc[m.end].text.lower() in self.content_after:
                    continue
                if keys[m.start] in self.needs_noun and not self._describes_person(keys, m):
                    continue
                end = m.end
                extend = {"union": self.roles, "political": self.roles}.get(
                    category, self.continuations
                )
                while end < min(seg.end, m.end + 3) and keys[end] in extend:
                    end += 1
                span = doc[m.start : end]
                out.append((span.start_char, span.end_char, category, 0.8))
        return out

    def _describes_person(self, keys: list[str], m: Any) -> bool:
        """'a Black woman', 'she is Black' (not 'black printer', 'white shark card')."""
        if m.end < len(keys) and keys[m.end] in self.person_nouns:
            return True
        before = keys[max(0, m.start - 3) : m.start]
        return bool(before) and before[-1] in self.copulas and bool(set(before) & self.people)

    def _about_animal(self, keys: list[str], start: int, end: int) -> bool:
        """True when the nearest subject word before a health term names an animal."""
        for i in range(end - 1, start - 1, -1):
            if keys[i] in self.animals:
                return True
            if keys[i] in self.people:
                return False
        return False


def _non_overlapping(
    spans: list[tuple[int, int, str, float]],
) -> list[tuple[int, int, str, float]]:
    """Keep the longest of overlapping spans (identifiers win ties: higher confidence)."""
    spans = sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]), -s[3]))
    out: list[tuple[int, int, str, float]] = []
    for s in spans:
        if out and s[0] < out[-1][1]:
            if (s[1] - s[0]) > (out[-1][1] - out[-1][0]) and s[3] >= out[-1][3]:
                out[-1] = s
            continue
        out.append(s)
    return out


@Language.factory("trustline_sensitive")
def make_sensitive(nlp: Language, name: str) -> Sensitive:
    return Sensitive(nlp, name)
