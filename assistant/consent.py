"""Consent decisions: pure functions of (fact, consent state, policy, time).

Nothing here reads a clock, a file or a database: the caller passes `now` and the
customer's consent ledger, and records the `Decision` it gets back. Every rule fails
closed: no record in force means no consent.

Reason codes (`Decision.reason`, stable; see `REASONS`):

* stored: `consent_granted`, or the lawful basis of an objectable purpose
  (`legitimate_interest`, `contract`, `legal_obligation`).
* blocked: `consent_statement` (kind "consent": the caller records it in the ledger),
  `never_store_secret`, `special_category` (no art9 purpose mapped), `unknown_kind`,
  `no_purpose` (the policy maps the fact to nothing), `unknown_purpose`, `never_store`,
  `no_consent`, `consent_withdrawn`, `consent_denied`, `objected`, `unknown_channel`.

A special category mapped to an art9 purpose is decided like any consent purpose
(`no_consent`, `consent_granted`, ...), with lawful basis `explicit_consent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from nlp.facts import SECRET_CATEGORIES, SPECIAL_CATEGORIES

from .policy import LAWFUL_BASES, Policy, Purpose

STATUSES = ("granted", "withdrawn", "denied")
OUTCOMES: Final = ("stored", "blocked")
ALL_PURPOSES: Final = "all"
CHANNELS: Final = ("email", "phone", "sms", "post", "chat", "whatsapp", "app")
REASONS: Final = (
    "consent_granted",
    "legitimate_interest",
    "contract",
    "legal_obligation",
    "consent_statement",
    "never_store_secret",
    "special_category",
    "unknown_kind",
    "no_purpose",
    "unknown_purpose",
    "never_store",
    "no_consent",
    "consent_withdrawn",
    "consent_denied",
    "objected",
    "unknown_channel",
)

_KINDS: Final = ("preference", "complaint", "sensitive", "consent")
_BLOCKED_BY: Final = {"withdrawn": "consent_withdrawn", "denied": "consent_denied"}


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One row of the append-only consent ledger.

    `purpose` "all" is a withdrawal or denial for every purpose; a grant for "all" counts
    for nothing, since consent must be specific (Art. 4(11)). `channel` None covers every
    channel. Datetimes must carry a time zone. Raises ValueError on a record that could be
    misread; a record whose effective_to is not after effective_from is never in force.
    """

    id: int | None
    customer_id: str
    purpose: str
    channel: str | None
    status: str
    lawful_basis: str
    source: str
    method: str
    evidence: Mapping[str, Any]
    effective_from: datetime
    effective_to: datetime | None
    recorded_at: datetime

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"consent status must be one of {STATUSES}, not {self.status!r}")
        if not self.purpose:
            raise ValueError("a consent record needs a purpose")
        if self.lawful_basis not in LAWFUL_BASES:
            raise ValueError(
                f"lawful basis must be one of {LAWFUL_BASES}, not {self.lawful_basis!r}"
            )
        for name in ("effective_from", "effective_to", "recorded_at"):
            value = getattr(self, name)
            if value is not None:
                _require_aware(value, name)

    def in_force(self, at: datetime) -> bool:
        """True when `at` lies in [effective_from, effective_to)."""
        return self.effective_from <= at and (self.effective_to is None or at < self.effective_to)

    def covers(self, purpose: str, channel: str | None) -> bool:
        """True when this record speaks about `purpose` on `channel` (None: the whole purpose)."""
        if self.purpose == ALL_PURPOSES:
            if self.status == "granted":
                return False
        elif self.purpose != purpose:
            return False
        return self.channel is None or self.channel == channel


