"""`Extractor.extract` from many threads at once (as the threaded server calls it): the
texts that wait together run as one batch, and each caller gets its own text's result."""

from __future__ import annotations

import threading

import pytest

from nlp import Extractor, TextTooLongError

TEXTS = [
    "Prefers SMS, not email. Card 4111 1111 1111 1111 on file.",
    "Customer angry: parcel arrived late again, second time this month.",
    "Asked us to stop calling her. Speaks French at home.",
    "Interested in trail running shoes, size 9. Best reached evenings.",
    "",
    "ok to personalise offers by email",
]


def test_concurrent_callers_each_get_their_own_result(extractor: Extractor) -> None:
    texts = [
        f"{TEXTS[i % len(TEXTS)]} Ref {i}." if i % 5 else TEXTS[i % len(TEXTS)] for i in range(96)
    ]
    expected = [r.to_dict() for r in extractor.extract_many(texts, ids=range(len(texts)))]
    got: dict[int, dict[str, object]] = {}
    ids: dict[int, object] = {}
    start = threading.Barrier(16)

    def caller(first: int) -> None:
        start.wait()
        for i in range(first, len(texts), 16):
            result = extractor.extract(texts[i], id=i)
            got[i], ids[i] = result.to_dict(), result.id

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [got[i] for i in range(len(texts))] == expected
    assert ids == {i: i for i in range(len(texts))}


def test_a_bad_text_fails_only_its_own_caller(extractor: Extractor) -> None:
    errors: list[BaseException] = []
    results: list[object] = []

    def bad() -> None:
        try:
            extractor.extract("x" * (extractor.max_chars + 1))
        except TextTooLongError as exc:
            errors.append(exc)

    def good() -> None:
        results.append(extractor.extract("Prefers email."))

    threads = [threading.Thread(target=f) for f in (bad, good, bad, good)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(errors) == 2 and len(results) == 2
    with pytest.raises(TextTooLongError):
        extractor.extract("x" * (extractor.max_chars + 1))
