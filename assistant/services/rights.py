"""Data-subject rights: requests, erasure (Art. 17) and retention."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ..domain.clock import iso, utcnow
from ..domain.errors import NotFound
from ..domain.events import Event
from ..domain.rights import (
    DSR_DUE,
    ERASED_TABLES,
    check_request_kind,
    digest,
    erased_message_id,
    identity_hashes,
    note_cutoff,
    retention_cutoffs,
    suppressions,
)
from ..policy import Policy
from .customers import get_customer, identities_of
from .records import Handle, store_of

log = logging.getLogger(__name__)


def open_request(
    db: Handle,
    customer_id: str,
    kind: str,
    *,
    actor: str,
    channel: str = "note",
    note_id: int | None = None,
    fact_id: int | None = None,
    details: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open a data-subject request (erasure, access or correction) due in a month, with
    its event and audit entry. `details` must already be redacted; the audit log keeps
    only its digest."""
    check_request_kind(kind)
    at = now or utcnow()
    store = store_of(db)
    with store.transaction():
        get_customer(db, customer_id)
        if fact_id is not None and store.customer_fact(customer_id, fact_id) is None:
            raise NotFound(f"fact {fact_id}")
        request = store.insert_request(
            {
                "customer_id": customer_id,
                "kind": kind,
                "note_id": note_id,
                "created_at": iso(at),
                "due_at": iso(at + DSR_DUE),
                "channel": channel,
                "fact_id": fact_id,
                "details": details,
            }
        )
        store.publish(Event("dsr.created", customer_id, actor, iso(at), {"request": request}))
        audited: dict[str, Any] = {"dsr_id": request["id"], "kind": kind}
        if details:
            audited["details_digest"] = store.keyed_digest(customer_id, details)
        store.audit(
            at=iso(at), actor=actor, action="dsr.created", subject=customer_id, details=audited
        )
    return request


def erase(
    db: Handle, customer_id: str, *, actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """Art. 17: delete the customer's personal data everywhere, keep a tombstone."""
    at = now or utcnow()
    store = store_of(db)
    with store.transaction():
        customer = get_customer(db, customer_id)
        idents = identities_of(db, customer_id)
        state = store.consent_state(customer_id)
        # Objections must survive erasure, or a re-imported contact would be marketed to.
        suppressed = suppressions(state)
        hashes = identity_hashes(customer, idents)
        store.insert_tombstone(digest(customer_id), hashes, suppressed, iso(at))
        counts = store.count_rows(customer_id, ERASED_TABLES)
        # Logged under her pseudonym while her key still exists; deleting her deletes
        # the key (subject_keys cascades): her entries are then nobody's.
        store.audit(
            at=iso(at),
            actor=actor,
            action="customer.erased",
            subject=customer_id,
            details={"counts": counts, "suppressions": len(suppressed)},
        )
        # Inbound messages about her keep neither their conversation (the CRM's or
        # Chatwoot's id of her conversation) nor their delivery id.
        store.forget_inbound(customer_id, erased_message_id)
        store.delete_customer(customer_id)
        store.publish(Event("customer.erased", customer_id, actor, iso(at), {"counts": counts}))
        store.complete_requests(customer_id, "erase", iso(at))
    if not store.scrub():
        log.warning(
            "erasure committed, but earlier copies of the erased rows stay in the "
            "database's files for now (SQLite: readers kept the -wal file from being "
            "truncated, until the next wal_checkpoint(TRUNCATE); PostgreSQL: VACUUM failed "
            "or an older snapshot kept it from removing them, until autovacuum does)"
        )
    return {"erased": True, "counts": counts, "suppressions": suppressed}


def purge(db: Handle, policy: Policy, *, actor: str, now: datetime | None = None) -> dict[str, int]:
    """Apply each purpose's time-to-live: facts and notes past retention are deleted."""
    at = now or utcnow()
    removed: dict[str, int] = {}
    store = store_of(db)
    with store.transaction():
        for name, cutoff in retention_cutoffs(policy, at).items():
            removed[name] = store.purge_facts(name, iso(cutoff))
        notes_before = note_cutoff(policy, at)
        if notes_before is not None:
            removed["notes"] = store.purge_notes(iso(notes_before))
        store.audit(
            at=iso(at), actor=actor, action="retention.purge", subject=None, details=removed
        )
    return removed
