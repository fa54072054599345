"""What the services share: the store of a handle, the consent state, facts, decisions.
Reads and writes inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlite_utils

from ..consent import ConsentState
from ..domain.clock import iso
from ..domain.events import Event, removal_event_type
from ..domain.facts import fact_key, fact_view
from ..policy import Policy
from ..store.interface import Store
from ..store.sqlite.store import SQLiteStore

# What the services take: a store (`assistant.store.interface.Store`, e.g. PostgreSQL's),
# or a sqlite-utils handle, which they wrap in the SQLite store (most callers still pass
# one).
Handle = sqlite_utils.Database | Store


def store_of(db: Handle) -> Store:
    """The store over the caller's handle: a sqlite-utils handle wrapped in the SQLite
    store (the SQL is the store's), a store as it is."""
    if isinstance(db, sqlite_utils.Database):
        return SQLiteStore(db)
    return db


def consent_state(db: Handle, customer_id: str) -> ConsentState:
    return store_of(db).consent_state(customer_id)


def consent_ledger(db: Handle, customer_id: str) -> list[dict[str, Any]]:
    return store_of(db).consent_ledger(customer_id)


def fact_row(db: Handle, fact_id: int) -> dict[str, Any]:
    """The stored row of a fact that is known to exist (re-read after a change)."""
    found = store_of(db).fact(fact_id)
    assert found is not None
    return found


def active_facts(db: Handle, customer_id: str) -> list[dict[str, Any]]:
    return store_of(db).active_facts(customer_id)


def take_out(db: Handle, fact: Mapping[str, Any], *, actor: str, at: datetime, reason: str) -> None:
    """Take `fact` out of the profile (kept as history), with its event."""
    store = store_of(db)
    store.mark_removed(fact["id"], iso(at), actor, reason)
    updated = fact_row(db, fact["id"])
    event = removal_event_type(str(fact["kind"]))
    store.publish(Event(event, fact["customer_id"], actor, iso(at), {"fact": fact_view(updated)}))


def record_decision(
    db: Handle,
    customer_id: str,
    note_id: int | None,
    fact: Mapping[str, Any],
    outcome: str,
    purpose: str | None,
    lawful_basis: str | None,
    reason: str,
    consent_record_id: int | None,
    policy: Policy,
    at: str,
) -> dict[str, Any]:
    return store_of(db).insert_decision(
        {
            "customer_id": customer_id,
            "note_id": note_id,
            "fact_kind": fact["kind"],
            "fact_key": fact_key(fact),
            "outcome": outcome,
            "purpose": purpose,
            "lawful_basis": lawful_basis,
            "reason": reason,
            "consent_record_id": consent_record_id,
            "policy_version": policy.version,
            "created_at": at,
        }
    )
