"""The hash-chained audit log on PostgreSQL: the same entries and digests as SQLite's
(assistant/store/audit.py), so a chain copied from SQLite verifies here unchanged.

One chain across hosts: an appender locks the `audit_head` row (the last id and hash),
chains to it, inserts, moves the head; the next appender waits for that commit. The head
also shows a deleted tail, which a chain alone cannot. `append` takes the subject
already pseudonymised: `pseudonym` gives it, an HMAC of the customer's id under her own
key (`subject_keys`, deleted with her), the same formula as SQLite's, so that a copied
database keeps finding her entries (docs/erasure.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from ..audit_chain import GENESIS, digest


def _subject_key(conn: psycopg.Connection[Any], customer_id: str, *, create: bool) -> bytes | None:
    cur = conn.cursor(row_factory=dict_row)
    found = cur.execute(
        "SELECT key FROM subject_keys WHERE customer_id = %s", [customer_id]
    ).fetchone()
    if found is not None:
        return bytes(found["key"])
    if not create:
        return None
    key = secrets.token_bytes(32)
    # Only for a customer who exists; two hosts creating her key at once: the first wins.
    cur.execute(
        "INSERT INTO subject_keys (customer_id, key, created_at) "
        "SELECT id, %s, %s FROM customers WHERE id = %s ON CONFLICT (customer_id) DO NOTHING",
        [key, datetime.now(UTC).isoformat(), customer_id],
    )
    if cur.rowcount:
        return key
    kept = cur.execute(
        "SELECT key FROM subject_keys WHERE customer_id = %s", [customer_id]
    ).fetchone()
    # else no customer (any more): a key nobody keeps, so the subject links to nothing
    return bytes(kept["key"]) if kept is not None else key


def _hmac_pseudonym(key: bytes, customer_id: str) -> str:
    return "hmac:" + hmac.new(key, customer_id.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonym(conn: psycopg.Connection[Any], customer_id: str) -> str:
    """The pseudonym under which `customer_id`'s entries are logged (her key created
    when she has none yet)."""
    key = _subject_key(conn, customer_id, create=True)
    assert key is not None
    return _hmac_pseudonym(key, customer_id)


def subject_of(conn: psycopg.Connection[Any], customer_id: str) -> str | None:
    """The pseudonym of `customer_id`'s entries, to find them; None once she is erased."""
    key = _subject_key(conn, customer_id, create=False)
    return None if key is None else _hmac_pseudonym(key, customer_id)


def keyed_digest(conn: psycopg.Connection[Any], customer_id: str, text: str) -> str:
    """A digest of free text about `customer_id` for the log (as SQLite's)."""
    key = _subject_key(conn, customer_id, create=True)
    assert key is not None
    return hmac.new(key, b"text:" + text.encode("utf-8"), hashlib.sha256).hexdigest()


def append(
    conn: psycopg.Connection[Any],
    *,
    at: str,
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any] | None = None,
) -> int:
    """Add one entry chained to the last one, in the caller's transaction."""
    cur = conn.cursor(row_factory=dict_row)
    head = cur.execute("SELECT hash FROM audit_head FOR UPDATE").fetchone()
    assert head is not None, "audit_head has no row: the schema was not migrated"
    prev_hash = str(head["hash"])
    body = json.dumps(details or {}, sort_keys=True, ensure_ascii=True)
    hash_ = digest(prev_hash, at, actor, action, subject, body)
    inserted = cur.execute(
        "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, hash) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        [at, actor, action, subject, body, prev_hash, hash_],
    ).fetchone()
    assert inserted is not None
    cur.execute("UPDATE audit_head SET last_id = %s, hash = %s", [inserted["id"], hash_])
    return int(inserted["id"])


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    entries: int
    first_bad_id: int | None = None
    problem: str | None = None


def verify(conn: psycopg.Connection[Any]) -> Verification:
    """Recompute the chain; report the first row that was edited, deleted or inserted,
    or a deleted tail (the head names a later entry than the last one)."""
    prev = GENESIS
    count = 0
    last_id = 0
    idle = conn.info.transaction_status == TransactionStatus.IDLE
    with conn.transaction():
        if idle:  # one snapshot for the rows and the head (else the caller's transaction)
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur = conn.cursor(row_factory=dict_row)
        head = cur.execute("SELECT last_id, hash FROM audit_head").fetchone()
        for entry in cur.execute("SELECT * FROM audit_log ORDER BY id"):
            count += 1
            if entry["prev_hash"] != prev:
                return Verification(False, count, entry["id"], "previous entry missing or changed")
            expected = digest(
                prev,
                entry["at"],
                entry["actor"],
                entry["action"],
                entry["subject"],
                entry["details"],
            )
            if entry["hash"] != expected:
                return Verification(False, count, entry["id"], "entry content changed")
            prev = entry["hash"]
            last_id = entry["id"]
    if head is not None and (head["last_id"] > last_id or head["hash"] != prev):
        return Verification(False, count, last_id + 1, "latest entries deleted")
    return Verification(True, count)
