"""The write path: a note in, the lawful facts stored.

`save_note` is what every caller (API, sidebar, CLI) uses: the extraction (the slow
part) runs outside the write transaction, then `ingest_note` carries out the note's
plan (`assistant.domain.notes.plan_note`) inside it, together with its decisions, its
audit entry and its events, so that nothing is half-written and every consumer sees it.
The raw text never reaches the database: only the redacted text, and evidence is
re-based onto it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, overload

from nlp import ExtractionResult, Extractor

from ..domain.clock import iso, utcnow
from ..domain.errors import ProfileError
from ..domain.events import Event
from ..domain.facts import Supersession, fact_view
from ..domain.notes import PROPOSE, REQUEST, STORE, WITHDRAW, PlannedFact, plan_note
from ..policy import Policy
from .consent_ledger import record_consent
from .customers import get_customer
from .records import Handle, fact_row, record_decision, store_of
from .rights import open_request


def check_note(extractor: Extractor, text: str) -> None:
    """ProfileError 400 on a note without text; the extractor's own limits (size)."""
    extractor.check(text)
    if not text.strip():
        raise ProfileError(400, "empty_text", "the note has no text")


@overload
def save_note(
    db: Handle,
    extractor: Extractor,
    policy: Policy,
    customer_id: str,
    text: str,
    *,
    agent: str,
    source: str = ...,
    extract: Callable[[str], ExtractionResult] | None = ...,
    before: None = ...,
    after: Callable[[dict[str, Any]], None] | None = ...,
    now: datetime | None = ...,
) -> dict[str, Any]: ...


@overload
def save_note(
    db: Handle,
    extractor: Extractor,
    policy: Policy,
    customer_id: str,
    text: str,
    *,
    agent: str,
    source: str = ...,
    extract: Callable[[str], ExtractionResult] | None = ...,
    before: Callable[[], bool],
    after: Callable[[dict[str, Any]], None] | None = ...,
    now: datetime | None = ...,
) -> dict[str, Any] | None: ...


