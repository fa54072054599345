"""Trustline's spaCy pipeline: call notes in, contract facts out."""

from __future__ import annotations

from .errors import InvalidTextError, ModelNotInstalledError, TextTooLongError, TrustlineNLPError
from .extractor import DEFAULT_MODEL, Extractor
from .facts import Evidence, ExtractionResult, Fact

__all__ = [
    "DEFAULT_MODEL",
    "Evidence",
    "ExtractionResult",
    "Extractor",
    "Fact",
    "InvalidTextError",
    "ModelNotInstalledError",
    "TextTooLongError",
    "TrustlineNLPError",
]
