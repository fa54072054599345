"""The trained interest recogniser, run apart from the document's own entities.

`trustline train` builds an entity recogniser that marks what a customer asks about,
wants or likes ("do u hav the puffer in xs?"); it ships in nlp/models/<lang>/interests.
This component runs it on a document with its entities set aside (a base pipeline's own
recogniser, when one is configured, neither constrains nor receives the marks) and puts
the marks in ``doc.spans[SPANS_KEY]`` for trustline_preferences to read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch

from ..errors import ModelNotTrainedError

SPANS_KEY = "trustline_interests"
LABEL = "INTEREST"
TRAINED_NAME = "trustline_interests"  # the component's name inside the trained model
PACKAGE_DIR = Path(__file__).parents[1]


class LearnedInterests:
    def __init__(self, nlp: Language, name: str, model: str) -> None:
        self.name = name
        path = PACKAGE_DIR / model.format(lang=nlp.lang)
        if not path.is_dir():
            raise ModelNotTrainedError(path)
        self.recogniser: Any = spacy.load(path).get_pipe(TRAINED_NAME)
        nlp.vocab.strings.add(LABEL)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Batched, as the recogniser predicts a batch at once (much cheaper per text)."""
        for batch in minibatch(docs, size=batch_size):  # type: ignore[no-untyped-call]
            saved = [doc.ents for doc in batch]
            for doc in batch:
                doc.ents = []
            for doc, ents in zip(
                self.recogniser.pipe(batch, batch_size=batch_size), saved, strict=True
            ):
                doc.spans[SPANS_KEY] = [e for e in doc.ents if e.label_ == LABEL]
                doc.ents = ents
                yield doc

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to do: the recogniser is trained by `trustline train`."""


@Language.factory("trustline_interests", default_config={"model": "models/{lang}/interests"})
def make_learned_interests(nlp: Language, name: str, model: str) -> LearnedInterests:
    return LearnedInterests(nlp, name, model)