def save_note(
    db: Handle,
    extractor: Extractor,
    policy: Policy,
    customer_id: str,
    text: str,
    *,
    agent: str,
    source: str = "agent",
    extract: Callable[[str], ExtractionResult] | None = None,
    before: Callable[[], bool] | None = None,
    after: Callable[[dict[str, Any]], None] | None = None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Store one note: extracted outside the write transaction (other writers do not
    wait for the model), decided and stored inside it. Returns what `ingest_note`
    returns.

    `extract`: how to extract (default `extractor.extract`; the API queues it under its
    extraction limits, the sidebar keeps only the ticked facts). `before`, inside the
    transaction before the note is stored: True stops the save (the API's idempotent
    replay) and None is returned. `after`, inside the same transaction, gets what was
    stored (the API's idempotency record, the sidebar's audit of unticked facts).
    """
    check_note(extractor, text)
    result = (extract or extractor.extract)(text)
    with store_of(db).transaction():
        if before is not None and before():
            return None
        stored = ingest_note(
            db,
            extractor,
            policy,
            customer_id,
            text,
            agent=agent,
            source=source,
            result=result,
            now=now,
        )
        if after is not None:
            after(stored)
    return stored


def ingest_note(
    db: Handle,
    extractor: Extractor,
    policy: Policy,
    customer_id: str,
    text: str,
    *,
    agent: str,
    source: str = "agent",
    result: ExtractionResult | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Extract (unless `result` is given), decide and store one note in the caller's
    transaction (or its own); returns the stored note, facts and decisions."""
    check_note(extractor, text)
    if result is None:
        result = extractor.extract(text)
    at = now or utcnow()
    stamp = iso(at)
    stored: list[dict[str, Any]] = []
    decisions: list[dict[str, Any]] = []
    proposals: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    store = store_of(db)
    with store.transaction():
        get_customer(db, customer_id)
        state = store.consent_state(customer_id)
        plan = plan_note(result, state, policy, at, customer_id=customer_id)
        note_id = store.insert_note(customer_id, agent, source, result.redacted_text, stamp)
        recorded: dict[int, int] = {}  # the plan's placeholder ids -> the ledger's ids
        for step in plan.facts:
            decision = step.decision
            record_id = decision.consent_record_id
            decisions.append(
                record_decision(
                    db,
                    customer_id,
                    note_id,
                    step.contract,
                    decision.outcome,
                    decision.purpose,
                    decision.lawful_basis,
                    decision.reason,
                    recorded.get(record_id, record_id) if record_id is not None else None,
                    policy,
                    stamp,
                )
            )
            if step.action == WITHDRAW:
                record = record_consent(
                    db,
                    policy,
                    customer_id,
                    purpose=str(step.contract["purpose"]),
                    channel=step.contract.get("channel"),
                    status="withdrawn",
                    actor=agent,
                    source="agent",
                    method="note",
                    evidence={"agent": agent, "note_id": note_id, "text": step.evidence["text"]},
                    now=at,
                )
                if step.withdrawal_id is not None:
                    recorded[step.withdrawal_id] = int(record["id"])
            elif step.action == PROPOSE:
                proposals.append(_propose(db, customer_id, note_id, step, agent=agent, at=at))
            elif step.action == REQUEST:
                action = str(step.contract["action"])
                requests.append(
                    open_request(db, customer_id, action, actor=agent, note_id=note_id, now=at)
                )
            elif step.action == STORE:
                stored.append(
                    _store_fact(
                        db,
                        extractor,
                        customer_id,
                        note_id,
                        step,
                        decisions[-1]["id"],
                        agent=agent,
                        at=at,
                    )
                )
        # A withdrawal later in the same note may have taken earlier facts out again.
        stored = [fact_view(fact_row(db, f["id"])) for f in stored]
        store.audit(
            at=stamp,
            actor=agent,
            action="note.ingested",
            subject=customer_id,
            details={
                "note_id": note_id,
                "stored": [f["id"] for f in stored],
                "blocked": sum(1 for d in decisions if d["outcome"] == "blocked"),
            },
        )
    return {
        "note": {
            "id": note_id,
            "customer_id": customer_id,
            "agent": agent,
            "source": source,
            "redacted_text": result.redacted_text,
            "created_at": stamp,
        },
        "facts": stored,
        "decisions": decisions,
        "consent_proposals": proposals,
        "requests": requests,
    }


def _store_fact(
    db: Handle,
    extractor: Extractor,
    customer_id: str,
    note_id: int,
    step: PlannedFact,
    decision_id: int,
    *,
    agent: str,
    at: datetime,
) -> dict[str, Any]:
    attrs, evidence, contract = step.attrs, step.evidence, step.contract
    store = store_of(db)
    fact_id = store.insert_fact(
        {
            "customer_id": customer_id,
            "note_id": note_id,
            "kind": str(contract["kind"]),
            "field": attrs.get("field"),
            "value": None if attrs.get("value") is None else str(attrs.get("value")),
            "polarity": attrs.get("polarity"),
            "category": attrs.get("category"),
            "status": attrs.get("status"),
            "attrs": attrs,
            "evidence_start": evidence["start"],
            "evidence_end": evidence["end"],
            "evidence_text": evidence["text"],
            "extractor": "trustline-rules",
            "model_version": f"{extractor.model_name}-{extractor.model_version}",
            "confidence": float(contract.get("confidence", 0.0)),
            "agent": agent,
            "purpose": step.decision.purpose or "",
            "lawful_basis": step.decision.lawful_basis or "",
            "decision_id": decision_id,
            "created_at": iso(at),
        }
    )
    if step.supersedes is not None:
        _supersede(db, customer_id, fact_id, step.supersedes, note_id, agent=agent, at=at)
    view = fact_view(fact_row(db, fact_id))
    event_type = step.event_type
    assert event_type is not None
    store.publish(Event(event_type, customer_id, agent, iso(at), {"fact": view}))
    return view


def _supersede(
    db: Handle,
    customer_id: str,
    fact_id: int,
    rule: Supersession,
    note_id: int,
    *,
    agent: str,
    at: datetime,
) -> None:
    """Older facts on the same preference step aside (kept as history)."""
    store = store_of(db)
    for old in store.superseded_by(customer_id, rule, fact_id, note_id):
        store.mark_superseded(old["id"], fact_id, iso(at))
        store.publish(
            Event(
                "profile.preference.removed",
                customer_id,
                agent,
                iso(at),
                {"fact": fact_view(fact_row(db, old["id"])), "superseded_by": fact_id},
            ),
        )


def _propose(
    db: Handle,
    customer_id: str,
    note_id: int,
    step: PlannedFact,
    *,
    agent: str,
    at: datetime,
) -> dict[str, Any]:
    """A grant found in a note waits for the agent's confirmation, with an event so that
    open sidebars (and CRMs) see the consent waiting to be confirmed."""
    fact, store = step.contract, store_of(db)
    proposal = store.insert_proposal(
        customer_id, note_id, fact["purpose"], fact.get("channel"), step.evidence["text"], iso(at)
    )
    store.publish(Event("consent.proposed", customer_id, agent, iso(at), {"proposal": proposal}))
    return proposal
