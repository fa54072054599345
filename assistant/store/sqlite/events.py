"""The events outbox (`events` table): domain events (`assistant.domain.events`)
appended in the same transaction as the change they describe, read after commit."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from ...domain.events import EVENT_TYPES, Event
from .db import rows

__all__ = ["EVENT_TYPES", "Event", "after", "publish"]


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
