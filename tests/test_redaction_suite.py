"""The adversarial redaction suite (tests/data/redaction/adversarial.jsonl, written by an
outside red-team helper who never saw the rules): no secret or special-category span
leaks, and at most 3 % of the negatives (order, tracking and policy numbers, contact
points, prices, dates) lose a word to masking (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

from nlp import Extractor
from nlp.evaluate import score_redaction

SUITE = Path(__file__).parent / "data" / "redaction" / "adversarial.jsonl"


def test_adversarial_suite_leaks_nothing_and_spares_the_negatives(extractor: Extractor) -> None:
    cases = [json.loads(line) for line in SUITE.read_text(encoding="utf-8").splitlines() if line]
    assert len(cases) >= 300
    results = extractor.extract_many([c["text"] for c in cases], ids=[c["id"] for c in cases])
    redacted = {str(r.id): r.redacted_text for r in results}
    score = score_redaction(cases, redacted)
    leaks = [m for m in score.misses if "leaked" in m]
    assert leaks == [], leaks[:5]
    assert score.negatives >= 100
    assert score.negatives_over_masked <= 0.03 * score.negatives, [
        m for m in score.misses if "over_masked" in m
    ][:5]