@dataclass(frozen=True, slots=True)
class ConsentState:
    """One customer's consent ledger, as far as the caller has read it."""

    records: tuple[ConsentRecord, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "records", tuple(self.records))
        customers = {r.customer_id for r in self.records}
        if len(customers) > 1:
            # One customer's grant must never let another customer's data in.
            raise ValueError(f"a consent state holds one customer's records, not {customers}")

    def current(self, purpose: str, channel: str | None, at: datetime) -> ConsentRecord | None:
        """The record in force at `at` for `purpose` on `channel`, or None.

        Among the records in force that cover the purpose (or "all") and the channel (a
        purpose-wide record covers every channel; `channel` None asks about the purpose as
        a whole, so only purpose-wide records count), the latest `recorded_at` wins. On a
        tie the refusal wins, then the channel-specific record, then the higher id.
        """
        _require_aware(at, "at")
        live = [r for r in self.records if r.covers(purpose, channel) and r.in_force(at)]
        return max(live, key=_precedence, default=None)


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a fact may be stored (or a channel used), why, and on which record."""

    outcome: str
    purpose: str | None
    lawful_basis: str | None
    reason: str
    consent_record_id: int | None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")

    @property
    def allowed(self) -> bool:
        return self.outcome == "stored"


def decide(fact: Mapping[str, Any], state: ConsentState, policy: Policy, now: datetime) -> Decision:
    """May `fact` (one fact of the extraction contract) be stored in the profile at `now`?

    A fact belongs to no channel, so for a per-channel purpose only a purpose-wide grant
    lets it in. Raises ValueError when `now` has no time zone.
    """
    _require_aware(now, "now")
    kind = fact.get("kind")
    if kind == "consent":
        return _blocked("consent_statement")
    if not isinstance(kind, str) or kind not in _KINDS:
        return _blocked("unknown_kind")
    if kind == "sensitive":
        category = fact.get("category")
        if category in SECRET_CATEGORIES:
            return _blocked("never_store_secret")
        if category not in SPECIAL_CATEGORIES:
            return _blocked("unknown_kind")
    name = policy.purpose_for(fact)
    if name is None:
        return _blocked("special_category" if kind == "sensitive" else "no_purpose")
    purpose = policy.purposes.get(name)
    if purpose is None:
        return _blocked("unknown_purpose", name)
    if kind == "sensitive" and not purpose.art9:
        # Policy validation already forbids this; a second lock costs nothing.
        return _blocked("special_category", name)
    return _enforce(purpose, None, state, now)


def may_use_channel(
    purpose: str, channel: str, state: ConsentState, policy: Policy, now: datetime
) -> Decision:
    """May the customer be contacted on `channel` for `purpose` at `now`?

    For a per-channel purpose (marketing) this needs a granted record for that channel, or
    a purpose-wide grant, in force and not overridden by a later withdrawal.
    """
    _require_aware(now, "now")
    declared = policy.purposes.get(purpose)
    if declared is None:
        return _blocked("unknown_purpose", purpose)
    if channel not in CHANNELS:
        return _blocked("unknown_channel", purpose, declared.lawful_basis)
    return _enforce(declared, channel, state, now)


def _enforce(purpose: Purpose, channel: str | None, state: ConsentState, now: datetime) -> Decision:
    name, basis = purpose.name, purpose.lawful_basis
    if purpose.enforcement == "never_store":
        return _blocked("never_store", name, basis)
    record = state.current(name, channel, now)
    if purpose.enforcement == "objectable":
        # Withdrawing "all" consents ends consent-based processing; an objection to
        # processing under legitimate interest or contract must name that purpose.
        if record is not None and record.purpose == ALL_PURPOSES:
            specific = ConsentState(tuple(r for r in state.records if r.purpose == name))
            record = specific.current(name, channel, now)
        if record is not None and record.status != "granted":
            return _blocked("objected", name, basis, record.id)
        return Decision("stored", name, basis, basis, None)
    if record is None:
        return _blocked("no_consent", name, basis)
    if record.status == "granted":
        return Decision("stored", name, basis, "consent_granted", record.id)
    return _blocked(_BLOCKED_BY[record.status], name, basis, record.id)


def _blocked(
    reason: str,
    purpose: str | None = None,
    lawful_basis: str | None = None,
    record_id: int | None = None,
) -> Decision:
    return Decision("blocked", purpose, lawful_basis, reason, record_id)


def _precedence(record: ConsentRecord) -> tuple[datetime, bool, bool, int]:
    # Later first; on a tie, fail closed (a refusal beats a grant), then the more specific.
    return (
        record.recorded_at,
        record.status != "granted",
        record.channel is not None,
        -1 if record.id is None else record.id,
    )


def _require_aware(value: datetime, name: str) -> None:
    # Comparing naive and aware datetimes raises deep inside a decision; say so up front.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, e.g. datetime.now(UTC)")
