"""Trustline's spaCy pipeline: call notes in, contract facts out.

`Extractor` (and spaCy with it) is imported on first use, so that the contract types in
`nlp.facts` can be used without loading spaCy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    InvalidTextError,
    ModelNotInstalledError,
    TextTimeBudgetError,
    TextTooLongError,
    TrustlineNLPError,
)
from .facts import Evidence, ExtractionResult, Fact

if TYPE_CHECKING:
    from .extractor import DEFAULT_MODEL, Extractor

__all__ = [
    "DEFAULT_MODEL",
    "Evidence",
    "ExtractionResult",
    "Extractor",
    "Fact",
    "InvalidTextError",
    "ModelNotInstalledError",
    "TextTimeBudgetError",
    "TextTooLongError",
    "TrustlineNLPError",
]


def __getattr__(name: str) -> Any:
    if name in ("Extractor", "DEFAULT_MODEL"):
        from . import extractor

        return getattr(extractor, name)
    raise AttributeError(f"module 'nlp' has no attribute {name!r}")
