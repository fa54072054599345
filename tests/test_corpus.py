"""The annotated corpus and frozen test sets follow the extraction contract, so that every
score measured on them means what the contract says (docs/annotation/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FILES = [
    ROOT / "nlp/training/en/corpus/train.jsonl",
    ROOT / "nlp/training/en/corpus/dev.jsonl",
    ROOT / "nlp/training/en/corpus/twcs-dev-labelled.jsonl",
    ROOT / "tests/data/frozen/notes-corpus-test.jsonl",
    ROOT / "tests/data/frozen/notes-sensitive-test.jsonl",
    ROOT / "tests/data/frozen/notes-sensitive-test-2.jsonl",
    ROOT / "tests/data/frozen/notes-sensitive-test-3.jsonl",
    ROOT / "nlp/training/en/corpus/sensitive-train.jsonl",
]
VALUES = {
    ("preference", "field"): {
        "contact_channel", "contact_time", "language", "interest", "delivery", "payment", "size",
    },
    ("preference", "polarity"): {"positive", "negative"},
    ("complaint", "category"): {
        "billing", "delivery", "product_quality", "service", "returns_refunds", "website_app",
        "privacy", "pricing", "other",
    },
    ("complaint", "severity"): {"low", "medium", "high"},
    ("complaint", "status"): {"open", "resolved"},
    ("consent", "action"): {"grant", "withdraw", "erase", "access"},
    ("consent", "purpose"): {"marketing", "personalization", "analytics", "data_sharing", "all"},
    ("sensitive", "category"): {
        "health", "religion", "ethnicity", "political", "sexual_orientation", "union",
        "biometric", "genetic", "payment_card", "bank_account", "national_id", "credential",
    },
}  # fmt: skip


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_follows_the_contract(path: Path) -> None:
    items = rows(path)
    assert len({str(r["id"]) for r in items}) == len(items), "ids are unique"
    for item in items:
        text = str(item["text"])
        for fact in item["gold"]:  # type: ignore[attr-defined]
            kind = fact["kind"]
            for (k, key), allowed in VALUES.items():
                if k == kind and key in fact:
                    assert fact[key] in allowed, (item["id"], fact)
            if kind == "sensitive":
                assert fact["span"] in text, (item["id"], fact["span"])


def test_frozen_test_shares_no_writer_or_industry_with_training() -> None:
    train = rows(FILES[0]) + rows(FILES[1])
    test = rows(FILES[3])
    assert not {r["writer"] for r in train} & {r["writer"] for r in test}
    assert not {r["domain"] for r in train} & {r["domain"] for r in test}


# Every text we report a figure on; none may be trained on (a model that has seen a
# text scores it from memory).
EVALUATION = [
    ROOT / "nlp/training/en/corpus/dev.jsonl",
    ROOT / "nlp/training/en/corpus/twcs-dev-labelled.jsonl",
    *sorted((ROOT / "tests/data").glob("*.jsonl")),
    *sorted((ROOT / "tests/data/frozen").glob("*.jsonl")),
]


def test_no_evaluation_text_is_trained_on() -> None:
    from nlp.train import training_files

    seen = {str(r["text"]).strip() for p in EVALUATION for r in rows(p)}
    assert len(seen) > 2000
    for path in training_files("en"):
        overlap = [r["text"] for r in rows(path) if str(r["text"]).strip() in seen]
        assert not overlap, f"{path.name}: {len(overlap)} evaluation texts, e.g. {overlap[0]!r}"
