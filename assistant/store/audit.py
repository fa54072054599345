"""Append-only audit log, hash-chained: editing or deleting a row breaks the chain.

Audit details never hold personal data (no names, no note text): ids, actions, reasons.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .db import row, rows

GENESIS = "0" * 64


def _digest(
    prev_hash: str, at: str, actor: str, action: str, subject: str | None, details: str
) -> str:
    payload = json.dumps([prev_hash, at, actor, action, subject, details], ensure_ascii=True)
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def append(
    db: sqlite_utils.Database,
    *,
    at: str,
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any] | None = None,
) -> int:
    """Add one entry chained to the last one; call inside the write transaction."""
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
            _digest(prev_hash, at, actor, action, subject, body),
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
        expected = _digest(
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
