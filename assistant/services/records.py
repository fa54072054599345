"""Rows the services share: the consent state, facts, decisions. Reads and writes
inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlite_utils

from ..consent import ConsentState
from ..domain.clock import iso
from ..domain.events import Event, removal_event_type
from ..domain.facts import fact_key, fact_view
from ..policy import Policy
from ..store.sqlite.db import row, rows
from ..store.sqlite.events import publish
from ..store.sqlite.store import SQLiteStore


def consent_state(db: sqlite_utils.Database, customer_id: str) -> ConsentState:
    return SQLiteStore(db).consent_state(customer_id)


def consent_ledger(db: sqlite_utils.Database, customer_id: str) -> list[dict[str, Any]]:
    out = rows(db, "SELECT * FROM consents WHERE customer_id = ? ORDER BY id", [customer_id])
    for r in out:
        r["evidence"] = json.loads(r["evidence"])
    return out


def fact_row(db: sqlite_utils.Database, fact_id: int) -> dict[str, Any]:
    """The stored row of a fact that is known to exist (re-read after a change)."""
    found = row(db, "SELECT * FROM facts WHERE id = ?", [fact_id])
    assert found is not None
    return found


def active_facts(db: sqlite_utils.Database, customer_id: str) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT * FROM facts WHERE customer_id = ? AND removed_at IS NULL "
        "AND superseded_by IS NULL ORDER BY id",
        [customer_id],
    )


def take_out(
    db: sqlite_utils.Database, fact: Mapping[str, Any], *, actor: str, at: datetime, reason: str
) -> None:
    """Take `fact` out of the profile (kept as history), with its event."""
    db.execute(
        "UPDATE facts SET removed_at = ?, removed_by = ?, removed_reason = ? WHERE id = ?",
        [iso(at), actor, reason, fact["id"]],
    )
    updated = fact_row(db, fact["id"])
    event = removal_event_type(str(fact["kind"]))
    publish(db, Event(event, fact["customer_id"], actor, iso(at), {"fact": fact_view(updated)}))


def record_decision(
    db: sqlite_utils.Database,
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
    cur = db.execute(
        "INSERT INTO decisions (customer_id, note_id, fact_kind, fact_key, outcome, purpose, "
        "lawful_basis, reason, consent_record_id, policy_version, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            customer_id,
            note_id,
            fact["kind"],
            fact_key(fact),
            outcome,
            purpose,
            lawful_basis,
            reason,
            consent_record_id,
            policy.version,
            at,
        ],
    )
    found = row(db, "SELECT * FROM decisions WHERE id = ?", [cur.lastrowid])
    assert found is not None
    return found
