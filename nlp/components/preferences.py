"""Customer preferences: channel, time, language, interest, delivery, payment, size.

Works clause by clause. A value mention becomes a preference only with a cue that the
customer wants (or refuses) it; polarity comes from the nearest cue in the clause, with
contrast ("X rather than Y", "X, not Y", "X yes, Y no") turning later items negative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from ..text import (
    PhraseTable,
    build_table,
    clauses,
    doc_keys,
    plain_singular,
    reported_speaker,
    segments,
)
from .base import DataComponent, add_fact, evidence_for, make_fact

VERBAL = ("VERB", "AUX")
SKIPPABLE_POS = {"DET", "ADJ", "ADP", "PART", "NUM", "ADV", "PRON", "AUX", "CCONJ", "PUNCT"}
# Symbols that join list items in any language ("poo bags + treats"); the words that do
# ("and", "as well as") are the interest_joiners group of the language data.
LIST_PUNCT = frozenset({"+", "&", ","})
# Word groups of preferences.json that are plain word lists ({"words": [...]}).
WORD_GROUPS = (
    "wish_words",
    "wish_despite_negation",
    "negating_contrast",
    "copulas",
    "negation_gap_words",
    "strong_negators",
    "rare_negators",
    "future_markers",
    "device_words",
    "channel_compound_nouns",
    "language_compound_words",
    "not_garment_nouns",
    "interest_refusals",
    "ambiguous_payment",
)


@dataclass(slots=True)
class Mention:
    field: str
    value: str
    start: int  # token index
    end: int
    detail: str | None = None
    verb: bool = False  # a channel named by a verb ("call me")


def _phrases(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, str | bool)}


class Preferences(DataComponent):
    data_name = "preferences"
    learned_interests = True  # read the trained recogniser's marks (doc.ents) when present

    def setup(self) -> None:
        self._setup_lexicons()
        self._setup_rules()
        self.speakers = self.other_speakers()

    def _setup_lexicons(self) -> None:
        """Value lexicons, polarity cue tables and the word sets matched on token keys."""
        d, md = self.data, self.make_doc
        self.tables: dict[str, PhraseTable[str]] = {
            name: build_table(md, _phrases(d[name]))
            for name in ("contact_channel", "contact_time", "language", "payment", "delivery")
        }
        self.channel_verbs: dict[str, str] = {
            self.singular(k): v for k, v in d["channel_verbs"].items()
        }
        self.weak_channels = {self.singular(k) for k in d["weak_channel_nouns"]}
        self.codes = {k: v for k, v in d["language_codes"].items()}
        self.sets: dict[str, frozenset[str]] = {
            name: frozenset(self.singular(k) for k, v in d[name].items() if v)
            for name in (
                "time_context_block",
                "language_cues",
                "language_content_words",
                "payment_cues",
                "delivery_cues",
                "size_context",
                "post_positive",
                "post_negative",
                "agent_subjects",
                "payment_block",
                "agent_verbs",
            )
        }
        self.sets.update({name: self.words(d[name]) for name in WORD_GROUPS})
        self.interest_joiners = self.words(d["interest_joiners"]) | LIST_PUNCT
        self.positive = build_table(md, {k: True for k, v in d["positive"].items() if v})
        self.negators = build_table(md, {k: True for k, v in d["negators"].items() if v})
        self.contrast = build_table(md, {k: True for k, v in d["contrast"].items() if v})
        self.interest_triggers = build_table(md, d["interest_triggers"])
        self.drop = set(d["interest_stop"]["drop"])
        self.bad_heads = set(d["interest_stop"]["bad_heads"])
        self.clock = re.compile(d["clock_time_regex"])
        self.size_re = re.compile(d["size_regex"])
        self.size_bare_re = re.compile(d["size_bare_regex"])
        days = d["day_names_need_contact"]
        self.day_names = self.words(days)
        self.contact_words = build_table(md, {w: True for w in days["contact_words"]})
        self.speak_cues = self.words(d["language_speak_cues"])

    def _setup_rules(self) -> None:
        """Rules with several word lists; each list is explained in the rule's _doc."""
        d = self.data
        switch = d["switch_rule"]
        self.switch_verbs = self.words(switch, "verbs")
        self.switch_from = self.words(switch, "from")
        self.switch_to = self.words(switch, "to")
        verb = d["channel_verb_rule"]
        self.verb_objects = self.words(verb, "objects")
        self.verb_after = self.words(verb, "after")
        self.verb_gerund_after = self.words(verb, "gerund_after")
        imperative = d["imperative_rule"]
        self.imperative_objects = self.words(imperative, "objects")
        self.imperative_before = self.words(imperative, "before")
        self.please = self.words(imperative, "please")
        code = d["language_code_rule"]
        self.code_before = self.words(code, "before")
        self.code_cue: str = code["cue"]
        modal = d["interest_modal_rule"]
        self.modal_triggers = self.words(modal, "triggers")
        self.modals = self.words(modal, "modals")
        # Clock words are compared with what the regex captured (lower-cased), not with
        # token keys, so they are used as listed.
        clock = d["clock_time_words"]
        self.clock_from_hour = frozenset(clock["from_hour"])
        self.clock_needs_am_pm = frozenset(clock["needs_am_pm"])
        self.clock_pm = frozenset(clock["pm"])
        self.clock_refusing = tuple(clock["refusing"])
        self.clause_break_words = self.clause_breaks()
        self.possessives = self.words(d["possessives"])
        self.negation_carriers = self.words(d["negation_carrier_verbs"])
        self.contrast_follows = self.words(d["contrast_follows"])
        self.contrast_alone = self.words(d["contrast_alone"])
        self.intensifiers = self.words(d["intensifiers"])
        self.action_gerunds = self.words(d["action_gerunds"])
        delivery_ctx = d["delivery_context_words"]
        self.delivery_bare = build_table(self.make_doc, {w: True for w in delivery_ctx["phrases"]})
        self.delivery_ctx = self.words(delivery_ctx)
        self.size_suffix_re = re.compile(d["size_suffix_regex"])
        self.app_contact = self.words(d["app_contact_words"])
        self.greetings = self.words(d["greetings"])
        self.interest_verbs = self.words(d["interest_verb_triggers"])

    # -- mentions -----------------------------------------------------------------

    def mentions(self, doc: Doc, keys: list[str], clause: Span) -> list[Mention]:
        cs, ce = clause.start, clause.end
        found: list[Mention] = []
        for name, table in self.tables.items():
            for hit in table.find(keys, cs, ce):
                found.append(Mention(name, hit.value, hit.start, hit.end))
        for i in range(cs, ce):
            tok = doc[i]
            value = self.channel_verbs.get(keys[i])
            if value and self._is_channel_verb(doc, keys, i, cs):
                found = [f for f in found if not (f.field == "contact_channel" and f.start == i)]
                found.append(Mention("contact_channel", value, i, i + 1, verb=True))
            if (
                tok.text.isupper()
                and tok.text.lower() in self.codes
                and i > cs
                and keys[i - 1] in self.code_before
                and self.code_cue in " ".join(keys[cs:i])
            ):
                found.append(Mention("language", self.codes[tok.text.lower()], i, i + 1))
        found.extend(self._clock_times(doc, clause))
        found.extend(self._sizes(doc, keys, clause))
        found.sort(key=lambda m: (m.start, -m.end))
        # Longest mention wins where two overlap.
        kept: list[Mention] = []
        for m in found:
            if kept and m.start < kept[-1].end and m.field != kept[-1].field:
                if (m.end - m.start) > (kept[-1].end - kept[-1].start):
                    kept[-1] = m
                continue
            if kept and m.start < kept[-1].end and m.value == kept[-1].value:
                continue
            kept.append(m)
        return kept

    def _is_channel_verb(self, doc: Doc, keys: list[str], i: int, cs: int) -> bool:
        tok = doc[i]
        if tok.pos_ in {"VERB", "AUX"} and self.positive.find(keys, max(cs, i - 4), i):
            return True  # "I'd much rather you emailed", "wants the info emailed"
        nxt = keys[i + 1] if i + 1 < len(doc) else ""
        prev = keys[i - 1] if i > 0 else ""
        if nxt in self.verb_objects or prev in self.verb_after:
            return True
        if prev in self.verb_gerund_after and tok.tag_ == "VBG":
            return True
        return tok.pos_ == "VERB" and i == cs

    def _clock_times(self, doc: Doc, clause: Span) -> list[Mention]:
        out: list[Mention] = []
        base = clause.start_char
        for m in self.clock.finditer(clause.text):
            if m.group("word"):
                hour, rel = 12, (m.group("rel2") or "").lower()
            else:
                hour, rel = int(m.group("h")), (m.group("rel") or "").lower()
                ampm = (m.group("ampm") or "").lower().replace(".", "")
                if hour > 24 or (not ampm and rel in self.clock_needs_am_pm):
                    continue
                rest = clause.text[m.end() :].lstrip()
                if rest[:1] in {"+", "%"}:
                    continue  # "after 20+ years"
                if not ampm and not m.group("m") and rest[:1].isalpha():
                    continue  # "after 2 wks", "before 3 days"
                if ampm in self.clock_pm and hour < 12:
                    hour += 12
                elif not ampm and 1 <= hour <= 7:
                    hour += 12  # "after 6" in a contact note means the evening
            if rel in self.clock_from_hour:
                value = "morning" if hour < 12 else "afternoon" if hour < 17 else "evening"
            else:  # before / until
                value = "morning" if hour <= 12 else "afternoon" if hour <= 17 else "evening"
            span = doc.char_span(base + m.start(), base + m.end(), alignment_mode="expand")
            if span is None:
                continue
            detail = m.group(0)
            out.append(Mention("contact_time", value, span.start, span.end, detail=detail))
        return out

    def _sizes(self, doc: Doc, keys: list[str], clause: Span) -> list[Mention]:
        out: list[Mention] = []
        base = clause.start_char
        ctx = set(keys[max(0, clause.start - 8) : min(len(doc), clause.end + 8)])
        if not ctx & self.sets["size_context"]:
            return out
        matches = list(self.size_re.finditer(clause.text))
        covered = {m.start("size") for m in matches}
        matches += [b for b in self.size_bare_re.finditer(clause.text) if b.start() not in covered]
        covered |= {m.start("size") for m in matches}
        for s in self.size_suffix_re.finditer(clause.text):  # "XL in coats, M in shirts"
            garment = self.singular(s.group("garment").lower())
            if s.start("size") not in covered and garment in self.sets["size_context"]:
                matches.append(s)
        for m in matches:
            raw = m.group("size")
            span = doc.char_span(base + m.start("size"), base + m.end("size"), "expand")
            if span is None:
                continue
            out.append(Mention("size", re.sub(r"\s", "", raw.upper()), span.start, span.end))
        return out

    # -- polarity -----------------------------------------------------------------

    def polarity(
        self, doc: Doc, keys: list[str], clause: Span, m: Mention, prev: Mention | None
    ) -> str | None:
        cs, ce = clause.start, clause.end
        # Contrast between the previous item and this one: "X rather than Y".
        lo = prev.end if prev else cs
        for c in self.contrast.find(keys, lo, m.start):
            negating = keys[c.start] in self.sets["negating_contrast"]
            alone = keys[c.start] in self.contrast_alone and m.start - c.end <= 2
            if not negating and (prev is not None or alone):
                return "negative"  # "X rather than Y"; "ring her mobile rather than email"
            between = keys[c.end : m.start]
            scope_ends = any(
                doc[i].pos_ == "VERB" and keys[i] not in self.negation_carriers
                for i in range(c.end, m.start)
            )
            if (
                negating
                and not scope_ends
                and not set(between) & self.sets["wish_despite_negation"]
            ):
                return "negative"  # "X, not Y", "not to call" ("doesn't mind calls" is positive)
        if m.detail and m.detail.lower().startswith(self.clock_refusing):
            return "negative"  # "not before 9"
        # Right after the item: "email yes", "phone no", "SMS ok".
        copulas = self.sets["copulas"]
        skip = copulas | self.intensifiers
        after = [k for k in keys[m.end : min(ce, m.end + 4)] if k not in skip]
        if after and after[0] in self.sets["post_negative"]:
            return "negative"
        switched = self._switch(keys, cs, m)
        if switched:
            return switched
        # Directly negated item: "no emails", "not weekdays", "no more phone calls".
        j = m.start - 1
        while (
            j >= cs
            and (doc[j].pos_ in SKIPPABLE_POS or keys[j] in self.sets["negation_gap_words"])
            and not self.negators.starts_at(keys, j, m.start)
        ):
            j -= 1
        if j >= cs and self.negators.starts_at(keys, j, m.start) and m.start - j <= 4:
            return "negative"
        strong = self.sets["strong_negators"]
        strong_neg = [n for n in self.negators.find(keys, cs, m.start) if keys[n.start] in strong]
        if strong_neg and not self.positive.find(keys, strong_neg[-1].end, m.start):
            return "negative"
        if after and after[0] in self.sets["post_positive"]:
            return "positive"
        # The nearest wish before the item, possibly negated ("doesn't want the app").
        wish = None
        for w in self.positive.find(keys, cs, m.start):
            if keys[w.start] in self.interest_verbs and doc[w.start].pos_ not in VERBAL:
                continue  # "products like alcohol": a preposition, not a wish
            wish = w
        neg_before = [n for n in self.negators.find(keys, cs, m.start)]
        if wish is not None:
            # the negation must govern the wish: "doesn't want", not "rarely use X so please"
            negated = any(n.end <= wish.start and wish.start - n.end <= 2 for n in neg_before)
            if keys[wish.start] in self.sets["wish_despite_negation"]:
                return "positive"
            return "negative" if negated else "positive"
        if m.verb:
            if any(m.start - n.end <= 3 for n in neg_before):
                return "negative"  # "don't call", "please don't phone him", "not to ring"
            tok = doc[m.start]
            prev_key = keys[m.start - 1] if m.start > cs else ""
            nxt_key = keys[m.end] if m.end < len(doc) else ""
            imperative = (tok.tag_ == "VB" or nxt_key in self.imperative_objects) and (
                m.start == cs or prev_key in self.imperative_before
            )
            return "positive" if imperative or prev_key in self.please else None
        if m.field == "size":
            return "positive"
        if neg_before and keys[neg_before[-1].start] in self.sets["rare_negators"]:
            return "negative"
        if set(after[:2]) & self.sets["post_positive"]:
            return "positive"  # "email is fine", "texts are best"
        if set(keys[m.end : min(ce, m.end + 3)]) & self.contrast_follows:
            return "positive"  # "invoiced monthly rather than paying by card"
        return None

    def _switch(self, keys: list[str], cs: int, m: Mention) -> str | None:
        """'switching from card to PayPal': the 'from' item is dropped, the 'to' one taken."""
        window = keys[max(cs, m.start - 4) : m.start]
        wide = set(keys[max(cs, m.start - 8) : m.start])
        if not wide & self.switch_verbs:
            return None
        if window and window[-1] in self.switch_from:
            return "negative"
        if window and window[-1] in self.switch_to and wide & self.switch_from:
            return "positive"
        return None

    # -- main ---------------------------------------------------------------------

    def __call__(self, doc: Doc) -> Doc:
        self._require()
        keys = doc_keys(doc)
        segs = segments(doc)
        for seg in segs:
            self._segment(doc, keys, seg)
        if self.learned_interests:
            self._learned(doc, keys, segs)
        return doc

    def _learned(self, doc: Doc, keys: list[str], segs: list[Span]) -> None:
        """Interests the trained recogniser found where no trigger phrase reached.

        The recogniser (`trustline train`, components/interests.py) marks the
        things a customer asks about, wants or likes ("do u hav the puffer in xs?",
        "I want buy the abaya"); it learned from the corpus's gold interest values. A
        mark counts once per head word, not inside what the company says or did, not
        on another field's words (a channel, a payment method), and not under a
        negation (refusals stay with the rules, which read their polarity).
        """
        marks = list(doc.spans.get(LEARNED_KEY, ()))
        if not marks:
            return
        facts = doc._.trustline_facts
        heads = {
            _head(str(f.attrs.get("value", "")))
            for f in facts
            if f.kind == "preference" and f.attrs.get("field") == "interest"
        }
        for mark in marks:
            seg = next((s for s in segs if s.start <= mark.start < s.end), None)
            if seg is None:
                continue
            parts = clauses(seg, keys, self.clause_break_words)
            clause = next((c for c in parts if c.start <= mark.start < c.end), seg)
            if (
                self._is_agent_clause(doc, keys, clause)
                or reported_speaker(clause, keys, self.speakers)
                or doc[mark.end - 1].is_stop
            ):
                continue
            if any(True for _ in self.negators.find(keys, clause.start, mark.start)):
                continue
            taken = {i for m in self.mentions(doc, keys, clause) for i in range(m.start, m.end)}
            value = self._clean(doc, keys, doc[mark.start : mark.end], taken)
            if value is None or _head(value) in heads:
                continue
            heads.add(_head(value))
            ev = evidence_for(doc, clause.start_char, clause.end_char)
            fact = make_fact(
                "preference", ev, 0.6, field="interest", value=value, polarity="positive"
            )
            add_fact(doc, fact)

    def _is_agent_clause(self, doc: Doc, keys: list[str], clause: Span) -> bool:
        """What the company did or offers ("we only do card"), unless the customer
        wishes it ("prefers we email")."""
        for tok in clause:
            if keys[tok.i] in self.sets["agent_subjects"] and tok.dep_ in {"nsubj", "nsubjpass"}:
                return not self.positive.find(keys, clause.start, tok.i)
        first = next((t for t in clause if not t.is_punct and not t.like_num), None)
        return first is not None and keys[first.i] in self.sets["agent_verbs"]

    def _segment(self, doc: Doc, keys: list[str], seg: Span) -> None:
        clause_list = clauses(seg, keys, self.clause_break_words)
        seg_wish = any(True for _ in self.positive.find(keys, seg.start, seg.end))
        prev_interest: str | None = None
        wish_before = False  # an earlier clause of this segment states a wish
        for clause in clause_list:
            if self._is_agent_clause(doc, keys, clause) or reported_speaker(
                clause, keys, self.speakers
            ):
                prev_interest = None
                continue
            ms = self.mentions(doc, keys, clause)
            prev: Mention | None = None
            prev_pol: str | None = None
            has_time = any(m.field == "contact_time" for m in ms)
            has_lang = any(m.field == "language" for m in ms)
            done: set[tuple[str, str]] = set()
            emitted_mentions: list[Mention] = []
            for m in ms:
                if (m.field, m.value) in done or (
                    has_lang and m.field == "contact_channel" and not m.verb
                ):
                    continue
                done.add((m.field, m.value))
                pol = self.polarity(doc, keys, clause, m, prev)
                if pol is None and self._fragment_ok(doc, keys, seg, clause, m, seg_wish):
                    pol = "positive"
                if pol is None and m.field == "contact_time" and wish_before:
                    pol = "positive"  # "Prefers contact early, before 9"
                if pol is None and m.field == "language" and self._spoken(keys, clause, m):
                    pol = "positive"  # "speaks mainly Portuguese"
                if (
                    m.field == "contact_time"
                    and prev is not None
                    and prev.field == "contact_channel"
                    and emitted_mentions
                    and emitted_mentions[-1] is prev
                    and prev_pol == "negative"
                ):
                    # "No calls in the mornings": the refusal is about the time.
                    pol = "negative"
                    self._drop_last(doc, prev)
                if pol is None or not self._field_ok(doc, keys, clause, m, pol, has_time, seg):
                    continue
                prev_pol = pol
                prev = m
                emitted_mentions.append(m)
                self._emit(doc, clause, m, pol)
            if self.positive.find(keys, clause.start, clause.end):
                wish_before = True
            if any(m.field == "size" for m in emitted_mentions):
                continue  # the garment of a size is not a separate interest
            prev_interest = self._interests(doc, keys, clause, emitted_mentions, prev_interest)

    def _spoken(self, keys: list[str], clause: Span, m: Mention) -> bool:
        return bool(set(keys[max(clause.start, m.start - 3) : m.start]) & self.speak_cues) or (
            m.end < clause.end and keys[m.end] in self.speak_cues
        )

    def _drop_last(self, doc: Doc, mention: Mention) -> None:
        """Withdraw the last emitted fact for `mention` (a later cue reinterpreted it)."""
        facts = doc._.trustline_facts
        for i in range(len(facts) - 1, -1, -1):
            f = facts[i]
            if (
                f.kind == "preference"
                and f.attrs.get("field") == mention.field
                and (f.attrs.get("value") == mention.value)
            ):
                del facts[i]
                return

    def _fragment_ok(
        self, doc: Doc, keys: list[str], seg: Span, clause: Span, m: Mention, seg_wish: bool
    ) -> bool:
        """Verbless note fragments ("home delivery + old unit removal") state a wish."""
        if m.field not in {"delivery", "payment", "contact_time"}:
            return False
        before = keys[max(clause.start, m.start - 4) : m.start]
        if m.field != "contact_time" and set(before) & self.sets["future_markers"]:
            return True
        has_verb = any(t.pos_ in {"VERB", "AUX"} for t in seg)
        return not has_verb and len(seg) <= 8

    def _field_ok(
        self,
        doc: Doc,
        keys: list[str],
        clause: Span,
        m: Mention,
        pol: str,
        has_time: bool,
        segment: Span | None = None,
    ) -> bool:
        ctx = set(keys[clause.start : clause.end])
        near = set(keys[max(clause.start, m.start - 4) : min(clause.end, m.end + 4)])
        if m.field == "contact_channel":
            if m.verb and has_time and pol == "negative":
                return False
            nxt = keys[m.end] if m.end < len(doc) else ""
            prv = doc[m.start - 1] if m.start > 0 else None
            if (
                not m.verb
                and prv is not None
                and (prv.tag_ == "PRP$" or keys[prv.i] in self.sets["device_words"])
            ):
                return False  # "her phone", "new phone": the device, not the channel
            possessed = any(t.tag_ == "PRP$" for t in doc[max(clause.start, m.start - 2) : m.start])
            if not m.verb and possessed and not ctx & self.sets["wish_words"]:
                return False  # "my yahoo email", "my phone": an account or a device
            if m.value == "app" and not m.verb and not ctx & self.app_contact:
                return False  # the app is usually the product, not a channel
                # "no calls" after "prefers email," borrows the wish of its segment
                seg_ctx = set(keys[segment.start : segment.end]) if segment is not None else ctx
                wished = seg_ctx & self.sets["wish_words"]
                return bool(wished) or (pol == "negative" and len(clause) <= 3)
            # "email address", "phone-number": the channel word names part of another thing
            return not _hyphenated(doc, m.end) and nxt not in self.sets["channel_compound_nouns"]
        if m.field == "contact_time":
            if ctx & self.sets["time_context_block"]:
                return False
            if m.start > clause.start and keys[m.start - 1] in self.greetings and not m.detail:
                return False  # "good afternoon"
            if m.start == 0 and m.end < len(doc) and doc[m.end].text in {"!", ","}:
                return False  # "Morning! ..."
            if keys[m.start] in self.day_names and not self.contact_words.find(
                keys, clause.start, clause.end
            ):
                return False
            # "weekend-break", "wellness weekend": part of another noun, not a time
            head = doc[m.start - 1] if m.start > clause.start else None
            compound = (
                head is not None
                and head.dep_ == "compound"
                and head.pos_ in ("NOUN", "PROPN")
                and head.lower_ not in ("am", "pm")
                and not self.tables["contact_time"].starts_at(keys, head.i, m.start)
            )  # "weekday afternoons" is two times, "wellness weekend" a product
            return not _hyphenated(doc, m.end) and not compound
        if m.field == "language":
            nxt = keys[m.end] if m.end < len(doc) else ""
            after = {k for k in keys[m.end : m.end + 3]}
            if after & self.sets["language_content_words"] or (
                (nxt == "-" or nxt in self.sets["language_compound_words"])
                and (set(keys[m.end : m.end + 4]) & self.sets["language_content_words"])
            ):
                return False
            before = set(keys[max(clause.start, m.start - 2) : m.start])
            return bool(ctx & self.sets["language_cues"]) or bool(before & self.sets["wish_words"])
        if m.field == "payment":
            if ctx & self.sets["payment_block"]:
                return False
            if keys[m.end - 1] not in self.sets["ambiguous_payment"]:
                return True
            contrast_clause = keys[clause.start] in self.sets["negating_contrast"]
            # "my shark card" is an instrument; "not my personal card" a refusal
            return bool(near & self.sets["payment_cues"]) or (pol == "negative" and contrast_clause)
        if m.field == "delivery":
            bare = self.delivery_bare.starts_at(keys, m.start, m.end)
            if bare is not None and bare.end == m.end and not ctx & self.delivery_ctx:
                return False  # "home screen", "never pick up unknown numbers"
            return bool(ctx & self.sets["delivery_cues"]) or pol is not None
        if m.field == "size":
            return True
        return True

    def _emit(self, doc: Doc, clause: Span, m: Mention, pol: str) -> None:
        attrs: dict[str, Any] = {"field": m.field, "value": m.value, "polarity": pol}
        if m.detail:
            attrs["detail"] = m.detail
        if m.field == "size":
            garment = self._garment(doc, clause, m)
            if garment:
                attrs["detail"] = garment
        ev = evidence_for(doc, clause.start_char, clause.end_char)
        for f in doc._.trustline_facts:
            if f.kind == "preference" and all(f.attrs.get(k) == attrs[k] for k in attrs):
                return
        add_fact(doc, make_fact("preference", ev, 0.8, **attrs))

    def _garment(self, doc: Doc, clause: Span, m: Mention) -> str | None:
        keys = doc_keys(doc)
        seg = doc[max(0, clause.start - 8) : m.start]
        skip = self.sets["not_garment_nouns"]
        nouns = [t for t in seg if t.pos_ in {"NOUN", "PROPN"} and keys[t.i] not in skip]
        garments = [t for t in nouns if keys[t.i] in self.sets["size_context"]]
        if not nouns:
            return None
        head = (garments or nouns)[-1]
        comp = [t.text for t in head.lefts if t.dep_ == "compound"]
        return " ".join([*comp, head.text])

    # -- interests ----------------------------------------------------------------

    def _interests(
        self,
        doc: Doc,
        keys: list[str],
        clause: Span,
        others: list[Mention],
        prev_interest: str | None,
    ) -> str | None:
        """Noun phrases after an interest trigger ("keen on X and Y, not Z")."""
        cs, ce = clause.start, clause.end
        taken = {i for m in others for i in range(m.start, m.end)}
        triggers = [
            t
            for t in self.interest_triggers.find(keys, cs, ce)
            if not (
                keys[t.start] in self.interest_verbs and doc[t.start].pos_ not in ("VERB", "AUX")
            )
            and not (
                keys[t.start] in self.modal_triggers
                and t.start > cs
                and keys[t.start - 1] in self.modals
            )
        ]
        if triggers:
            trig = triggers[0]
            pol = trig.value
            if any(n.end <= trig.start for n in self.negators.find(keys, cs, trig.start)):
                pol = "negative" if pol == "positive" else "positive"
            start = trig.end
        elif prev_interest and keys[cs] in self.sets["interest_refusals"]:
            pol, start = "negative", cs + 1
        else:
            return None
        chunks = [
            piece for c in _chunks(doc) if c.start >= start and c.end <= ce for piece in _split(c)
        ]
        emitted: str | None = None
        pos = start
        for chunk in chunks:
            gap = keys[pos : chunk.start]
            if emitted is None:
                if len(gap) > 3 or any(k in {".", ";"} for k in gap):
                    break
                verbs = [doc[i] for i in range(pos, chunk.start) if doc[i].pos_ in VERBAL]
                # "wants to add her daughter" is a wish for an action; "interested in
                # adding critical illness cover" names the thing through a gerund
                if verbs and not (len(verbs) == 1 and verbs[0].tag_ == "VBG" and verbs[0].i == pos):
                    break
            else:
                if any(
                    self.contrast.starts_at(keys, i, chunk.start)
                    or self.negators.starts_at(keys, i, chunk.start)
                    for i in range(pos, chunk.start)
                ):
                    pol = "negative"
                elif not gap or not set(gap) <= self.interest_joiners:
                    break
            modifier = doc[chunk.start - 1] if chunk.start > pos else None
            if (
                modifier is not None
                and modifier.tag_ == "VBG"
                and keys[modifier.i] not in self.action_gerunds
            ):
                chunk = doc[modifier.i : chunk.end]  # "hiking boots": the gerund describes
            value = self._clean(doc, keys, chunk, taken)
            pos = chunk.end
            if value is None:
                if emitted is None:
                    break
                continue
            ev = evidence_for(doc, clause.start_char, clause.end_char)
            fact = make_fact("preference", ev, 0.7, field="interest", value=value, polarity=pol)
            add_fact(doc, fact)
            emitted = pol
        return emitted

    def _clean(self, doc: Doc, keys: list[str], chunk: Span, taken: set[int]) -> str | None:
        """Lower-case noun phrase without determiners, opinion words or numbers."""
        if any(t.i in taken for t in chunk):
            return None
        words = [
            t
            for t in chunk
            if t.pos_ not in {"DET", "PRON", "PUNCT", "NUM"}
            or t.text == "-"
            or (t.like_num and t.i + 1 < chunk.end and doc[t.i + 1].text == "-")
        ]
        words = [t for t in words if t.lower_ not in self.drop and t.tag_ != "PRP$"]
        if not words or words[-1].pos_ not in {"NOUN", "PROPN"}:
            return None
        head = words[-1]
        if keys[head.i] in self.bad_heads or head.lower_ in self.bad_heads or len(head.text) < 2:
            return None
        parts = [_word(t) for t in words[:-1]]
        last = _word(head)
        if head.tag_ in {"NNS", "NNPS"} and last == head.lower_:
            last = head.lemma_.lower()
        if last.endswith("s") and head.tag_ in {"NNS", "NNPS"}:
            last = self.singular(last)
        value = " ".join([*parts, last])
        return value.replace(" - ", "-").replace(" -", "-").replace("- ", "-")


