"""Correcting the profile: removing and correcting facts, resolving complaints."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..consent import decide
from ..domain.clock import iso, utcnow
from ..domain.errors import NotFound, ProfileError
from ..domain.events import Event, fact_event_type, removal_event_type
from ..domain.facts import check_complaint_status, check_removal_reason, corrected_attrs, fact_view
from ..policy import Policy
from .records import Handle, consent_state, fact_row, record_decision, store_of, take_out


def remove_fact(
    db: Handle,
    customer_id: str,
    fact_id: int,
    *,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Correct the profile: take a fact out (history kept), with the reason audited."""
    check_removal_reason(reason)
    at = now or utcnow()
    store = store_of(db)
    with store.transaction():
        fact = store.customer_fact(customer_id, fact_id)
        if fact is None:
            raise NotFound(f"fact {fact_id}")
        if fact["removed_at"]:
            raise ProfileError(409, "already_removed", f"fact {fact_id} was already removed")
        take_out(db, fact, actor=actor, at=at, reason=reason)
        store.audit(
            at=iso(at),
            actor=actor,
            action="fact.removed",
            subject=customer_id,
            # The reason itself is kept with the fact (erasable), only its digest here.
            details={
                "fact_id": fact_id,
                "reason_digest": store.keyed_digest(customer_id, reason),
            },
        )
        updated = fact_row(db, fact_id)
    return fact_view(updated)


def correct_fact(
    db: Handle,
    policy: Policy,
    customer_id: str,
    fact_id: int,
    changes: Mapping[str, str],
    *,
    actor: str,
    reason: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Correct a fact's value: a new fact, with its own provenance (the correcting agent,
    the time, a decision against the consent state), supersedes the old one (history
    kept), audited and published in one transaction. Returns the new fact.

    `changes`: for a preference `value` (and `polarity`), for a complaint `category`
    (and `severity`). ProfileError 400 on anything else or on no change; 409 when the
    fact is no longer in the profile or the policy would not store the corrected fact.
    """
    at = now or utcnow()
    store = store_of(db)
    with store.transaction():
        fact = store.customer_fact(customer_id, fact_id)
        if fact is None:
            raise NotFound(f"fact {fact_id}")
        if fact["removed_at"] or fact["superseded_by"]:
            raise ProfileError(409, "fact_not_current", f"fact {fact_id} is no longer shown")
        corrected = corrected_attrs(fact, changes)
        contract = {"kind": fact["kind"], **corrected}
        decision = decide(contract, consent_state(db, customer_id), policy, at)
        if not decision.allowed:
            raise ProfileError(
                409, "not_allowed", f"the corrected fact may not be stored ({decision.reason})"
            )
        recorded = record_decision(
            db,
            customer_id,
            fact["note_id"],
            contract,
            decision.outcome,
            decision.purpose,
            decision.lawful_basis,
            decision.reason,
            decision.consent_record_id,
            policy,
            iso(at),
        )
        new_id = store.insert_fact(
            {
                "customer_id": customer_id,
                "note_id": fact["note_id"],
                "kind": fact["kind"],
                "field": corrected.get("field"),
                "value": corrected.get("value"),
                "polarity": corrected.get("polarity"),
                "category": corrected.get("category"),
                "status": fact["status"],
                "attrs": corrected,
                "evidence_start": fact["evidence_start"],
                "evidence_end": fact["evidence_end"],
                "evidence_text": fact["evidence_text"],
                "extractor": "correction",
                "model_version": f"corrects-{fact_id}",
                "confidence": 1.0,
                "agent": actor,
                "purpose": decision.purpose,
                "lawful_basis": decision.lawful_basis,
                "decision_id": recorded["id"],
                "created_at": iso(at),
            }
        )
        store.mark_superseded(fact_id, new_id, iso(at))
        kind = str(fact["kind"])
        old_view = fact_view(fact_row(db, fact_id))
        new_view = fact_view(fact_row(db, new_id))
        store.publish(
            Event(
                removal_event_type(kind),
                customer_id,
                actor,
                iso(at),
                {"fact": old_view, "superseded_by": new_id},
            ),
        )
        store.publish(
            Event(fact_event_type(kind, "added"), customer_id, actor, iso(at), {"fact": new_view}),
        )
        details: dict[str, Any] = {
            "fact_id": fact_id,
            "corrected_by": new_id,
            "keys": sorted(changes),
        }
        if reason.strip():
            details["reason_digest"] = store.keyed_digest(customer_id, reason)
        store.audit(
            at=iso(at),
            actor=actor,
            action="fact.corrected",
            subject=customer_id,
            details=details,
        )
    return new_view


def set_complaint_status(
    db: Handle,
    customer_id: str,
    fact_id: int,
    status: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Mark a complaint resolved (or re-open it)."""
    check_complaint_status(status)
    at = now or utcnow()
    store = store_of(db)
    with store.transaction():
        fact = store.customer_fact(customer_id, fact_id, kind="complaint")
        if fact is None:
            raise NotFound(f"complaint {fact_id}")
        if fact["removed_at"]:
            raise ProfileError(409, "fact_removed", f"complaint {fact_id} was removed")
        attrs = json.loads(fact["attrs"])
        attrs["status"] = status
        store.update_status(fact_id, status, attrs, iso(at))
        updated = fact_row(db, fact_id)
        store.publish(
            Event(
                "profile.complaint.updated",
                customer_id,
                actor,
                iso(at),
                {"fact": fact_view(updated)},
            ),
        )
        store.audit(
            at=iso(at),
            actor=actor,
            action="complaint.status",
            subject=customer_id,
            details={"fact_id": fact_id, "status": status},
        )
    return fact_view(updated)
