"""The trained classifier names a complaint's category where the phrase cues guess."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nlp import Extractor

# The issue's own example: staff disclosing data is a privacy incident, which the cues
# ("staff") file under service.
DISCLOSURE = (
    "Your staff read my account details out loud to another customer in the branch, unacceptable."
)


def categories(extractor: Extractor, text: str) -> list[str]:
    facts = extractor.extract(text).to_dict()["facts"]
    return [f["category"] for f in facts if f["kind"] == "complaint"]


@pytest.fixture
def complaints(extractor: Extractor) -> Iterator[Any]:
    comp: Any = extractor.nlp.get_pipe("trustline_complaints")
    saved = comp.relabel_threshold
    yield comp
    comp.relabel_threshold = saved


def test_staff_disclosing_data_is_a_privacy_complaint(extractor: Extractor) -> None:
    assert categories(extractor, DISCLOSURE) == ["privacy"]


def test_the_category_comes_from_the_classifier_not_the_cues(
    extractor: Extractor, complaints: Any
) -> None:
    complaints.relabel_threshold = 2.0  # off: the cues alone
    assert categories(extractor, DISCLOSURE) == ["service"]


def test_a_clear_cue_is_kept_when_the_classifier_agrees(extractor: Extractor) -> None:
    text = "The lamp arrived smashed, the courier had clearly thrown the box over the fence."
    assert categories(extractor, text) == ["delivery"]
