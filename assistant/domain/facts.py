"""Facts in the profile: preferences and complaints, their views, corrections and
which older facts a new one supersedes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nlp.facts import COMPLAINT_CATEGORIES

from .errors import ProfileError

# A positive fact of these fields replaces earlier positives of the same field with
# another value ("now prefers SMS" after "prefers email"); other fields accumulate.
EXCLUSIVE_FIELDS = frozenset({"contact_channel", "language", "payment", "delivery"})
PROFILE_KINDS = ("preference", "complaint")  # the kinds the profile keeps
CORRECTABLE = {"preference": ("value", "polarity"), "complaint": ("category", "severity")}
_NOT_ATTRS = ("kind", "evidence", "confidence")


def fact_attrs(contract: Mapping[str, Any]) -> dict[str, Any]:
    """A fact's own keys (the contract without kind, evidence and confidence)."""
    return {k: v for k, v in contract.items() if k not in _NOT_ATTRS}


def contract_fact(fact: Mapping[str, Any]) -> dict[str, Any]:
    """A stored fact in the contract's shape (kind plus its keys)."""
    out: dict[str, Any] = {"kind": fact["kind"]}
    out.update(json.loads(fact["attrs"]))
    return out


def fact_key(fact: Mapping[str, Any]) -> str:
    """A short, non-identifying label of a fact for decisions ("preference:payment")."""
    kind = str(fact.get("kind"))
    detail = fact.get("field") or fact.get("category") or fact.get("purpose") or fact.get("action")
    return f"{kind}:{detail}"


def fact_view(fact: Mapping[str, Any]) -> dict[str, Any]:
    """A stored fact as the API shows it: contract keys plus provenance."""
    out = contract_fact(fact)
    if fact["kind"] == "complaint" and fact["status"]:
        out["status"] = fact["status"]
    out.update(
        {
            "id": fact["id"],
            "confidence": fact["confidence"],
            "provenance": {
                "note_id": fact["note_id"],
                "evidence": {
                    "start": fact["evidence_start"],
                    "end": fact["evidence_end"],
                    "text": fact["evidence_text"],
                },
                "extractor": fact["extractor"],
                "model_version": fact["model_version"],
                "agent": fact["agent"],
                "at": fact["created_at"],
                "purpose": fact["purpose"],
                "lawful_basis": fact["lawful_basis"],
                "decision_id": fact["decision_id"],
            },
        }
    )
    for key in ("superseded_by", "superseded_at", "removed_at", "removed_reason", "updated_at"):
        if fact.get(key):
            out[key] = fact[key]
    return out


@dataclass(frozen=True, slots=True)
class Supersession:
    """Which active preferences a new one makes step aside (kept as history): those of
    the same field and value and, when `exclusive`, the positive ones of the same field
    with another value from other notes."""

    field: Any
    value: str
    exclusive: bool


def supersession(attrs: Mapping[str, Any]) -> Supersession:
    """The supersession rule of a new preference with `attrs`."""
    field = attrs.get("field")
    exclusive = field in EXCLUSIVE_FIELDS and attrs.get("polarity") == "positive"
    return Supersession(field, str(attrs.get("value")), exclusive)


def check_removal_reason(reason: str) -> None:
    if not reason.strip():
        raise ProfileError(400, "reason_required", "say why the fact is removed")


def corrected_attrs(fact: Mapping[str, Any], changes: Mapping[str, str]) -> dict[str, Any]:
    """The attributes of stored `fact` after `changes` (ProfileError 400 on a key that
    cannot be corrected, an empty or invalid value, or no change at all)."""
    allowed = CORRECTABLE.get(str(fact["kind"]), ())
    attrs = json.loads(fact["attrs"])
    corrected = dict(attrs)
    for key, value in changes.items():
        if key not in allowed:
            raise ProfileError(
                400, "not_correctable", f"a {fact['kind']} can be corrected in {allowed}"
            )
        value = " ".join(str(value).split())[:200]
        if not value:
            raise ProfileError(400, "empty_value", f"give the corrected {key}")
        corrected[key] = value
    _check_correction(str(fact["kind"]), corrected)
    if corrected == attrs:
        raise ProfileError(400, "no_change", "the correction changes nothing")
    return corrected


def _check_correction(kind: str, attrs: Mapping[str, Any]) -> None:
    if kind == "preference" and attrs.get("polarity") not in ("positive", "negative"):
        raise ProfileError(400, "invalid_polarity", "polarity must be positive or negative")
    if kind == "complaint":
        if attrs.get("category") not in COMPLAINT_CATEGORIES:
            raise ProfileError(
                400, "invalid_category", f"category must be one of {COMPLAINT_CATEGORIES}"
            )
        if attrs.get("severity") not in ("low", "medium", "high"):
            raise ProfileError(400, "invalid_severity", "severity must be low, medium or high")


COMPLAINT_STATUSES = ("open", "resolved")


def check_complaint_status(status: str) -> None:
    if status not in COMPLAINT_STATUSES:
        raise ProfileError(400, "invalid_status", "status must be open or resolved")
