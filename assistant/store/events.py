"""Domain events: small records with a name, a time and an actor, appended to the
outbox (`events` table) in the same transaction as the change they describe."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from .db import rows

EVENT_TYPES = (
    "profile.preference.added",
    "profile.preference.removed",
    "profile.complaint.added",
    "profile.complaint.updated",
    "consent.changed",
    "consent.proposed",
    "customer.erased",
    "dsr.created",
)


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    customer_id: str | None
    actor: str
    at: str
    data: dict[str, Any] = field(default_factory=dict)


def publish(db: sqlite_utils.Database, event: Event) -> int:
    """Append `event` to the outbox; consumers (SSE, webhooks) read it after commit."""
    if event.type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event.type!r}")
    cur = db.execute(
        "INSERT INTO events (type, customer_id, actor, at, data) VALUES (?, ?, ?, ?, ?)",
        [event.type, event.customer_id, event.actor, event.at, json.dumps(event.data)],
    )
    return int(cur.lastrowid or 0)


def after(
    db: sqlite_utils.Database, after_id: int, customer_id: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Events with id > after_id (optionally of one customer), oldest first."""
    if customer_id is None:
        found = rows(db, "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", [after_id, limit])
    else:
        found = rows(
            db,
            "SELECT * FROM events WHERE id > ? AND customer_id = ? ORDER BY id LIMIT ?",
            [after_id, customer_id, limit],
        )
    for e in found:
        e["data"] = json.loads(e["data"])
    return found
