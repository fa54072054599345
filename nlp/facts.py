"""Typed extraction results that serialise to the extraction contract (v1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["preference", "complaint", "consent", "sensitive"]

PREFERENCE_FIELDS = (
    "contact_channel",
    "contact_time",
    "language",
    "interest",
    "delivery",
    "payment",
    "size",
)
COMPLAINT_CATEGORIES = (
    "billing",
    "delivery",
    "product_quality",
    "service",
    "returns_refunds",
    "website_app",
    "privacy",
    "pricing",
    "other",
)
CONSENT_ACTIONS = ("grant", "withdraw", "erase", "access")
CONSENT_PURPOSES = ("marketing", "personalization", "analytics", "data_sharing", "all")
SPECIAL_CATEGORIES = (  # GDPR Art. 9
    "health",
    "religion",
    "ethnicity",
    "political",
    "sexual_orientation",
    "union",
    "biometric",
    "genetic",
)
SECRET_CATEGORIES = ("payment_card", "bank_account", "national_id", "credential")
SENSITIVE_CATEGORIES = SPECIAL_CATEGORIES + SECRET_CATEGORIES


@dataclass(frozen=True, slots=True)
class Evidence:
    """Character span of the input text that justifies a fact."""

    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True, slots=True)
class Fact:
    """One extracted fact; `attrs` holds the kind-specific keys of the contract."""

    kind: Kind
    evidence: Evidence
    confidence: float
    attrs: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        out.update(self.attrs)
        out["evidence"] = self.evidence.to_dict()
        out["confidence"] = round(self.confidence, 3)
        return out


@dataclass(frozen=True, slots=True)
class ExtractionResult:
    """What the extractor returns for one text."""

    text: str
    redacted_text: str
    facts: tuple[Fact, ...]
    id: Any = None

    def by_kind(self, kind: Kind) -> list[Fact]:
        return [f for f in self.facts if f.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id
        out["redacted_text"] = self.redacted_text
        out["facts"] = [f.to_dict() for f in self.facts]
        return out
