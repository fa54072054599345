"""Consent statements: grant / withdraw of a purpose, and erasure / access requests."""

from __future__ import annotations

from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..text import PhraseTable, build_table, clauses, doc_keys, reported_speaker, segments
from .base import DataComponent, add_fact, evidence_for, make_fact

# Labels of the trained consent classifier (`trustline train`): "consent:ACTION:PURPOSE".
LEARNED_PREFIX = "consent:"
LEARNED_COMPONENT = "trustline_consent_textcat"
LEARNED_CONFIDENCE = 0.6  # below the rules' 0.8


class Consent(DataComponent):
    data_name = "consent"
    learned_threshold = 2.0  # > 1: the trained classifier is not read

    def setup(self) -> None:
        d, md = self.data, self.make_doc
        self.purposes: PhraseTable[str] = build_table(md, d["purposes"])
        self.withdraw = build_table(md, {k: True for k, v in d["withdraw"].items() if v})
        self.grant = build_table(md, {k: True for k, v in d["grant"].items() if v})
        self.erase = build_table(md, {p: True for p in d["erase"]["phrases"]})
        self.access = build_table(md, {p: True for p in d["access"]["phrases"]})
        self.channels: PhraseTable[str] = build_table(md, d["channel_words"])
        self.sharing_objects = set(d["sharing_needs_object"]["words"])
        self.sharing_verbs = self.words(d["sharing_verbs"])
        self.pronouns = self.words(d["withdraw_pronouns"])
        self.bare_negations = self.words(d["bare_negations"])
        self.agent_actions = self.words(d["agent_actions"])
        self.copy_words = self.words(d["access_rule"], "copy_words")
        self.access_objects = self.words(d["access_rule"], "object_words")
        self.erase_verbs = self.words(d["erase_rule"], "verbs")
        self.erase_objects = self.words(d["erase_rule"], "objects")
        self.erase_wishes = build_table(md, {w: True for w in d["erase_rule"]["wish_words"]})
        self.purpose_compounds = self.words(d["purpose_compounds"])
        self.noun_only = self.words(d["noun_only_purposes"])
        self.third_party_words = self.words(d["third_party_needs_sharing"])
        self.clause_break_words = self.clause_breaks()
        self.speakers = self.other_speakers()

    def __call__(self, doc: Doc) -> Doc:
        self._require()
        keys = doc_keys(doc)
        seen: set[tuple[str, str, str | None]] = set()
        last_purposes: list[str] = []
        last_channel: str | None = None
        segs = segments(doc)
        for seg in segs:
            seg_keys = set(keys[seg.start : seg.end])
            # "you deleted my account" reports an event; "please delete my data" asks
            requested = [  # a deletion asked for, not one reported ("you deleted it")
                t for t in seg if keys[t.i] in self.erase_verbs and t.tag_ != "VBD"
            ]
            erase = bool(self.erase.find(keys, seg.start, seg.end)) or bool(
                requested
                and seg_keys & self.erase_objects
                and self.erase_wishes.find(keys, seg.start, seg.end)
            )
            access = bool(self.access.find(keys, seg.start, seg.end)) or bool(
                seg_keys & self.copy_words and seg_keys & self.access_objects
            )
            if erase:
                self._add(doc, seen, seg, "erase", "all", None)
            elif access:
                # "wants to know who we've shared her details with" is not a sharing consent
                self._add(doc, seen, seg, "access", "all", None)
                continue
            seg_purposes: list[str] = []
            for clause in clauses(seg, keys, self.clause_break_words):
                found = self._clause(doc, keys, clause, seen, last_purposes, last_channel)
                seg_purposes.extend(found)
            if seg_purposes:
                last_purposes = seg_purposes
            chans = self.channels.find(keys, seg.start, seg.end)
            if chans:
                last_channel = chans[0].value
        self._learned(doc, keys, segs, seen)
        return doc

    def _learned(
        self,
        doc: Doc,
        keys: list[str],
        segs: list[Span],
        seen: set[tuple[str, str, str | None]],
    ) -> None:
        """Statements the trained classifier is confident of and no phrase rule found
        ("stop txting me ur deals", "unsub me from the newsletter").

        The classifier reads the whole text; the evidence is the segment it scores
        highest for that statement, and a marketing statement takes the channel named in
        that segment. Nothing is added in what the company says it did, nor against what
        the rules read for the same purpose (a grant beside a withdrawal they found). Only
        grants and withdrawals (an erasure or access request opens a data-subject request:
        that stays with the rules' exact reading, which tells "please delete my data" from
        "you deleted my account"), and for a purpose other than marketing only where the
        segment names it. Its
        confidence is lower than a rule's, so a channel preference the rules read in the
        same words ("no longer wants texts") stands against it (postprocess.resolve).
        """
        found = {(a, p) for a, p, _ in seen}
        wanted = [
            (label, tuple(label[len(LEARNED_PREFIX) :].split(":", 1)))
            for label, score in doc.cats.items()
            if label.startswith(LEARNED_PREFIX) and score >= self.learned_threshold
        ]
        opposite = {"grant": "withdraw", "withdraw": "grant"}
        wanted = [
            (label, ap)
            for label, ap in wanted
            if len(ap) == 2
            and ap not in found
            # the rules read this purpose the other way: they saw the wording, keep theirs
            and (opposite.get(ap[0], ""), ap[1]) not in found
        ]
        if not wanted or LEARNED_COMPONENT not in self.nlp.pipe_names:
            return
        classifier: Any = self.nlp.get_pipe(LEARNED_COMPONENT)
        if not segs:
            return
        scored = [classifier(seg.as_doc()).cats for seg in segs]
        for label, (action, purpose) in wanted:
            best = max(range(len(segs)), key=lambda i: scored[i].get(label, 0.0))
            seg = segs[best]
            first = next((t for t in seg if not t.is_punct and not t.like_num), None)
            if first is not None and keys[first.i] in self.agent_actions:
                continue
            if reported_speaker(seg, keys, self.speakers):
                continue
            if action not in ("grant", "withdraw"):
                continue  # erasure and access open a request: the rules' exact reading only
            if purpose != "marketing" and purpose not in {p for _, p in self._purposes(keys, seg)}:
                continue  # analytics, personalisation, sharing: only where the rules see it named
            channel = None
            if purpose == "marketing":
                chans = self.channels.find(keys, seg.start, seg.end)
                channel = chans[0].value if chans else None
            self._add(doc, seen, seg, action, purpose, channel, LEARNED_CONFIDENCE)

    def _purposes(self, keys: list[str], clause: Span) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        prev_end = -2
        clause_keys = set(keys[clause.start : clause.end])
        for m in self.purposes.find(keys, clause.start, clause.end):
            if m.end < clause.end and keys[m.end] in self.purpose_compounds:
                continue  # "tracking number", "partner store"
            token = clause.doc[m.start]
            if m.end - m.start == 1 and keys[m.start] in self.noun_only and token.pos_ == "VERB":
                continue  # "do you offer linked files"
            if (
                m.value == "data_sharing"
                and keys[m.start] not in self.sharing_verbs
                and not (clause_keys - set(keys[m.start : m.end])) & self.third_party_words
            ):
                continue  # "third parties" without anything being shared
            if m.value == "data_sharing" and keys[m.start] in self.sharing_verbs:
                window = set(keys[m.end : min(clause.end, m.end + 5)])
                if not window & self.sharing_objects:
                    continue
            if m.start == prev_end and out:  # "personalised offers": the modifier decides
                prev_end = m.end
                continue
            prev_end = m.end
            if all(p != m.value for _, p in out):
                out.append((m.start, m.value))
        return out

    def _clause(
        self,
        doc: Doc,
        keys: list[str],
        clause: Span,
        seen: set[tuple[str, str, str | None]],
        last_purposes: list[str],
        last_channel: str | None,
    ) -> list[str]:
        first = next((t for t in clause if not t.is_punct and not t.like_num), None)
        if first is not None and keys[first.i] in self.agent_actions:
            return []
        if reported_speaker(clause, keys, self.speakers):
            return []  # someone else's wish ("her husband says stop the emails")
        purposes = self._purposes(keys, clause)
        if any(p == "data_sharing" for _, p in purposes):
            purposes = [(i, p) for i, p in purposes if p != "marketing"]
        withdraw = self.withdraw.find(keys, clause.start, clause.end)
        grant = self.grant.find(keys, clause.start, clause.end)
        if not purposes:
            # "Stop them" right after a sentence about promos.
            if withdraw and set(keys[clause.start : clause.end]) & self.pronouns and last_purposes:
                for p in last_purposes:
                    self._add(doc, seen, clause, "withdraw", p, last_channel)
            return []
        if not withdraw and not grant:
            return [p for _, p in purposes]
        chans = self.channels.find(keys, clause.start, clause.end)
        channel = chans[0].value if chans else last_channel
        for _, purpose in purposes:
            action = "withdraw" if withdraw else "grant"
            # "happy for X ... not Y" style: a grant cue right before the purpose wins
            if withdraw and grant:
                action = "withdraw" if withdraw[0].start < grant[0].start else "grant"
                later = any(w.start > grant[0].start for w in withdraw)
                if later and keys[withdraw[-1].start] not in self.bare_negations:
                    action = "withdraw"
            ch = channel if purpose == "marketing" else None
            self._add(doc, seen, clause, action, purpose, ch)
        return [p for _, p in purposes]

    def _add(
        self,
        doc: Doc,
        seen: set[tuple[str, str, str | None]],
        span: Span,
        action: str,
        purpose: str,
        channel: str | None,
        confidence: float = 0.8,
    ) -> None:
        key = (action, purpose, channel)
        if key in seen or ((action, purpose, None) in seen and channel is None):
            return
        seen.add(key)
        attrs: dict[str, Any] = {"action": action, "purpose": purpose}
        if channel:
            attrs["channel"] = channel
        ev = evidence_for(doc, span.start_char, span.end_char)
        add_fact(doc, make_fact("consent", ev, confidence, **attrs))


@Language.factory("trustline_consent", default_config={"learned_threshold": 2.0})
def make_consent(nlp: Language, name: str, learned_threshold: float) -> Consent:
    consent = Consent(nlp, name)
    consent.learned_threshold = learned_threshold
    return consent
