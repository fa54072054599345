"""The consent ledger: appending records (a withdrawal takes dependent facts out at
once) and confirming the grants found in notes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlite_utils

from ..consent import decide
from ..domain.clock import iso, utcnow
from ..domain.consent_ledger import already_granted, check_consent, check_wording, lawful_basis
from ..domain.errors import NotFound, ProfileError
from ..domain.events import Event
from ..domain.facts import contract_fact
from ..policy import Policy
from ..store.sqlite import audit
from ..store.sqlite.db import row, rows, writing
from ..store.sqlite.events import publish
from .customers import get_customer
from .records import active_facts, consent_state, take_out


def record_consent(
    db: sqlite_utils.Database,
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
    with writing(db):
        get_customer(db, customer_id)
        cur = db.execute(
            "INSERT INTO consents (customer_id, purpose, channel, status, lawful_basis, source, "
            "method, evidence, effective_from, effective_to, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                customer_id,
                purpose,
                channel,
                status,
                lawful_basis(policy, purpose),
                source,
                method,
                json.dumps(dict(evidence)),
                iso(effective_from or at),
                iso(effective_to) if effective_to else None,
                iso(at),
            ],
        )
        consent_id = int(cur.lastrowid or 0)
        record = row(db, "SELECT * FROM consents WHERE id = ?", [consent_id])
        assert record is not None
        record["evidence"] = json.loads(record["evidence"])
        publish(
            db,
            Event(
                "consent.changed",
                customer_id,
                actor,
                iso(at),
                {"consent": record},
            ),
        )
        audit.append(
            db,
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
    db: sqlite_utils.Database, policy: Policy, customer_id: str, consent_id: int, at: datetime
) -> None:
    """Proposals the new grant answers are not asked again ("consent to confirm" beside
    "granted" would be two truths): they are closed as `granted`, naming the record."""
    state = consent_state(db, customer_id)
    for proposal in rows(
        db,
        "SELECT * FROM consent_proposals WHERE customer_id = ? AND status = 'pending'",
        [customer_id],
    ):
        if already_granted(state, policy, proposal, at):
            db.execute(
                "UPDATE consent_proposals SET status = 'granted', consent_id = ? WHERE id = ?",
                [consent_id, proposal["id"]],
            )


def apply_withdrawal(
    db: sqlite_utils.Database, policy: Policy, customer_id: str, *, actor: str, at: datetime
) -> None:
    """Take out of the profile every active fact the consent state no longer allows."""
    state = consent_state(db, customer_id)
    for fact in active_facts(db, customer_id):
        decision = decide(contract_fact(fact), state, policy, at)
        if not decision.allowed:
            take_out(db, fact, actor=actor, at=at, reason=f"consent: {decision.reason}")


def confirm_proposal(
    db: sqlite_utils.Database,
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
    proposal = row(
        db,
        "SELECT * FROM consent_proposals WHERE id = ? AND customer_id = ?",
        [proposal_id, customer_id],
    )
    if proposal is None:
        raise NotFound(f"consent proposal {proposal_id}")
    if proposal["status"] != "pending":
        raise ProfileError(
            409, "proposal_closed", f"proposal {proposal_id} is {proposal['status']}"
        )
    check_wording(policy, str(proposal["purpose"]), wording, wording_version)
    with writing(db):
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
        db.execute(
            "UPDATE consent_proposals SET status = 'confirmed', consent_id = ? WHERE id = ?",
            [record["id"], proposal_id],
        )
    return record
