"""From the events outbox to deliveries, and the life of a delivery: claim, attempt, settle.

All state lives in the database: a worker killed at any point loses nothing. Events are
read from a stored cursor; each becomes one message per matching subscription (its
`webhook-id` stays the same across retries); a claimed delivery carries a lease and is
claimed again by any worker once the lease runs out, so delivery is at least once.

Per-customer order: a customer's next delivery to a target waits until every earlier one
to that target was delivered, dead-lettered or cancelled.
"""

from __future__ import annotations

import json
import random
import secrets as tokens
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from ..store.sqlite import audit
from ..store.sqlite.db import row, rows, writing
from .config import DeliveryConfig
from .retry import judge
from .signing import new_message_id
from .subscriptions import signing_secrets, wants
from .transport import Outcome

FAN_OUT_BATCH = 500


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery taken by one worker for one attempt: everything the attempt needs."""

    delivery_id: int
    token: str
    attempt: int  # this attempt's number, from 1
    subscription_id: int
    url: str
    msg_id: str
    body: str
    secrets: tuple[str, ...]


def message_body(event: dict[str, Any]) -> str:
    """The Standard Webhooks payload of an event: `{"type", "timestamp", "data"}`.

    `data` is the event's own data (facts with purpose, lawful basis and provenance;
    consent records with their basis and source) plus the event and customer ids.
    The same event always gives the same bytes.
    """
    data = {"event_id": event["id"], "customer_id": event["customer_id"]}
    data.update(json.loads(event["data"]))
    payload = {"type": event["type"], "timestamp": event["at"], "data": data}
    return json.dumps(payload, separators=(",", ":"))


def cursor(db: sqlite_utils.Database) -> int:
    found = row(db, "SELECT seq FROM webhook_cursor WHERE name = 'outbox'")
    return int(found["seq"]) if found else 0


def fan_out(db: sqlite_utils.Database, *, now: float, limit: int = FAN_OUT_BATCH) -> int:
    """Turn events after the cursor into deliveries; returns how many events were read.

    An erasure reaches every subscription, whatever its event types and even when it is
    disabled (held until it is enabled again), and is recorded even without subscribers.
    """
    at = _iso(datetime.fromtimestamp(now, UTC))
    # Fanned-out rows leave the outbox, so an empty one means nothing to do: say so
    # without taking the write lock, which every note's transaction waits for.
    if row(db, "SELECT 1 AS pending FROM webhook_outbox LIMIT 1") is None:
        return 0
    with writing(db):
        after = cursor(db)
        batch = rows(
            db,
            "SELECT o.seq, e.id, e.type, e.customer_id FROM webhook_outbox o "
            "LEFT JOIN events e ON e.id = o.event_id WHERE o.seq > ? ORDER BY o.seq LIMIT ?",
            [after, limit],
        )
        if not batch:
            return 0
        subs = [
            (s["id"], json.loads(s["event_types"]), bool(s["active"]), s["start_seq"])
            for s in rows(
                db, "SELECT id, event_types, active, start_seq FROM webhook_subscriptions"
            )
        ]
        for item in batch:
            if item["id"] is None:
                continue
            erased = item["type"] == "customer.erased"
            targets = [
                sub_id
                for sub_id, types, active, start in subs
                if item["seq"] > start and (active or erased) and wants(types, item["type"])
            ]
            if not targets and not erased:
                continue
            cur = db.execute(
                "INSERT INTO webhook_messages (msg_id, seq, event_id, type, customer_id, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [new_message_id(), item["seq"], item["id"], item["type"], item["customer_id"], at],
            )
            message_id = int(cur.lastrowid or 0)
            db.conn.executemany(
                "INSERT INTO webhook_deliveries (message_id, subscription_id, customer_id, "
                "status, next_attempt_at, created_at, updated_at) "
                "VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                [(message_id, sub_id, item["customer_id"], now, at, at) for sub_id in targets],
            )
        last = batch[-1]["seq"]
        db.execute("UPDATE webhook_cursor SET seq = ? WHERE name = 'outbox'", [last])
        db.execute("DELETE FROM webhook_outbox WHERE seq <= ?", [last])
    return len(batch)


# The head (oldest open delivery) of each (subscription, customer) chain, if it is due.
# Events without a customer form one chain per subscription.
_HEADS = """
SELECT min(id) AS id FROM webhook_deliveries INDEXED BY webhook_deliveries_chain
 WHERE status IN ('pending', 'sending')
 GROUP BY subscription_id, customer_id
"""
_DUE = f"""
SELECT d.id, d.attempts, d.subscription_id, s.url, m.msg_id, m.event_id
  FROM ({_HEADS}) h
  JOIN webhook_deliveries d ON d.id = h.id
  JOIN webhook_subscriptions s ON s.id = d.subscription_id
  JOIN webhook_messages m ON m.id = d.message_id
 WHERE ((d.status = 'pending' AND d.next_attempt_at <= :now)
        OR (d.status = 'sending' AND d.lease_until <= :now))
   AND s.active = 1
 ORDER BY d.id
 LIMIT :limit
