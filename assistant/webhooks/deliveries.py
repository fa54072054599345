"""Reading and repairing deliveries: listings, dead-letter replay, erasure propagation,
retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from ..store.interface import WebhookStore
from ..store.sqlite.webhooks import webhook_store
from .errors import WebhookError

STATUSES = ("pending", "sending", "delivered", "dead", "cancelled")


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
    found = webhook_store(db).deliveries(
        status=status,
        subscription_id=subscription_id,
        customer_id=customer_id,
        limit=max(1, min(limit, 1000)),
    )
    return [_view(d) for d in found]


def get(db: sqlite_utils.Database, delivery_id: int) -> dict[str, Any]:
    store: WebhookStore = webhook_store(db)
    found = store.delivery(delivery_id)
    if found is None:
        raise WebhookError(404, "not_found", f"delivery {delivery_id} not found")
    view = _view(found)
    view["attempt_log"] = store.attempt_log(delivery_id)
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
    store: WebhookStore = webhook_store(db)
    with store.transaction():
        if all_dead:
            ids = store.dead_deliveries(subscription_id)
        else:
            ids = list(delivery_ids)
            for delivery_id in ids:
                status = store.delivery_status(delivery_id)
                if status is None:
                    raise WebhookError(404, "not_found", f"delivery {delivery_id} not found")
                if status != "dead":
                    raise WebhookError(
                        409,
                        "not_dead",
                        f"delivery {delivery_id} is {status}: only dead letters replay",
                    )
        for delivery_id in ids:
            store.requeue_delivery(delivery_id, when.timestamp(), f"replayed by {actor}", at)
        if ids:
            store.audit(
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
    store: WebhookStore = webhook_store(db)
    out = []
    for m in store.erasure_messages(customer_id):
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
            for d in store.message_deliveries(m["id"])
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
    store: WebhookStore = webhook_store(db)
    with store.transaction():
        return store.prune_webhooks(cutoff)


def counts(db: sqlite_utils.Database) -> dict[int, dict[str, int]]:
    """Deliveries per subscription and status."""
    out: dict[int, dict[str, int]] = {}
    for r in webhook_store(db).delivery_counts():
        out.setdefault(r["subscription_id"], {})[r["status"]] = r["n"]
    return out
