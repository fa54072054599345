"""Sensitive data: secrets and identifiers (cards, IBANs, national ids, credentials)
and GDPR Art. 9 special categories. Each span becomes a `sensitive` fact; the
extractor masks them all in `redacted_text`.
"""

from __future__ import annotations

import re
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..identifiers import IdentifierCues, find_identifiers, load_cues
from ..langdata import lang_dir, load_vocab
from ..text import PhraseTable, build_table, doc_keys, phrase_keys, segments
from .base import DataComponent, add_fact, evidence_for, make_fact

# A dose glued to its number: "50mg", "0.5ml", "100mcg".
# What may follow "allergic to": the tagger reads "to sesame" as an infinitive at times.
_PHRASE_AFTER_TO = frozenset({"NOUN", "PROPN", "ADJ", "DET", "VERB"})
_WEEKDAYS = frozenset(
    {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "sabbath"}
)
_CODE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{1,40}")
_DOSE = re.compile(r"[0-9]+(?:[.,][0-9]+)?(?:mg|mcg|µg|ml|iu|g|units?|%)")


class Sensitive(DataComponent):
    data_name = "special_categories"

    def setup(self) -> None:
        d, md = self.data, self.make_doc
        person_only = {(c, t) for c, ts in d["person_terms"].items() for t in ts}
        vocab = load_vocab(lang_dir(str(self.nlp.lang)) / "vocab" / "health.json")
        # The built vocabulary holds tens of thousands of terms, stored as token keys. Its
        # common single words ("reaction", "primary") are not matched on their own: the
        # hand-kept terms and the context cues ("diagnosed with ...") cover those.
        keyed = [(tuple(k.split(" ")), ("health", False)) for k in vocab["direct"]]
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
        by_cue: dict[str, list[str]] = {}
        for c, cues in d["context_cues"].items():
            for cue in cues:
                by_cue.setdefault(cue, []).append(c)
        self.context: PhraseTable[tuple[str, ...]] = build_table(
            md, [(cue, tuple(cats)) for cue, cats in by_cue.items()]
        )
        self.context_needs = {phrase_keys(md(k)): v for k, v in d["context_needs"].items()}
        self.dose_units = frozenset(d["dose_units"]["words"])
        self.modifiers = self.words(d["modifiers"])
        self.body_parts = self.words(d["body_parts"])
        self.frequency = self.words(d["frequency_words"])
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
                    after = keys[m.end : min(seg.end, m.end + 3)]
                    if not self.person_cues.find(keys, window, m.start) and not (
                        m.start == seg.start and set(after) & self.people
                    ):
                        continue
                if m.end < len(doc) and doc[m.end].text.lower() in self.content_after:
                    continue
                if (
                    m.end - m.start == 1
                    and keys[m.start] in self.needs_noun
                    and not self._describes_person(keys, m)
                ):
                    continue
                end = m.end
                extend = {"union": self.roles, "political": self.roles}.get(
                    category, self.continuations
                )
                while end < min(seg.end, m.end + 3) and keys[end] in extend:
                    end += 1
                start, end = self._grow(doc, keys, seg, m.start, end, category)
                span = doc[start:end]
                out.append((span.start_char, span.end_char, category, 0.8))
            out.extend(self._after_context(doc, keys, seg))
        return out

    def _grow(
        self, doc: Doc, keys: list[str], seg: Span, start: int, end: int, category: str
    ) -> tuple[int, int]:
        """Widen a matched term to what reveals it with it: its modifiers ('severe asthma',
        'early-stage dementia', 'profoundly deaf', 'devout Catholic'), a dose ('metformin
        500 mg') and, for a place of worship, its name ('prayers at Al-Noor mosque')."""
        parsed = doc.has_annotation("DEP")
        for _ in range(4):
            if start <= seg.start:
                break
            prev = doc[start - 1]
            glued = prev.text in "-\u2010" and not prev.whitespace_
            hyphen_word = (
                start - 2 >= seg.start
                and doc[start - 2].text in "-"
                and (not doc[start - 2].whitespace_)
            )
            modifies = (
                parsed
                and prev.dep_ in ("amod", "compound", "advmod", "npadvmod", "nummod", "nmod")
                and prev.pos_ in ("ADJ", "ADV", "NOUN", "PROPN", "NUM", "VERB")
                and start <= prev.head.i < end + 1
            )
            if (
                glued
                or modifies
                or (hyphen_word and prev.is_alpha)
                or prev.lower_ in self.modifiers
            ):
                start -= 1
                continue
            break
        for _ in range(3):
            if end >= seg.end:
                break
            nxt = doc[end]
            if nxt.like_num and end + 1 < seg.end and doc[end + 1].lower_ in self.dose_units:
                end += 2
            elif (
                _DOSE.fullmatch(nxt.lower_)
                or (nxt.lower_ in self.dose_units and end > start)
                or (nxt.lower_ in ("positive", "negative") and category in ("health", "genetic"))
            ):
                end += 1
            else:
                break
        if category == "biometric":  # "template (FMR 3F9A77C2D18E0B44A6)"
            stop = end + 1 if end < seg.end and doc[end].text in "([" else end
            while stop < min(seg.end, end + 6) and _CODE_PART.fullmatch(doc[stop].text):
                stop += 1
            if stop > end and any(c.isdigit() for c in doc[end:stop].text):
                end = stop + 1 if stop < seg.end and doc[stop].text in ")]" else stop
        if category == "genetic" and end + 2 < seg.end and doc[end].lower_ == "of":
            stop = end + 1
            while stop < min(seg.end, end + 6) and doc[stop].lower_ not in (
                "gene",
                "mutation",
                "variant",
            ):
                stop += 1
            if stop < seg.end and doc[stop].lower_ in ("gene", "mutation", "variant"):
                end = stop + 1
        if category in ("union", "political", "religion", "health") and end + 1 < seg.end:
            end = self._through_link(doc, keys, seg, end, category)
        if category == "health":
            end = self._health_tail(doc, keys, seg, end)
        if category == "religion" and end + 1 < seg.end and doc[end].lower_ in ("at", "in"):
            stop = end + 1
            while stop < min(seg.end, end + 6) and (
                doc[stop].pos_ in ("PROPN", "NOUN") or doc[stop].text in "-'\u2019"
            ):
                stop += 1
            if stop > end + 1 and doc[stop - 1].pos_ in ("PROPN", "NOUN"):
                end = stop
        return start, end

    def _health_tail(self, doc: Doc, keys: list[str], seg: Span, end: int) -> int:
        """What a health span says next: its frequency, side or body part ('twice daily',
        'in the right ear', 'both eyes') and a parenthetical ('COPD (moderate)')."""
        stop = end
        while stop < min(seg.end, end + 5) and (
            keys[stop] in self.frequency or keys[stop] in self.body_parts or doc[stop].like_num
        ):
            stop += 1
        # Only a tail that ends on a content word: not "... in the" alone.
        while stop > end and keys[stop - 1] in ("in", "the", "a", "once", "twice", "three", "four"):
            stop -= 1
        if stop < seg.end and doc[stop].text == "(":
            close = next(
                (k for k in range(stop + 1, min(seg.end, stop + 10)) if doc[k].text == ")"), None
            )
            if close is not None:
                stop = close + 1
        return stop

    def _through_link(self, doc: Doc, keys: list[str], seg: Span, end: int, category: str) -> int:
        """Through a link to a term of the same category: 'union rep for the local branch of
        the GMB', 'allergy to hazelnut syrup', 'union member (CWU)'."""
        link = doc[end].lower_
        if link in ("(", "["):
            close = next(
                (k for k in range(end + 1, min(seg.end, end + 5)) if doc[k].text in ")]"), None
            )
            inside = self.terms.find(keys, end + 1, close) if close is not None else []
            if close is not None and (inside or doc[end + 1].is_upper):
                return close + 1
            return end
        on_a_day = end + 1 < seg.end and doc[end + 1].lower_.rstrip("s") in _WEEKDAYS
        if category == "religion" and link == "on" and on_a_day:  # "church on Sundays"
            return end + 2
        if link not in ("for", "of", "at", "in", "to"):
            return end
        if category == "health" and link == "to":  # "allergy to X": the phrase that follows
            stop = end + 1
            while stop < min(seg.end, end + 4) and doc[stop].pos_ in _PHRASE_AFTER_TO:
                stop += 1
            return stop if stop > end + 1 else end
        for m in self.terms.find(keys, end + 1, min(seg.end, end + 8)):
            if m.value[0] == category:
                return m.end
        return end

    def _after_context(
        self, doc: Doc, keys: list[str], seg: Span
    ) -> list[tuple[int, int, str, float]]:
        """The noun phrase after a context cue ('diagnosed with ...', 'takes Ritalin',
        'converted to Islam'), masked whole."""
        out: list[tuple[int, int, str, float]] = []
        for m in self.context.find(keys, seg.start, seg.end):
            i = m.end
            while i < seg.end and (doc[i].pos_ in ("DET", "PRON") or doc[i].dep_ == "poss"):
                i += 1
            j = i
            after_to = keys[m.end - 1] == "to"
            while j < min(seg.end, i + 6) and (
                doc[j].pos_ in ("NOUN", "PROPN", "ADJ", "NUM", "X")
                or (after_to and j == i and doc[j].pos_ == "VERB")
                or (doc[j].text in ("-", "'", "\u2019", "'s", "\u2019s") and j > i)
                or _DOSE.fullmatch(doc[j].lower_) is not None
                or doc[j].lower_ in self.dose_units
            ):
                j += 1
            if j == i or not any(t.pos_ in ("NOUN", "PROPN", "ADJ") for t in doc[i:j]):
                continue
            need = self.context_needs.get(tuple(keys[m.start : m.end]))
            for category in m.value:
                if category == "health" and self._about_animal(keys, seg.start, m.start + 1):
                    continue
                if not self._context_holds(doc, keys, seg, need, category, i, j):
                    continue
                # The cue says as much as the phrase ("allergic to sesame", "undergoing
                # dialysis", "member of the RMT union"): both are masked.
                end = self._through_link(doc, keys, seg, j, category) if j < seg.end else j
                span = doc[m.start : end]
                out.append((span.start_char, span.end_char, category, 0.75))
                break
        return out

    def _context_holds(
        self, doc: Doc, keys: list[str], seg: Span, need: str | None, category: str, i: int, j: int
    ) -> bool:
        """Whether the phrase after a generic cue is of the cue's category."""
        if need == "drug":
            return category == "health" and self._names_a_drug(doc, keys, i, j)
        if need == "term":
            found = self.terms.find(keys, max(seg.start, i - 1), min(seg.end, j + 1))
            return any(t.value[0] == category for t in found)
        if need == "body":
            return bool(set(keys[i:j]) & self.body_parts)
        if need == "gene":
            return bool(set(keys[i:j]) & {"gene", "mutation", "variant", "allele"})
        return True

    def _names_a_drug(self, doc: Doc, keys: list[str], i: int, j: int) -> bool:
        """'takes Ritalin', 'is on metformin 500 mg' (a listed medication or a dose), not
        'takes the bus' or 'is on Saturday'."""
        for t in doc[i:j]:
            if t.lower_ in self.dose_units or _DOSE.fullmatch(t.lower_):
                return True
        return any(v[0] == "health" for v in (x.value for x in self.terms.find(keys, i, j)))

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
