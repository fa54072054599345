"""Data-subject rights: requests, erasure (Art. 17) and retention."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime
from typing import Any

import sqlite_utils

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
from ..store.sqlite import audit
from ..store.sqlite.db import checkpoint, row, rows, writing
from ..store.sqlite.events import publish
from .customers import get_customer, identities_of
from .records import consent_state

log = logging.getLogger(__name__)


def open_request(
    db: sqlite_utils.Database,
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
    with writing(db):
        get_customer(db, customer_id)
        owned = "SELECT id FROM facts WHERE id = ? AND customer_id = ?"
        if fact_id is not None and row(db, owned, [fact_id, customer_id]) is None:
            raise NotFound(f"fact {fact_id}")
        cur = db.execute(
            "INSERT INTO dsr (customer_id, kind, note_id, created_at, due_at, channel, fact_id, "
            "details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [customer_id, kind, note_id, iso(at), iso(at + DSR_DUE), channel, fact_id, details],
        )
        request = row(db, "SELECT * FROM dsr WHERE id = ?", [cur.lastrowid])
        assert request is not None
        publish(db, Event("dsr.created", customer_id, actor, iso(at), {"request": request}))
        audited: dict[str, Any] = {"dsr_id": request["id"], "kind": kind}
        if details:
            audited["details_digest"] = audit.keyed_digest(db, customer_id, details)
        audit.append(
            db, at=iso(at), actor=actor, action="dsr.created", subject=customer_id, details=audited
        )
    return request


def erase(
    db: sqlite_utils.Database, customer_id: str, *, actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """Art. 17: delete the customer's personal data everywhere, keep a tombstone."""
    at = now or utcnow()
    with writing(db):
        customer = get_customer(db, customer_id)
        idents = identities_of(db, customer_id)
        state = consent_state(db, customer_id)
        # Objections must survive erasure, or a re-imported contact would be marketed to.
        suppressed = suppressions(state)
        hashes = identity_hashes(customer, idents)
        db.execute(
            "INSERT INTO tombstones (customer_hash, identity_hashes, suppressions, erased_at) "
            "VALUES (?, ?, ?, ?)",
            [digest(customer_id), json.dumps(hashes), json.dumps(suppressed), iso(at)],
        )
        counts = {
            table: db.execute(
                f"SELECT count(*) FROM {table} WHERE customer_id = ?", [customer_id]
            ).fetchone()[0]
            for table in ERASED_TABLES
        }
        # Logged under her pseudonym while her key still exists; deleting her deletes
        # the key (subject_keys cascades): her entries are then nobody's.
        audit.append(
            db,
            at=iso(at),
            actor=actor,
            action="customer.erased",
            subject=customer_id,
            details={"counts": counts, "suppressions": len(suppressed)},
        )
        _forget_inbound(db, customer_id)
        db.execute("DELETE FROM events WHERE customer_id = ?", [customer_id])
        db.execute("DELETE FROM idempotency WHERE customer_id = ?", [customer_id])
        db.execute("DELETE FROM customers WHERE id = ?", [customer_id])  # cascades
        publish(db, Event("customer.erased", customer_id, actor, iso(at), {"counts": counts}))
        db.execute(
            "UPDATE dsr SET status = 'done', completed_at = ? WHERE customer_id = ? "
            "AND kind = 'erase'",
            [iso(at), customer_id],
        )
    # secure_delete zeroed the rows in the pages the transaction wrote; the -wal file
    # still holds those pages' earlier copies until a checkpoint truncates it.
    if not db.conn.in_transaction and not _checkpointed(db):
        log.warning(
            "erasure committed, but readers kept the -wal file from being truncated: "
            "earlier copies of its pages stay there until the next wal_checkpoint(TRUNCATE)"
        )
    return {"erased": True, "counts": counts, "suppressions": suppressed}


def _checkpointed(db: sqlite_utils.Database) -> bool:
    """`checkpoint`, after the erasure committed: a failure (a full disk) must not turn
    the committed erasure into an error answer."""
    try:
        return checkpoint(db)
    except sqlite3.Error:
        return False


def _forget_inbound(db: sqlite_utils.Database, customer_id: str) -> None:
    """Inbound messages about the customer keep neither their conversation (the CRM's
    or Chatwoot's id of her conversation) nor their delivery id."""
    for msg in rows(
        db,
        "SELECT id, source, message_id FROM webhook_inbox WHERE customer_id = ? "
        "AND message_id NOT LIKE 'erased:%'",
        [customer_id],
    ):
        db.execute(
            "UPDATE webhook_inbox SET message_id = ?, conversation = NULL, body = NULL, "
            "error = NULL WHERE id = ?",
            [erased_message_id(msg["source"], msg["message_id"]), msg["id"]],
        )


def purge(
    db: sqlite_utils.Database, policy: Policy, *, actor: str, now: datetime | None = None
) -> dict[str, int]:
    """Apply each purpose's time-to-live: facts and notes past retention are deleted."""
    at = now or utcnow()
    removed: dict[str, int] = {}
    with writing(db):
        for name, cutoff in retention_cutoffs(policy, at).items():
            cur = db.execute(
                "DELETE FROM facts WHERE purpose = ? AND created_at < ?", [name, iso(cutoff)]
            )
            removed[name] = cur.rowcount
        notes_before = note_cutoff(policy, at)
        if notes_before is not None:
            cur = db.execute(
                "DELETE FROM notes WHERE created_at < ? AND id NOT IN "
                "(SELECT note_id FROM facts WHERE note_id IS NOT NULL)",
                [iso(notes_before)],
            )
            removed["notes"] = cur.rowcount
        audit.append(
            db, at=iso(at), actor=actor, action="retention.purge", subject=None, details=removed
        )
    return removed
