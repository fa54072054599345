"""Agent shorthand: sets token norms ("cust" -> customer, "wnats" -> wants).

Runs first so that tok2vec (which reads NORM) and every rule see the intended word;
the text and character offsets never change.
"""

from __future__ import annotations

from typing import cast

from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc

from .base import DataComponent


class Normalizer(DataComponent):
    data_name = "shorthand"

    def setup(self) -> None:
        self.norms: dict[str, str] = {k.lower(): v for k, v in self.data.get("norms", {}).items()}
        tokenizer = cast(Tokenizer, self.nlp.tokenizer)
        for text, pieces in self.data.get("special_cases", {}).items():
            if "".join(p[0] for p in pieces) != text:
                continue  # a special case must not change the text
            tokenizer.add_special_case(text, [{"ORTH": p[0], "NORM": p[1]} for p in pieces])

    def __call__(self, doc: Doc) -> Doc:
        self._require()
        norms = self.norms
        for token in doc:
            norm = norms.get(token.lower_)
            if norm is not None:
                token.norm_ = norm
        return doc


@Language.factory("trustline_normalizer")
def make_normalizer(nlp: Language, name: str) -> Normalizer:
    return Normalizer(nlp, name)
