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

from ..store.interface import WebhookStore
from ..store.sqlite.webhooks import webhook_store
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
    return webhook_store(db).outbox_cursor()


def fan_out(db: sqlite_utils.Database, *, now: float, limit: int = FAN_OUT_BATCH) -> int:
    """Turn events after the cursor into deliveries; returns how many events were read.

    An erasure reaches every subscription, whatever its event types and even when it is
    disabled (held until it is enabled again), and is recorded even without subscribers.
    """
    store: WebhookStore = webhook_store(db)
    at = _iso(datetime.fromtimestamp(now, UTC))
    # Fanned-out rows leave the outbox, so an empty one means nothing to do: say so
    # without taking the write lock, which every note's transaction waits for.
    if not store.outbox_waiting():
        return 0
    with store.transaction():
        batch = store.outbox_batch(store.outbox_cursor(), limit)
        if not batch:
            return 0
        subs = store.subscription_filters()
        for item in batch:
            if item["id"] is None:
                continue
            erased = item["type"] == "customer.erased"
            targets = [
                s["id"]
                for s in subs
                if item["seq"] > s["start_seq"]
                and (s["active"] or erased)
                and wants(s["event_types"], item["type"])
            ]
            if not targets and not erased:
                continue
            message_id = store.insert_message(
                new_message_id(), item["seq"], item["id"], item["type"], item["customer_id"], at
            )
            store.insert_deliveries(message_id, targets, item["customer_id"], now, at)
        store.advance_outbox(batch[-1]["seq"])
    return len(batch)


def claim(db: sqlite_utils.Database, *, limit: int, lease: float, now: float) -> list[Claim]:
    """Take up to `limit` due deliveries for one attempt each, under a lease: the head
    (oldest open delivery) of each (subscription, customer) chain, if it is due."""
    if limit <= 0:
        return []
    store: WebhookStore = webhook_store(db)
    token = tokens.token_hex(8)
    at = _iso(datetime.fromtimestamp(now, UTC))
    claims: list[Claim] = []
    secrets_of: dict[int, tuple[str, ...]] = {}
    if not store.due_deliveries(now, 1):  # nothing due: no write lock
        return claims
    with store.transaction():
        for d in store.due_deliveries(now, limit):
            event = store.event(d["event_id"]) if d["event_id"] is not None else None
            if event is None:
                store.cancel_delivery(d["id"], "event deleted (customer erased)", at)
                continue
            sub_id = d["subscription_id"]
            if sub_id not in secrets_of:
                secrets_of[sub_id] = tuple(
                    signing_secrets(db, sub_id, datetime.fromtimestamp(now, UTC))
                )
            store.lease_delivery(d["id"], now + lease, token, at)
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
    store: WebhookStore = webhook_store(db)
    at = _iso(datetime.fromtimestamp(now, UTC))
    with store.transaction():
        for claim_, outcome in results:
            verdict = judge(outcome, claim_.attempt, config, now=now, rng=rng)
            store.insert_attempt(
                claim_.delivery_id,
                claim_.attempt,
                at,
                outcome.status,
                outcome.error,
                round(outcome.duration * 1000),
            )
            recorded = store.finish_attempt(
                claim_.delivery_id,
                claim_.token,
                status=verdict.status,
                attempts=claim_.attempt,
                next_attempt_at=verdict.next_attempt_at,
                last_status=outcome.status,
                last_error=None if verdict.status == "delivered" else verdict.note,
                at=at,
                delivered_at=at if verdict.status == "delivered" else None,
            )
            if verdict.disable_subscription and recorded:
                store.disable_subscription(
                    claim_.subscription_id, "the target answered 410 Gone", at
                )
                store.audit(
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
    store: WebhookStore = webhook_store(db)
    with store.transaction():
        store.release_deliveries([(c.delivery_id, c.token) for c in claims])


def next_due(db: sqlite_utils.Database) -> float | None:
    """When the earliest chain head (of an active subscription) falls due: its retry
    time, or the end of its lease."""
    return webhook_store(db).next_due()
