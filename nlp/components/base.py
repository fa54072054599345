"""Shared plumbing: the facts extension, data loading and serialisation of components."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..facts import Evidence, Fact, Kind
from ..langdata import load
from ..text import singularizer

FACTS_KEY = "trustline.facts"


def _get_facts(doc: Doc) -> list[Fact]:
    facts: list[Fact] = doc.user_data.setdefault(FACTS_KEY, [])
    return facts


if not Doc.has_extension("trustline_facts"):
    Doc.set_extension("trustline_facts", getter=_get_facts)


def add_fact(doc: Doc, fact: Fact) -> None:
    """Append a fact to the doc's fact list."""
    _get_facts(doc).append(fact)


def evidence_for(doc: Doc, start_char: int, end_char: int) -> Evidence:
    """Evidence for a character range of the doc, trimmed of spaces and edge punctuation."""
    # doc.text is rebuilt from the tokens on every access: read it once per doc.
    text: str | None = doc.user_data.get("trustline.text")
    if text is None:
        text = doc.user_data["trustline.text"] = doc.text
    while start_char < end_char and (text[start_char].isspace() or text[start_char] in ",;:-–("):
        start_char += 1
    while end_char > start_char and (
        text[end_char - 1].isspace() or text[end_char - 1] in ",;:-–("
    ):
        end_char -= 1
    return Evidence(start_char, end_char, text[start_char:end_char])


def span_evidence(span: Span) -> Evidence:
    """Evidence covering a span of tokens."""
    return evidence_for(span.doc, span.start_char, span.end_char)


def make_fact(kind: Kind, evidence: Evidence, confidence: float, **attrs: Any) -> Fact:
    return Fact(kind=kind, evidence=evidence, confidence=confidence, attrs=attrs)


class DataComponent:
    """A component whose behaviour comes from one language data file.

    Data is loaded in `initialize()` (from nlp/lang/<lang>/<data_name>.json) and travels
    with the pipeline through `to_disk` / `from_disk`. `singular` is the language's
    singular rule: lexicon words go through it to be keyed like document tokens.
    """

    data_name = ""

    def __init__(self, nlp: Language, name: str) -> None:
        self.nlp = nlp
        self.name = name
        self.data: dict[str, Any] = {}
        self.singular: Callable[[str], str] = singularizer(str(nlp.lang))

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Any]] | None = None,
        *,
        nlp: Language | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.data = data if data is not None else load(self.nlp.lang, self.data_name)
        self.setup()

    def setup(self) -> None:
        """Compile the loaded data (lexicons, regexes); override in subclasses."""

    def words(self, group: dict[str, Any], key: str = "words") -> frozenset[str]:
        """A word list of a data group, keyed like document tokens (singular)."""
        return frozenset(self.singular(w) for w in group[key])

    def clause_breaks(self) -> frozenset[str]:
        """The language's clause-break words, to pass to `clauses()`.

        They are shared by the components that cut clauses, so they live in
        nlp/lang/<lang>/text.json rather than in each component's own data file.
        """
        return frozenset(load(self.nlp.lang, "text")["clause_breaks"]["words"])

    def other_speakers(self) -> frozenset[str]:
        """People other than the customer whose wishes a text may report (text.json)."""
        return self.words(load(self.nlp.lang, "text")["other_speakers"])

    def make_doc(self, text: str) -> Doc:
        """Tokenise a lexicon phrase exactly like document text, shorthand norms included."""
        doc = self.nlp.make_doc(text)
        if "trustline_normalizer" in self.nlp.pipe_names and self.name != "trustline_normalizer":
            normalizer = self.nlp.get_pipe("trustline_normalizer")
            doc = normalizer(doc)
        return doc

    def _require(self) -> None:
        if not self.data:
            self.initialize()

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "data.json").write_text(json.dumps(self.data, ensure_ascii=False))

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> DataComponent:
        self.initialize(data=json.loads((Path(path) / "data.json").read_text()))
        return self
