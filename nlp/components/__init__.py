"""spaCy components of the Trustline pipeline, registered on import."""

from __future__ import annotations

from . import complaints, consent, interests, normalizer, preferences, sensitive

__all__ = ["complaints", "consent", "interests", "normalizer", "preferences", "sensitive"]
