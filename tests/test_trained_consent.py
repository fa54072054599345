"""The trained consent classifier finds statements no phrase rule reaches, and never
contradicts what the rules read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nlp import Extractor

LAY = "unsub me from ur newsletter pls, way too many"


def consents(extractor: Extractor, text: str) -> list[tuple[str, str, str | None]]:
    facts = extractor.extract(text).to_dict()["facts"]
    return [(f["action"], f["purpose"], f.get("channel")) for f in facts if f["kind"] == "consent"]


@pytest.fixture
def consent(extractor: Extractor) -> Iterator[Any]:
    comp: Any = extractor.nlp.get_pipe("trustline_consent")
    saved = comp.learned_threshold
    yield comp
    comp.learned_threshold = saved


def test_a_lay_unsubscribe_is_a_marketing_withdrawal(extractor: Extractor) -> None:
    assert consents(extractor, LAY) == [("withdraw", "marketing", "email")]


def test_the_statement_comes_from_the_classifier(extractor: Extractor, consent: Any) -> None:
    consent.learned_threshold = 2.0  # off: the phrase rules alone
    assert consents(extractor, LAY) == []


def test_evidence_is_the_segment_that_says_it(extractor: Extractor) -> None:
    text = "Got the refund, ta. " + LAY
    facts = [f for f in extractor.extract(text).to_dict()["facts"] if f["kind"] == "consent"]
    assert [(f["action"], f["purpose"], f.get("channel")) for f in facts] == [
        ("withdraw", "marketing", "email")
    ]
    assert facts[0]["evidence"]["text"] == LAY


def test_no_grant_is_added_beside_a_withdrawal_the_rules_read(extractor: Extractor) -> None:
    found = consents(extractor, "Agent unsubscribed her from the newsletter")
    assert ("grant", "marketing", "email") not in found
