"""The consent ledger: appending records (a withdrawal takes dependent facts out at
once) and confirming the grants found in notes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..consent import decide
from ..domain.clock import iso, utcnow
from ..domain.consent_ledger import already_granted, check_consent, check_wording, lawful_basis
from ..domain.errors import NotFound, ProfileError
from ..domain.events import Event
from ..domain.facts import contract_fact
from ..policy import Policy
from .customers import get_customer
from .records import Handle, active_facts, consent_state, store_of, take_out


def record_consent(
    db: Handle,
    policy: Policy,
    customer_id: str,
    *,
    purpose: str,
    status: str,
    actor: str,
    source: str,
    method: str,
    evidence: Mapping[str, Any],
    channel: str | None = None,
    effective_from: datetime | None = None,
    effective_to: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Append a consent record; a withdrawal takes dependent facts out at once."""
    check_consent(policy, purpose, status)
    at = now or utcnow()
    store = store_of(db)
    with store.transaction():
        get_customer(db, customer_id)
        record = store.insert_consent(
            {
                "customer_id": customer_id,
                "purpose": purpose,
                "channel": channel,
                "status": status,
                "lawful_basis": lawful_basis(policy, purpose),
                "source": source,
                "method": method,
                "evidence": evidence,
                "effective_from": iso(effective_from or at),
                "effective_to": iso(effective_to) if effective_to else None,
                "recorded_at": iso(at),
            }
        )
        consent_id = int(record["id"])
        store.publish(Event("consent.changed", customer_id, actor, iso(at), {"consent": record}))
        store.audit(
            at=iso(at),
            actor=actor,
            action=f"consent.{status}",
            subject=customer_id,
            details={"consent_id": consent_id, "purpose": purpose, "channel": channel},
        )
        if status != "granted":
            apply_withdrawal(db, policy, customer_id, actor=actor, at=at)
        else:
            close_granted_proposals(db, policy, customer_id, consent_id, at)
    return record


def close_granted_proposals(
    db: Handle, policy: Policy, customer_id: str, consent_id: int, at: datetime
) -> None:
    """Proposals the new grant answers are not asked again ("consent to confirm" beside
    "granted" would be two truths): they are closed as `granted`, naming the record."""
    store = store_of(db)
    state = store.consent_state(customer_id)
    for proposal in store.pending_proposals(customer_id):
        if already_granted(state, policy, proposal, at):
            store.close_proposal(proposal["id"], "granted", consent_id)


def apply_withdrawal(
    db: Handle, policy: Policy, customer_id: str, *, actor: str, at: datetime
) -> None:
    """Take out of the profile every active fact the consent state no longer allows."""
    state = consent_state(db, customer_id)
    for fact in active_facts(db, customer_id):
        decision = decide(contract_fact(fact), state, policy, at)
        if not decision.allowed:
            take_out(db, fact, actor=actor, at=at, reason=f"consent: {decision.reason}")


def confirm_proposal(
    db: Handle,
    policy: Policy,
    customer_id: str,
    proposal_id: int,
    *,
    actor: str,
    wording: str,
    wording_version: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Turn a grant found in a note into a consent record, with the wording as evidence."""
    store = store_of(db)
    proposal = store.proposal(customer_id, proposal_id)
    if proposal is None:
        raise NotFound(f"consent proposal {proposal_id}")
    if proposal["status"] != "pending":
        raise ProfileError(
            409, "proposal_closed", f"proposal {proposal_id} is {proposal['status']}"
        )
    check_wording(policy, str(proposal["purpose"]), wording, wording_version)
    with store.transaction():
        record = record_consent(
            db,
            policy,
            customer_id,
            purpose=proposal["purpose"],
            channel=proposal["channel"],
            status="granted",
            actor=actor,
            source="agent",
            method="verbal",
            evidence={
                "agent": actor,
                "note_id": proposal["note_id"],
                "wording": wording,
                "wording_version": wording_version,
            },
            now=now,
        )
        store.close_proposal(proposal_id, "confirmed", int(record["id"]))
    return record
