"""Notes: what storing one note does, decided once.

`plan_note` is the write path's decision loop, pure: for each fact of the extraction
result, in the note's order, what the policy decides against the consent state and
what saving does with it. A withdrawal in the note applies to the facts after it, as
the save (which records it in the ledger first) does. The sidebar's preview shows this
plan as chips; `assistant.services.notes` carries it out through the store.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nlp import ExtractionResult, Fact
from nlp.redaction import sensitive_spans, to_redacted

from ..consent import ConsentState, decide
from ..policy import Policy
from .consent_ledger import already_granted, withdrawal_from_note
from .events import fact_event_type
from .facts import PROFILE_KINDS, Supersession, fact_attrs, supersession

# What saving does with a fact.
STORE = "store"  # a preference or complaint the policy allows: stored in the profile
SKIP = "skip"  # decided and the decision recorded, nothing stored
WITHDRAW = "withdraw"  # a withdrawal: appended to the consent ledger at once
PROPOSE = "propose"  # a grant: a proposal waiting for the agent's confirmation
ALREADY_GRANTED = "already_granted"  # a grant the ledger already holds: nothing to ask
REQUEST = "request"  # "erase my data" and the like: a data-subject request
ACTIONS = (STORE, SKIP, WITHDRAW, PROPOSE, ALREADY_GRANTED, REQUEST)

RECORDED = "recorded"  # the decision outcome of a consent statement (the ledger's)


@dataclass(frozen=True, slots=True)
class PlannedDecision:
    """The row the decisions table gets for one fact."""

    outcome: str  # "stored", "blocked" (decide's outcomes) or "recorded"
    purpose: str | None
    lawful_basis: str | None
    reason: str
    consent_record_id: int | None  # may be a placeholder: see NotePlan.placeholders

    @property
    def allowed(self) -> bool:
        return self.outcome == "stored"


@dataclass(frozen=True, slots=True)
class PlannedFact:
    """One fact of the note, what the policy decides and what saving does."""

    fact: Fact
    contract: Mapping[str, Any]  # the fact in the extraction contract's shape
    attrs: Mapping[str, Any]  # its own keys (no kind, evidence, confidence)
    evidence: Mapping[str, Any]  # start, end, text: on the redacted text
    decision: PlannedDecision
    action: str
    kept: bool  # False: left out by the agent (a preview), nothing carried out
    supersedes: Supersession | None  # a stored preference: the older ones it replaces
    withdrawal_id: int | None  # WITHDRAW: the placeholder id of its ledger record

    @property
    def event_type(self) -> str | None:
        """The event storing this fact publishes (a withdrawal's and a proposal's come
        from the ledger)."""
        return fact_event_type(self.fact.kind, "added") if self.action == STORE else None


@dataclass(frozen=True, slots=True)
class NotePlan:
    redacted_text: str
    facts: tuple[PlannedFact, ...]

    @property
    def stored(self) -> tuple[PlannedFact, ...]:
        return tuple(f for f in self.facts if f.action == STORE and f.kept)

    @property
    def placeholders(self) -> tuple[int, ...]:
        """The ids the plan gave the withdrawals it applied to the later facts'
        consent state (higher than any id of the state read, so that they rank as the
        records the save appends will): the save replaces them by the records' ids."""
        return tuple(f.withdrawal_id for f in self.facts if f.withdrawal_id is not None and f.kept)


def plan_note(
    result: ExtractionResult,
    consent_state: ConsentState,
    policy: Policy,
    now: datetime,
    *,
    customer_id: str,
    left_out: Collection[int] = (),
) -> NotePlan:
    """The plan of storing `result` for `customer_id` at `now`. Pure.

    `left_out`: indices of facts the agent unticked (a preview shows what they would
    have been; their withdrawals do not apply to later facts).
    """
    masked = sensitive_spans(result.facts)
    state = consent_state
    next_id = max((r.id for r in state.records if r.id is not None), default=0) + 1
    planned: list[PlannedFact] = []
    for index, fact in enumerate(result.facts):
        kept = index not in left_out
        contract = fact.to_dict()
        start, end = to_redacted(fact.evidence.start, fact.evidence.end, masked)
        evidence = {"start": start, "end": end, "text": result.redacted_text[start:end]}
        attrs = fact_attrs(contract)
        withdrawal_id: int | None = None
        supersedes: Supersession | None = None
        if fact.kind == "consent":
            statement = str(contract["action"])
            decision = PlannedDecision(RECORDED, None, None, f"consent_{statement}", None)
            if statement == "withdraw":
                action = WITHDRAW
                purpose = str(fact.attrs.get("purpose") or "")
                if kept and purpose:
                    withdrawal_id, next_id = next_id, next_id + 1
                    record = withdrawal_from_note(
                        policy,
                        customer_id,
                        purpose,
                        fact.attrs.get("channel"),
                        now,
                        record_id=withdrawal_id,
                    )
                    state = ConsentState((*state.records, record))
            elif statement == "grant":
                granted = already_granted(state, policy, contract, now)
                action = ALREADY_GRANTED if granted else PROPOSE
            else:
                action = REQUEST
        else:
            decided = decide(contract, state, policy, now)
            decision = PlannedDecision(
                decided.outcome,
                decided.purpose,
                decided.lawful_basis,
                decided.reason,
                decided.consent_record_id,
            )
            action = STORE if decided.allowed and fact.kind in PROFILE_KINDS else SKIP
            if action == STORE and fact.kind == "preference":
                supersedes = supersession(attrs)
        planned.append(
            PlannedFact(
                fact,
                contract,
                attrs,
                evidence,
                decision,
                action,
                kept,
                supersedes,
                withdrawal_id,
            )
        )
    return NotePlan(result.redacted_text, tuple(planned))
