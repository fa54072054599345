"""Free text that people and CRMs write besides notes (consent evidence, removal reasons,
names, inbound webhook fields) is masked the way notes are before it is stored or
published: through the extractor's own redaction, so that every improvement to it
reaches these fields too."""

from __future__ import annotations

from typing import Any

from nlp import Extractor, TrustlineNLPError

UNREADABLE = "[REDACTED]"  # a string the extractor cannot read (too long) is not kept


def redact(extractor: Extractor, text: str) -> str:
    """`text` as a note would keep it: every sensitive span replaced by [CATEGORY]."""
    if not text.strip():
        return text
    return extractor.extract(text).redacted_text


def redact_values(extractor: Extractor, value: Any) -> Any:
    """A JSON value with every string in it (not the keys) redacted, in one batch."""
    texts: dict[str, str] = {}
    _strings(value, texts)
    readable = []
    for text in texts:
        try:
            extractor.check(text)
        except TrustlineNLPError:
            texts[text] = UNREADABLE
            continue
        readable.append(text)
    for text, result in zip(readable, extractor.extract_many(readable), strict=True):
        texts[text] = result.redacted_text
    return _replaced(value, texts)


def _strings(value: Any, out: dict[str, str]) -> None:
    if isinstance(value, str):
        if value.strip():
            out[value] = value
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)


def _replaced(value: Any, masked: dict[str, str]) -> Any:
    if isinstance(value, str):
        return masked.get(value, value)
    if isinstance(value, dict):
        return {k: _replaced(v, masked) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, masked) for v in value]
    return value
