"""The note composer: what saving a note would do (pure), and saving the ticked facts.

`preview` shows the plan the write path carries out (`assistant.domain.notes.plan_note`)
without touching the database: each fact becomes a chip saying what will happen on save.
A withdrawal earlier in the note is applied to the facts after it, as the save does.
The agent may untick chips; `keep` builds the ExtractionResult that is then saved.
Sensitive facts can never be unticked: they are what masks the text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from nlp import ExtractionResult, Extractor, Fact
from nlp.facts import SECRET_CATEGORIES
from nlp.redaction import placeholder

from .. import services
from ..consent import ConsentState
from ..domain.notes import ALREADY_GRANTED as ALREADY_GRANTED_ACTION
from ..domain.notes import plan_note
from ..policy import Policy
from ..store.sqlite import audit

# What saving does with a fact, as the chips say it.
STORED = "stored"
NEEDS_CONSENT = "needs_consent"
BLOCKED = "blocked"
MASKED = "masked"
CONSENT = "consent"  # a consent statement: recorded in the ledger, not the profile
OUTCOMES = (STORED, NEEDS_CONSENT, BLOCKED, MASKED, CONSENT)

ALREADY_GRANTED = "consent_already_granted"  # a grant the ledger already holds
_NEEDS_CONSENT_REASONS = frozenset({"no_consent", "consent_withdrawn", "consent_denied"})


@dataclass(frozen=True, slots=True)
class Chip:
    """One fact of the note and what saving it would do."""

    key: str  # stable fingerprint of the fact, for the untick checkboxes
    kind: str
    attrs: Mapping[str, Any]
    outcome: str
    reason: str
    purpose: str | None
    lawful_basis: str | None
    evidence: str  # from the masked text: never a secret
    kept: bool
    locked: bool  # sensitive facts: always kept, the mask depends on them


def _split(words: str) -> list[str]:
    return words.split()


# A few of each language's commonest words: enough to tell a note is not English.
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "English": frozenset(
        _split(
            "the and is are was to of in for with not no she he they her his it on by at "
            "wants prefers likes"
        )
    ),
    "French": frozenset(
        _split(
            "le la les des du une un est et pas ne elle il par pour avec sur au aux "
            "préfère veut souhaite être très"
        )
    ),
    "Spanish": frozenset(
        _split("el los las del una es y no por para con está muy prefiere quiere")
    ),
    "German": frozenset(
        _split("der die das und ist nicht kein keine sie er mit für bitte möchte will sehr")
    ),
    "Italian": frozenset(_split("il gli della una è e non per con lei preferisce vuole molto")),
    "Portuguese": frozenset(_split("o os as da do uma é e não por para com ela prefere quer")),
    "Dutch": frozenset(_split("de het een en is niet geen zij hij met voor wil graag")),
}
_WORDS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def unsupported_language(text: str) -> str | None:
    """The language a note seems to be written in when it is not English (the only
    language the extractor reads today), or None. A guess from function words: it only
    decides whether the composer says so."""
    words = [w.lower().split("'")[-1] for w in _WORDS.findall(text)]
    counts = {lang: sum(w in known for w in words) for lang, known in _FUNCTION_WORDS.items()}
    english = counts.pop("English")
    lang, found = max(counts.items(), key=lambda item: item[1])
    return lang if found >= 2 and found > english else None


def fingerprint(fact: Fact) -> str:
    """A short id of a fact that is the same every time the same text is extracted."""
    body = json.dumps(fact.to_dict(), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def preview(
    result: ExtractionResult,
    state: ConsentState,
    policy: Policy,
    now: datetime,
    *,
    customer_id: str,
    dropped: Collection[str] = (),
) -> list[Chip]:
    """The chips for `result`: one per fact, in the note's order, from the plan that
    saving carries out (`plan_note`). Pure."""
    keys = [fingerprint(fact) for fact in result.facts]
    left_out = {
        n for n, fact in enumerate(result.facts) if fact.kind != "sensitive" and keys[n] in dropped
    }
    plan = plan_note(result, state, policy, now, customer_id=customer_id, left_out=left_out)
    chips: list[Chip] = []
    for key, step in zip(keys, plan.facts, strict=True):
        fact, decision = step.fact, step.decision
        locked = fact.kind == "sensitive"
        evidence = str(step.evidence["text"])
        if fact.kind == "sensitive":
            evidence = placeholder(str(fact.attrs["category"]))
        purpose, basis, reason = decision.purpose, decision.lawful_basis, decision.reason
        if fact.kind == "consent":
            outcome, basis = CONSENT, None
            purpose = str(fact.attrs.get("purpose") or "") or None
            if step.action == ALREADY_GRANTED_ACTION:
                reason = ALREADY_GRANTED
        elif decision.allowed:
            outcome = STORED
        elif fact.kind == "sensitive" and fact.attrs.get("category") in SECRET_CATEGORIES:
            outcome = MASKED
        elif (
            reason in _NEEDS_CONSENT_REASONS
            and purpose is not None
            and purpose in policy.purposes
            and policy.purposes[purpose].needs_consent
        ):
            outcome = NEEDS_CONSENT
        else:
            outcome = BLOCKED
        chips.append(
            Chip(
                key,
                fact.kind,
                step.attrs,
                outcome,
                reason,
                purpose,
                basis,
                evidence,
                step.kept,
                locked,
            )
        )
    return chips


def keep(result: ExtractionResult, dropped: Collection[str]) -> tuple[ExtractionResult, list[Fact]]:
    """(the result to save, the facts left out); sensitive facts are always kept."""
    kept: list[Fact] = []
    left_out: list[Fact] = []
    for fact in result.facts:
        if fact.kind != "sensitive" and fingerprint(fact) in dropped:
            left_out.append(fact)
        else:
            kept.append(fact)
    filtered = ExtractionResult(result.text, result.redacted_text, facts=tuple(kept), id=None)
    return filtered, left_out


def dropped_keys(shown: Collection[str], ticked: Collection[str]) -> set[str]:
    """Facts the agent saw as chips and unticked; a fact never shown is kept."""
    return set(shown) - set(ticked)


def save_note(
    db: sqlite_utils.Database,
    extractor: Extractor,
    policy: Policy,
    customer_id: str,
    text: str,
    *,
    agent: str,
    dropped: Collection[str],
) -> dict[str, Any]:
    """Save a note through the write path with only the ticked facts.

    The unticked facts are named (kind and field, never their text) in the audit log, in
    the same transaction. Returns what `services.save_note` returns, plus "left_out".
    """
    left_out: list[Fact] = []

    def extract(note: str) -> ExtractionResult:
        filtered, unticked = keep(extractor.extract(note), dropped)
        left_out.extend(unticked)
        return filtered

    def audit_unticked(stored: dict[str, Any]) -> None:
        if left_out:
            audit.append(
                db,
                at=stored["note"]["created_at"],
                actor=agent,
                action="note.facts_unticked",
                subject=customer_id,
                details={
                    "note_id": stored["note"]["id"],
                    "unticked": [services.fact_key(f.to_dict()) for f in left_out],
                },
            )

    stored = services.save_note(
        db,
        extractor,
        policy,
        customer_id,
        text,
        agent=agent,
        source="sidebar",
        extract=extract,
        after=audit_unticked,
    )
    stored["left_out"] = [f.to_dict() for f in left_out]
    return stored
