"""Free text that people and CRMs write besides notes (consent evidence, removal reasons,
names, inbound webhook fields) is masked the way notes are before it is stored or
published: through the extractor's own redaction, so that every improvement to it
reaches these fields too."""

from __future__ import annotations

from typing import Any

from nlp import Extractor


def redact(extractor: Extractor, text: str) -> str:
    """`text` as a note would keep it: every sensitive span replaced by [CATEGORY]."""
    if not text.strip():
        return text
    return extractor.extract(text).redacted_text


def redact_values(extractor: Extractor, value: Any) -> Any:
    """A JSON value with every string in it (not the keys) redacted."""
    if isinstance(value, str):
        return redact(extractor, value)
    if isinstance(value, dict):
        return {k: redact_values(extractor, v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_values(extractor, v) for v in value]
    return value
