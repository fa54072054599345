"""Token keys, clause segmentation and phrase lookup shared by the rule components."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Generic, TypeVar

from spacy.tokens import Doc, Span, Token

from .errors import LanguageDataError

V = TypeVar("V")

_KEEP_S = ("ss", "us", "is", "os", "'s")


def singular(word: str) -> str:
    """The English singular rule: crude, used only to compare words with lexicon entries.

    Other languages register their own rule in SINGULARIZERS; call it through
    `singularizer(lang)`, never directly.
    """
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(_KEEP_S):
        return word[:-1]
    return word


def plain_singular(word: str) -> str:
    """The shared scorer's English singular: how interest values are told apart (the
    head word of "winter jackets" is "jacket"). Cruder than `singular`, and kept exactly
    as ../shared/tools/score_extraction.py reads values."""
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


# The singular rule of each language (ISO 639-1 code): a morphology rule is code, not a
# word list, so a new language adds its function here next to its nlp/lang/<lang>/ data.
SINGULARIZERS: dict[str, Callable[[str], str]] = {"en": singular}


def singularizer(lang: str) -> Callable[[str], str]:
    """The singular rule of `lang`.

    Raises LanguageDataError when the language has no rule in SINGULARIZERS.
    """
    rule = SINGULARIZERS.get(lang)
    if rule is None:
        raise LanguageDataError(
            f"no singular rule for '{lang}' (have: {', '.join(sorted(SINGULARIZERS))}); "
            f"add one to SINGULARIZERS in nlp/text.py"
        )
    return rule


def token_key(token: Token) -> str:
    """The comparison key of a token: its (shorthand-expanded) norm, singular."""
    return singularizer(token.lang_)(token.norm_.lower())


def _keys(tokens: Iterable[Token], lang: str) -> list[str]:
    """Keys of `tokens`, with the singular rule looked up once rather than per token."""
    rule = singularizer(lang)
    return [rule(t.norm_.lower()) for t in tokens]


def doc_keys(doc: Doc) -> list[str]:
    """Keys of every token, cached on the doc."""
    cached = doc.user_data.get("trustline.keys")
    if cached is None or len(cached) != len(doc):
        cached = _keys(doc, doc.lang_)
        doc.user_data["trustline.keys"] = cached
    return list(cached)


@dataclass(frozen=True, slots=True)
class Match(Generic[V]):
    """A phrase found at tokens [start, end)."""

    start: int
    end: int
    value: V


class PhraseTable(Generic[V]):
    """Longest-match lookup of multi-word phrases over token keys."""

    def __init__(self, entries: Iterable[tuple[Sequence[str], V]]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], V]]] = {}
        for keys, value in entries:
            if not keys:
                continue
            self._by_first.setdefault(keys[0], []).append((tuple(keys), value))
        for items in self._by_first.values():
            items.sort(key=lambda item: -len(item[0]))

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def find(self, keys: Sequence[str], start: int = 0, end: int | None = None) -> list[Match[V]]:
        """Non-overlapping longest matches within keys[start:end], left to right."""
        stop = len(keys) if end is None else end
        out: list[Match[V]] = []
        i = start
        while i < stop:
            found = None
            for phrase, value in self._by_first.get(keys[i], ()):
                j = i + len(phrase)
                if j <= stop and tuple(keys[i:j]) == phrase:
                    found = Match(i, j, value)
                    break
            if found is None:
                i += 1
            else:
                out.append(found)
                i = found.end
        return out

    def starts_at(self, keys: Sequence[str], i: int, end: int | None = None) -> Match[V] | None:
        """The longest phrase starting exactly at token i, if any."""
        stop = len(keys) if end is None else end
        for phrase, value in self._by_first.get(keys[i], ()) if i < stop else ():
            j = i + len(phrase)
            if j <= stop and tuple(keys[i:j]) == phrase:
                return Match(i, j, value)
        return None


def phrase_keys(doc: Doc) -> tuple[str, ...]:
    """Keys of a lexicon phrase tokenised by the same tokenizer and normalizer."""
    return tuple(_keys((t for t in doc if not t.is_space), doc.lang_))


def build_table(
    make_doc: object, entries: Mapping[str, V] | Iterable[tuple[str, V]]
) -> PhraseTable[V]:
    """Build a PhraseTable from phrase strings, keyed like document tokens."""
    items = entries.items() if isinstance(entries, Mapping) else entries
    return PhraseTable((phrase_keys(make_doc(p)), v) for p, v in items)  # type: ignore[operator]


def is_boundary(token: Token) -> bool:
    """A token that ends a segment: sentence punctuation, ';', line breaks, spaced dashes.

    Punctuation and spacing only, so it holds for every language we plan to support.
    """
    text = token.text
    if token.is_space:
        return "\n" in text
    if text in {".", "!", "?", ";", "!!", "!!!", "?!", "...", "…"} or set(text) <= {"!", "?", "."}:
        return True
    if text in {"-", "–", "—", "--"}:
        before = token.i > 0 and token.doc[token.i - 1].whitespace_ != ""
        return before or token.whitespace_ != ""
    return False


def segments(doc: Doc) -> list[Span]:
    """Sentence-like segments: parser sentences further cut at ';', ' - ' and newlines."""
    out: list[Span] = []
    start = 0
    sent_starts = {s.start for s in doc.sents} if doc.has_annotation("SENT_START") else set()
    for token in doc:
        if token.i in sent_starts and token.i > start:
            out.append(doc[start : token.i])
            start = token.i
        if is_boundary(token):
            if token.i + 1 > start:
                out.append(doc[start : token.i + 1])
            start = token.i + 1
    if start < len(doc):
        out.append(doc[start:])
    return [s for s in out if any(not t.is_punct and not t.is_space for t in s)]


# Language-neutral clause breaks; the words that break a clause ("but", "though") are
# language data (nlp/lang/<lang>/text.json), passed in by the caller.
CLAUSE_PUNCT = frozenset({",", ":", "(", ")"})


def clauses(span: Span, keys: Sequence[str], break_words: Set[str] = frozenset()) -> list[Span]:
    """Cut a segment at commas, colons, brackets and `break_words`.

    `break_words` are compared with token keys as listed (contrastive conjunctions such
    as "but", from the "clause_breaks" group of nlp/lang/<lang>/text.json).
    """
    doc = span.doc
    out: list[Span] = []
    start = span.start
    for i in range(span.start, span.end):
        key = keys[i]
        if key in break_words or key in CLAUSE_PUNCT or doc[i].text in CLAUSE_PUNCT:
            if i > start:
                out.append(doc[start:i])
            start = i + 1 if doc[i].is_punct else i
    if start < span.end:
        out.append(doc[start : span.end])
    return [c for c in out if any(not t.is_punct and not t.is_space for t in c)]


def reported_speaker(span: Span, keys: Sequence[str], speakers: Set[str]) -> bool:
    """True when `span` states the wish of someone other than the customer: its subject
    is one of `speakers` ("her husband says she prefers post", "my wife wants the
    newsletter"), a word list from nlp/lang/<lang>/text.json ("other_speakers")."""
    return any(keys[t.i] in speakers and t.dep_ in {"nsubj", "nsubjpass"} for t in span)