# Where the trained interest recogniser (components/interests.py) leaves its marks.
LEARNED_KEY = "trustline_interests"


def _head(value: str) -> str:
    """The last word of a value, singular: how interests are told apart."""
    words = value.lower().split()
    return plain_singular(words[-1]) if words else ""


def _hyphenated(doc: Doc, i: int) -> bool:
    """True when token i is a hyphen glued to the word before it ("weekend-break"),
    not a spaced dash between fragments ("before 10 - works nights")."""
    return i < len(doc) and doc[i].text in {"-", "–"} and doc[i - 1].whitespace_ == ""


def _word(token: Token) -> str:
    """A word of an interest value: the shorthand expansion if there is one."""
    norm = token.norm_
    return norm if norm != token.lower_ and token.is_alpha and " " not in norm else token.lower_


def _split(chunk: Span) -> list[Span]:
    """Split a noun chunk at coordination inside it ("poo bags + organic treats")."""
    out: list[Span] = []
    start = chunk.start
    for t in chunk:
        if t.pos_ == "CCONJ" or t.text in LIST_PUNCT:
            if t.i > start:
                out.append(chunk.doc[start : t.i])
            start = t.i + 1
    if start < chunk.end:
        out.append(chunk.doc[start : chunk.end])
    return out


def _chunks(doc: Doc) -> list[Span]:
    cached: list[Span] | None = doc.user_data.get("trustline.chunks")
    if cached is None:
        cached = list(doc.noun_chunks) if doc.has_annotation("DEP") else []
        doc.user_data["trustline.chunks"] = cached
    return cached


@Language.factory("trustline_preferences", default_config={"learned_interests": True})
def make_preferences(nlp: Language, name: str, learned_interests: bool) -> Preferences:
    prefs = Preferences(nlp, name)
    prefs.learned_interests = learned_interests
    return prefs
