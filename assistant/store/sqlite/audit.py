"""Append-only audit log, hash-chained: editing or deleting a row breaks the chain.

Audit details never hold personal data (no names, no note text, no free-text reasons):
ids of rows, actions, keyed digests. The subject, the customer concerned, is stored as
a pseudonym: an HMAC of her id under a key of her own (`subject_keys`), deleted with
her at erasure. The entries stay, the chain still verifies, and nobody can tell any
more whose they were (crypto-shredding; docs/erasure.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from ..audit_chain import GENESIS, digest
from .db import row, rows


def _subject_key(db: sqlite_utils.Database, customer_id: str, *, create: bool) -> bytes | None:
    found = row(db, "SELECT key FROM subject_keys WHERE customer_id = ?", [customer_id])
    if found is not None:
        return bytes(found["key"])
    if not create:
        return None
    key = secrets.token_bytes(32)
    if row(db, "SELECT 1 AS known FROM customers WHERE id = ?", [customer_id]) is not None:
        db.execute(
            "INSERT INTO subject_keys (customer_id, key, created_at) VALUES (?, ?, ?)",
            [customer_id, key, datetime.now(UTC).isoformat()],
        )
    # else no customer (any more): a key nobody keeps, so the subject links to nothing
    return key


def _pseudonym(key: bytes, customer_id: str) -> str:
    return "hmac:" + hmac.new(key, customer_id.encode("utf-8"), hashlib.sha256).hexdigest()


def subject_of(db: sqlite_utils.Database, customer_id: str) -> str | None:
    """The pseudonym under which `customer_id`'s entries are logged, to find them; None
    once she is erased (her key is gone)."""
    key = _subject_key(db, customer_id, create=False)
    return None if key is None else _pseudonym(key, customer_id)


def keyed_digest(db: sqlite_utils.Database, customer_id: str, text: str) -> str:
    """A digest of free text about `customer_id` (a removal reason) for the log: proves
    what was written while she exists, means nothing once her key is gone."""
    key = _subject_key(db, customer_id, create=True)
    assert key is not None
    return hmac.new(key, b"text:" + text.encode("utf-8"), hashlib.sha256).hexdigest()


def append(
    db: sqlite_utils.Database,
    *,
    at: str,
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any] | None = None,
) -> int:
    """Add one entry chained to the last one; call inside the write transaction.

    `subject` is the id of the customer concerned, if any: it is stored as her
    pseudonym (see the module's docstring), never in clear.
    """
    if subject is not None:
        key = _subject_key(db, subject, create=True)
        assert key is not None
        subject = _pseudonym(key, subject)
    last = row(db, "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
    prev_hash = last["hash"] if last else GENESIS
    body = json.dumps(details or {}, sort_keys=True, ensure_ascii=True)
    cur = db.execute(
        "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            at,
            actor,
            action,
            subject,
            body,
            prev_hash,
            digest(prev_hash, at, actor, action, subject, body),
        ],
    )
    return int(cur.lastrowid or 0)


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    entries: int
    first_bad_id: int | None = None
    problem: str | None = None


def verify(db: sqlite_utils.Database) -> Verification:
    """Recompute the chain; report the first row that was edited, deleted or inserted."""
    prev = GENESIS
    count = 0
    last_id = 0
    for entry in rows(db, "SELECT * FROM audit_log ORDER BY id"):
        count += 1
        if entry["prev_hash"] != prev:
            return Verification(False, count, entry["id"], "previous entry missing or changed")
        expected = digest(
            prev, entry["at"], entry["actor"], entry["action"], entry["subject"], entry["details"]
        )
        if entry["hash"] != expected:
            return Verification(False, count, entry["id"], "entry content changed")
        prev = entry["hash"]
        last_id = entry["id"]
    seq = row(db, "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'")
    if seq is not None and seq["seq"] > last_id:
        return Verification(False, count, last_id + 1, "latest entries deleted")
    return Verification(True, count)