"""


def claim(db: sqlite_utils.Database, *, limit: int, lease: float, now: float) -> list[Claim]:
    """Take up to `limit` due deliveries for one attempt each, under a lease."""
    if limit <= 0:
        return []
    token = tokens.token_hex(8)
    at = _iso(datetime.fromtimestamp(now, UTC))
    claims: list[Claim] = []
    secrets_of: dict[int, tuple[str, ...]] = {}
    if not rows(db, _DUE, {"now": now, "limit": 1}):  # nothing due: no write lock
        return claims
    with writing(db):
        for d in rows(db, _DUE, {"now": now, "limit": limit}):
            event = (
                row(db, "SELECT * FROM events WHERE id = ?", [d["event_id"]])
                if d["event_id"] is not None
                else None
            )
            if event is None:
                db.execute(
                    "UPDATE webhook_deliveries SET status = 'cancelled', customer_id = NULL, "
                    "lease_until = NULL, claim = NULL, last_error = ?, updated_at = ? "
                    "WHERE id = ?",
                    ["event deleted (customer erased)", at, d["id"]],
                )
                continue
            sub_id = d["subscription_id"]
            if sub_id not in secrets_of:
                secrets_of[sub_id] = tuple(
                    signing_secrets(db, sub_id, datetime.fromtimestamp(now, UTC))
                )
            db.execute(
                "UPDATE webhook_deliveries SET status = 'sending', lease_until = ?, claim = ?, "
                "updated_at = ? WHERE id = ?",
                [now + lease, token, at, d["id"]],
            )
            claims.append(
                Claim(
                    delivery_id=d["id"],
                    token=token,
                    attempt=d["attempts"] + 1,
                    subscription_id=sub_id,
                    url=d["url"],
                    msg_id=d["msg_id"],
                    body=message_body(event),
                    secrets=secrets_of[sub_id],
                )
            )
    return claims


def settle(
    db: sqlite_utils.Database,
    results: Sequence[tuple[Claim, Outcome]],
    config: DeliveryConfig,
    *,
    now: float,
    rng: random.Random | None = None,
) -> None:
    """Record attempts and move each delivery on (delivered, retry later, dead letter).

    A claim whose lease ran out and was taken by another worker is only logged.
    """
    at = _iso(datetime.fromtimestamp(now, UTC))
    with writing(db):
        for claim_, outcome in results:
            verdict = judge(outcome, claim_.attempt, config, now=now, rng=rng)
            db.execute(
                "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, "
                "duration_ms) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    claim_.delivery_id,
                    claim_.attempt,
                    at,
                    outcome.status,
                    outcome.error,
                    round(outcome.duration * 1000),
                ],
            )
            cur = db.execute(
                "UPDATE webhook_deliveries SET status = ?, attempts = ?, "
                "next_attempt_at = coalesce(?, next_attempt_at), lease_until = NULL, "
                "claim = NULL, last_status = ?, last_error = ?, updated_at = ?, "
                "delivered_at = ? WHERE id = ? AND claim = ?",
                [
                    verdict.status,
                    claim_.attempt,
                    verdict.next_attempt_at,
                    outcome.status,
                    None if verdict.status == "delivered" else verdict.note,
                    at,
                    at if verdict.status == "delivered" else None,
                    claim_.delivery_id,
                    claim_.token,
                ],
            )
            if verdict.disable_subscription and cur.rowcount:
                db.execute(
                    "UPDATE webhook_subscriptions SET active = 0, disabled_reason = ?, "
                    "updated_at = ? WHERE id = ? AND active = 1",
                    ["the target answered 410 Gone", at, claim_.subscription_id],
                )
                audit.append(
                    db,
                    at=at,
                    actor="webhook-worker",
                    action="webhook.disabled",
                    subject=None,
                    details={"subscription_id": claim_.subscription_id, "reason": "410"},
                )


def release(db: sqlite_utils.Database, claims: Sequence[Claim]) -> None:
    """Give back claims that were never attempted (a worker stopping cleanly)."""
    if not claims:
        return
    with writing(db):
        db.conn.executemany(
            "UPDATE webhook_deliveries SET status = 'pending', lease_until = NULL, claim = NULL "
            "WHERE id = ? AND claim = ?",
            [(c.delivery_id, c.token) for c in claims],
        )


def next_due(db: sqlite_utils.Database) -> float | None:
    """When the earliest chain head (of an active subscription) falls due: its retry
    time, or the end of its lease."""
    found = row(
        db,
        "SELECT min(CASE d.status WHEN 'pending' THEN d.next_attempt_at ELSE d.lease_until END) "
        f"AS due FROM ({_HEADS}) h JOIN webhook_deliveries d ON d.id = h.id "
        "JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE s.active = 1",
    )
    return float(found["due"]) if found and found["due"] is not None else None
