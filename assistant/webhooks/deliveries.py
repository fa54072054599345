"""Reading and repairing deliveries: listings, dead-letter replay, erasure propagation,
retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from ..store.sqlite import audit
from ..store.sqlite.db import row, rows, writing
from .errors import WebhookError

STATUSES = ("pending", "sending", "delivered", "dead", "cancelled")

_SELECT = """
SELECT d.id, d.status, d.attempts, d.last_status, d.last_error, d.next_attempt_at,
       d.created_at, d.updated_at, d.delivered_at, d.subscription_id, d.customer_id,
       s.url, s.active AS subscription_active, m.msg_id, m.type, m.event_id
  FROM webhook_deliveries d
  JOIN webhook_subscriptions s ON s.id = d.subscription_id
  JOIN webhook_messages m ON m.id = d.message_id
"""


def _view(d: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id": d["id"],
        "webhook_id": d["msg_id"],
        "type": d["type"],
        "event_id": d["event_id"],
        "customer_id": d["customer_id"],
        "subscription_id": d["subscription_id"],
        "url": d["url"],
        "status": d["status"],
        "attempts": d["attempts"],
        "last_status": d["last_status"],
        "last_error": d["last_error"],
        "created_at": d["created_at"],
        "updated_at": d["updated_at"],
        "delivered_at": d["delivered_at"],
        "next_attempt_at": None,
    }
    if d["status"] == "pending":
        out["next_attempt_at"] = datetime.fromtimestamp(d["next_attempt_at"], UTC).isoformat(
            timespec="seconds"
        )
        if not d["subscription_active"]:
            out["held"] = "subscription disabled"
    return out


def listing(
    db: sqlite_utils.Database,
    *,
    status: str | None = None,
    subscription_id: int | None = None,
    customer_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Deliveries, newest first, filtered (dead letters: status='dead')."""
    if status is not None and status not in STATUSES:
        raise WebhookError(400, "invalid_status", f"status is one of {', '.join(STATUSES)}")
    where, params = [], []
    for clause, value in (
        ("d.status = ?", status),
        ("d.subscription_id = ?", subscription_id),
        ("d.customer_id = ?", customer_id),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY d.id DESC LIMIT ?"
    return [_view(d) for d in rows(db, sql, [*params, max(1, min(limit, 1000))])]


def get(db: sqlite_utils.Database, delivery_id: int) -> dict[str, Any]:
    found = row(db, _SELECT + " WHERE d.id = ?", [delivery_id])
    if found is None:
        raise WebhookError(404, "not_found", f"delivery {delivery_id} not found")
    view = _view(found)
    view["attempt_log"] = rows(
        db,
        "SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts "
        "WHERE delivery_id = ? ORDER BY id",
        [delivery_id],
    )
    return view


def replay(
    db: sqlite_utils.Database,
    delivery_ids: Sequence[int] = (),
    *,
    actor: str,
    all_dead: bool = False,
    subscription_id: int | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Send dead letters again (a fresh set of attempts, the same webhook-id).

    Returns the ids put back in the queue. A delivery that is not dead is refused (409);
    a replay waits while its subscription is disabled.
    """
    when = now or datetime.now(UTC)
    at = when.isoformat(timespec="microseconds")
    with writing(db):
        if all_dead:
            sql = "SELECT id FROM webhook_deliveries WHERE status = 'dead'"
            params: list[Any] = []
            if subscription_id is not None:
                sql += " AND subscription_id = ?"
                params.append(subscription_id)
            ids = [r["id"] for r in rows(db, sql + " ORDER BY id", params)]
        else:
            ids = list(delivery_ids)
            for delivery_id in ids:
                found = row(db, "SELECT status FROM webhook_deliveries WHERE id = ?", [delivery_id])
                if found is None:
                    raise WebhookError(404, "not_found", f"delivery {delivery_id} not found")
                if found["status"] != "dead":
                    raise WebhookError(
                        409,
                        "not_dead",
                        f"delivery {delivery_id} is {found['status']}: only dead letters replay",
                    )
        for delivery_id in ids:
            db.execute(
                "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, "
                "next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?",
                [when.timestamp(), f"replayed by {actor}", at, delivery_id],
            )
        if ids:
            audit.append(
                db,
                at=at,
                actor=actor,
                action="webhook.replayed",
                subject=None,
                details={"deliveries": ids[:1000], "count": len(ids)},
            )
    return ids


def erasures(db: sqlite_utils.Database, customer_id: str | None = None) -> list[dict[str, Any]]:
    """Each erasure and its outcome per target: proof that an erasure propagated.

    `propagated` is true when every target acknowledged it (2xx).
    """
    sql = (
        "SELECT id, msg_id, customer_id, created_at FROM webhook_messages "
        "WHERE type = 'customer.erased'"
    )
    params: list[Any] = []
    if customer_id is not None:
        sql += " AND customer_id = ?"
        params.append(customer_id)
    out = []
    for m in rows(db, sql + " ORDER BY id", params):
        targets = [
            {
                "delivery_id": d["id"],
                "subscription_id": d["subscription_id"],
                "url": d["url"],
                "status": d["status"],
                "attempts": d["attempts"],
                "last_status": d["last_status"],
                "last_error": d["last_error"],
                "delivered_at": d["delivered_at"],
            }
            for d in rows(
                db,
                "SELECT d.*, s.url FROM webhook_deliveries d JOIN webhook_subscriptions s "
                "ON s.id = d.subscription_id WHERE d.message_id = ? ORDER BY d.id",
                [m["id"]],
            )
        ]
        out.append(
            {
                "customer_id": m["customer_id"],
                "webhook_id": m["msg_id"],
                "recorded_at": m["created_at"],
                "targets": targets,
                "propagated": all(t["status"] == "delivered" for t in targets),
            }
        )
    return out


def prune(db: sqlite_utils.Database, *, retention_days: int, now: datetime | None = None) -> int:
    """Delete delivered and cancelled deliveries (with their attempts) and processed
    inbound messages older than the retention; dead letters and erasures stay."""
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=retention_days)).isoformat(
        timespec="microseconds"
    )
    with writing(db):
        cur = db.execute(
            "DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'cancelled') "
            "AND updated_at < ? AND message_id NOT IN "
            "(SELECT id FROM webhook_messages WHERE type = 'customer.erased')",
            [cutoff],
        )
        removed = cur.rowcount
        db.execute(
            "DELETE FROM webhook_messages WHERE type != 'customer.erased' AND created_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = "
            "webhook_messages.id)",
            [cutoff],
        )
        db.execute(
            "DELETE FROM webhook_inbox WHERE status != 'received' AND received_at < ?", [cutoff]
        )
    return int(removed)


def counts(db: sqlite_utils.Database) -> dict[int, dict[str, int]]:
    """Deliveries per subscription and status."""
    out: dict[int, dict[str, int]] = {}
    for r in rows(
        db,
        "SELECT subscription_id, status, count(*) AS n FROM webhook_deliveries "
        "GROUP BY subscription_id, status",
    ):
        out.setdefault(r["subscription_id"], {})[r["status"]] = r["n"]
    return out
