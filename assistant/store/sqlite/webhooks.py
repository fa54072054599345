"""`WebhookStore` on SQLite: the SQL of the webhook subscriptions, the outbox and its
deliveries, and the inbound inbox (`assistant.webhooks` keeps the rules: which
subscription wants what, retries, signing, what a message asks for)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

from .db import row, rows
from .store import SQLiteStore

# The head (oldest open delivery) of each (subscription, customer) chain. Events without
# a customer form one chain per subscription.
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
_DELIVERY = """
SELECT d.id, d.status, d.attempts, d.last_status, d.last_error, d.next_attempt_at,
       d.created_at, d.updated_at, d.delivered_at, d.subscription_id, d.customer_id,
       s.url, s.active AS subscription_active, m.msg_id, m.type, m.event_id
  FROM webhook_deliveries d
  JOIN webhook_subscriptions s ON s.id = d.subscription_id
  JOIN webhook_messages m ON m.id = d.message_id
"""


class SQLiteWebhookStore(SQLiteStore):
    """`assistant.store.interface.WebhookStore` (and `Store`) over one handle."""

    # -- the outbox: events to messages and deliveries -----------------------------------

    def outbox_waiting(self) -> bool:
        """Whether any event waits in the webhook outbox (read without the write lock)."""
        return row(self.db, "SELECT 1 AS pending FROM webhook_outbox LIMIT 1") is not None

    def outbox_cursor(self) -> int:
        """The outbox position fanned out so far."""
        found = row(self.db, "SELECT seq FROM webhook_cursor WHERE name = 'outbox'")
        return int(found["seq"]) if found else 0

    def outbox_batch(self, after: int, limit: int) -> list[dict[str, Any]]:
        """Outbox entries after `after`, oldest first: seq, and the event's id, type and
        customer_id (None when the event was deleted since)."""
        return rows(
            self.db,
            "SELECT o.seq, e.id, e.type, e.customer_id FROM webhook_outbox o "
            "LEFT JOIN events e ON e.id = o.event_id WHERE o.seq > ? ORDER BY o.seq LIMIT ?",
            [after, limit],
        )

    def advance_outbox(self, seq: int) -> None:
        """The cursor moves to `seq`; the entries up to it leave the outbox."""
        self.db.execute("UPDATE webhook_cursor SET seq = ? WHERE name = 'outbox'", [seq])
        self.db.execute("DELETE FROM webhook_outbox WHERE seq <= ?", [seq])

    def subscription_filters(self) -> list[dict[str, Any]]:
        """Every subscription's id, event_types (a list), active (bool) and start_seq."""
        return [
            {
                "id": s["id"],
                "event_types": json.loads(s["event_types"]),
                "active": bool(s["active"]),
                "start_seq": s["start_seq"],
            }
            for s in rows(
                self.db, "SELECT id, event_types, active, start_seq FROM webhook_subscriptions"
            )
        ]

    def insert_message(
        self, msg_id: str, seq: int, event_id: int, type: str, customer_id: str | None, at: str
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO webhook_messages (msg_id, seq, event_id, type, customer_id, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [msg_id, seq, event_id, type, customer_id, at],
        )
        return int(cur.lastrowid or 0)

    def insert_deliveries(
        self,
        message_id: int,
        subscription_ids: Iterable[int],
        customer_id: str | None,
        next_attempt_at: float,
        at: str,
    ) -> None:
        self.db.conn.executemany(
            "INSERT INTO webhook_deliveries (message_id, subscription_id, customer_id, "
            "status, next_attempt_at, created_at, updated_at) "
            "VALUES (?, ?, ?, 'pending', ?, ?, ?)",
            [
                (message_id, sub_id, customer_id, next_attempt_at, at, at)
                for sub_id in subscription_ids
            ],
        )

    # -- claims, attempts and their outcomes -------------------------------------------

    def due_deliveries(self, now: float, limit: int) -> list[dict[str, Any]]:
        """The head (oldest open delivery) of each (subscription, customer) chain of an
        active subscription, when due at `now` (pending and due, or its lease run out):
        id, attempts, subscription_id, url, msg_id, event_id."""
        return rows(self.db, _DUE, {"now": now, "limit": limit})

    def event(self, event_id: int) -> dict[str, Any] | None:
        return row(self.db, "SELECT * FROM events WHERE id = ?", [event_id])

    def cancel_delivery(self, delivery_id: int, reason: str, at: str) -> None:
        self.db.execute(
            "UPDATE webhook_deliveries SET status = 'cancelled', customer_id = NULL, "
            "lease_until = NULL, claim = NULL, last_error = ?, updated_at = ? "
            "WHERE id = ?",
            [reason, at, delivery_id],
        )

    def lease_delivery(self, delivery_id: int, until: float, token: str, at: str) -> None:
        self.db.execute(
            "UPDATE webhook_deliveries SET status = 'sending', lease_until = ?, claim = ?, "
            "updated_at = ? WHERE id = ?",
            [until, token, at, delivery_id],
        )

    def insert_attempt(
        self,
        delivery_id: int,
        attempt: int,
        at: str,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
    ) -> None:
        self.db.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, "
            "duration_ms) VALUES (?, ?, ?, ?, ?, ?)",
            [delivery_id, attempt, at, status_code, error, duration_ms],
        )

    def finish_attempt(
        self,
        delivery_id: int,
        token: str,
        *,
        status: str,
        attempts: int,
        next_attempt_at: float | None,
        last_status: int | None,
        last_error: str | None,
        at: str,
        delivered_at: str | None,
    ) -> bool:
        """Record an attempt's outcome, only while `token` still holds the delivery's
        claim (a worker whose lease was taken records nothing); True when it did."""
        cur = self.db.execute(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, "
            "next_attempt_at = coalesce(?, next_attempt_at), lease_until = NULL, "
            "claim = NULL, last_status = ?, last_error = ?, updated_at = ?, "
            "delivered_at = ? WHERE id = ? AND claim = ?",
            [
                status,
                attempts,
                next_attempt_at,
                last_status,
                last_error,
                at,
                delivered_at,
                delivery_id,
                token,
            ],
        )
        return bool(cur.rowcount)

    def disable_subscription(self, subscription_id: int, reason: str, at: str) -> None:
        self.db.execute(
            "UPDATE webhook_subscriptions SET active = 0, disabled_reason = ?, "
            "updated_at = ? WHERE id = ? AND active = 1",
            [reason, at, subscription_id],
        )

    def release_deliveries(self, claims: Sequence[tuple[int, str]]) -> None:
        """(delivery id, claim token) pairs go back to pending, if still so claimed."""
        self.db.conn.executemany(
            "UPDATE webhook_deliveries SET status = 'pending', lease_until = NULL, claim = NULL "
            "WHERE id = ? AND claim = ?",
            list(claims),
        )

    def next_due(self) -> float | None:
        found = row(
            self.db,
            "SELECT min(CASE d.status WHEN 'pending' THEN d.next_attempt_at "
            f"ELSE d.lease_until END) AS due FROM ({_HEADS}) h "
            "JOIN webhook_deliveries d ON d.id = h.id "
            "JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE s.active = 1",
        )
        return float(found["due"]) if found and found["due"] is not None else None

    def webhook_work_waiting(self) -> int:
        """Outbox entries, open deliveries of active subscriptions and inbound messages
        not yet processed, together."""
        found = row(
            self.db,
            "SELECT (SELECT count(*) FROM webhook_outbox) + "
            "(SELECT count(*) FROM webhook_deliveries d JOIN webhook_subscriptions s "
            "ON s.id = d.subscription_id WHERE d.status IN ('pending', 'sending') "
            "AND s.active = 1) + "
            "(SELECT count(*) FROM webhook_inbox WHERE status = 'received') AS n",
        )
        return int(found["n"]) if found else 0

    # -- reading and repairing deliveries ------------------------------------------------

    def deliveries(
        self,
        *,
        status: str | None,
        subscription_id: int | None,
        customer_id: str | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        where, params = [], []
        for clause, value in (
            ("d.status = ?", status),
            ("d.subscription_id = ?", subscription_id),
            ("d.customer_id = ?", customer_id),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = _DELIVERY + (" WHERE " + " AND ".join(where) if where else "")
        return rows(self.db, sql + " ORDER BY d.id DESC LIMIT ?", [*params, limit])

    def delivery(self, delivery_id: int) -> dict[str, Any] | None:
        return row(self.db, _DELIVERY + " WHERE d.id = ?", [delivery_id])

    def attempt_log(self, delivery_id: int) -> list[dict[str, Any]]:
        return rows(
            self.db,
            "SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts "
            "WHERE delivery_id = ? ORDER BY id",
            [delivery_id],
        )

    def dead_deliveries(self, subscription_id: int | None = None) -> list[int]:
        """The ids of the dead letters (of one subscription), oldest first."""
        sql = "SELECT id FROM webhook_deliveries WHERE status = 'dead'"
        params: list[Any] = []
        if subscription_id is not None:
            sql += " AND subscription_id = ?"
            params.append(subscription_id)
        return [r["id"] for r in rows(self.db, sql + " ORDER BY id", params)]

    def delivery_status(self, delivery_id: int) -> str | None:
        found = row(self.db, "SELECT status FROM webhook_deliveries WHERE id = ?", [delivery_id])
        return str(found["status"]) if found else None

    def requeue_delivery(
        self, delivery_id: int, next_attempt_at: float, note: str, at: str
    ) -> None:
        """A fresh set of attempts from `next_attempt_at` (a replay)."""
        self.db.execute(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, "
            "next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?",
            [next_attempt_at, note, at, delivery_id],
        )

    def erasure_messages(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        """The customer.erased messages (id, msg_id, customer_id, created_at)."""
        sql = (
            "SELECT id, msg_id, customer_id, created_at FROM webhook_messages "
            "WHERE type = 'customer.erased'"
        )
        params: list[Any] = []
        if customer_id is not None:
            sql += " AND customer_id = ?"
            params.append(customer_id)
        return rows(self.db, sql + " ORDER BY id", params)

    def message_deliveries(self, message_id: int) -> list[dict[str, Any]]:
        return rows(
            self.db,
            "SELECT d.*, s.url FROM webhook_deliveries d JOIN webhook_subscriptions s "
            "ON s.id = d.subscription_id WHERE d.message_id = ? ORDER BY d.id",
            [message_id],
        )

    def prune_webhooks(self, before: str) -> int:
        """Delivered and cancelled deliveries updated before `before` (not erasures),
        messages left without deliveries, and processed inbound messages; returns how
        many deliveries went."""
        cur = self.db.execute(
            "DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'cancelled') "
            "AND updated_at < ? AND message_id NOT IN "
            "(SELECT id FROM webhook_messages WHERE type = 'customer.erased')",
            [before],
        )
        removed = cur.rowcount
        self.db.execute(
            "DELETE FROM webhook_messages WHERE type != 'customer.erased' AND created_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = "
            "webhook_messages.id)",
            [before],
        )
        self.db.execute(
            "DELETE FROM webhook_inbox WHERE status != 'received' AND received_at < ?", [before]
        )
        return int(removed)

    def delivery_counts(self) -> list[dict[str, Any]]:
        return rows(
            self.db,
            "SELECT subscription_id, status, count(*) AS n FROM webhook_deliveries "
            "GROUP BY subscription_id, status",
        )

    # -- subscriptions and their secrets -----------------------------------------------

    def subscription(self, subscription_id: int) -> dict[str, Any] | None:
        return row(self.db, "SELECT * FROM webhook_subscriptions WHERE id = ?", [subscription_id])

    def subscriptions(self) -> list[dict[str, Any]]:
        return rows(self.db, "SELECT * FROM webhook_subscriptions ORDER BY id")

    def insert_subscription(
        self, url: str, event_types: list[str], description: str | None, at: str
    ) -> int:
        """A new active subscription, which gets the events published from now on (its
        start_seq is the outbox's last position); returns its id."""
        last = row(self.db, "SELECT seq FROM sqlite_sequence WHERE name = 'webhook_outbox'")
        cur = self.db.execute(
            "INSERT INTO webhook_subscriptions (url, event_types, description, active, "
            "start_seq, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
            [url, json.dumps(event_types), description, last["seq"] if last else 0, at, at],
        )
        return int(cur.lastrowid or 0)

    def update_subscription(
        self,
        subscription_id: int,
        *,
        at: str,
        url: str | None = None,
        event_types: list[str] | None = None,
        active: bool | None = None,
        disabled_reason: str | None = None,
    ) -> None:
        """Sets what is given (with `active`, its `disabled_reason` too) and updated_at."""
        if url is not None:
            self.db.execute(
                "UPDATE webhook_subscriptions SET url = ? WHERE id = ?", [url, subscription_id]
            )
        if event_types is not None:
            self.db.execute(
                "UPDATE webhook_subscriptions SET event_types = ? WHERE id = ?",
                [json.dumps(event_types), subscription_id],
            )
        if active is not None:
            self.db.execute(
                "UPDATE webhook_subscriptions SET active = ?, disabled_reason = ? WHERE id = ?",
                [int(active), disabled_reason, subscription_id],
            )
        self.db.execute(
            "UPDATE webhook_subscriptions SET updated_at = ? WHERE id = ?", [at, subscription_id]
        )

    def insert_secret(self, subscription_id: int, secret: str, at: str) -> None:
        self.db.execute(
            "INSERT INTO webhook_secrets (subscription_id, secret, created_at) VALUES (?, ?, ?)",
            [subscription_id, secret, at],
        )

    def keep_only_secret(self, subscription_id: int, at: str, until: str) -> None:
        """The newest secret still valid at `at` now expires at `until`; older ones go."""
        current = row(
            self.db,
            "SELECT id FROM webhook_secrets WHERE subscription_id = ? "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY id DESC LIMIT 1",
            [subscription_id, at],
        )
        self.db.execute(
            "DELETE FROM webhook_secrets WHERE subscription_id = ? AND id != ?",
            [subscription_id, current["id"] if current else -1],
        )
        if current is not None:
            self.db.execute(
                "UPDATE webhook_secrets SET expires_at = ? WHERE id = ?", [until, current["id"]]
            )

    def signing_secrets(self, subscription_id: int, at: str) -> list[str]:
        found = rows(
            self.db,
            "SELECT secret FROM webhook_secrets WHERE subscription_id = ? "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY id DESC",
            [subscription_id, at],
        )
        return [r["secret"] for r in found]

    # -- the inbound inbox -------------------------------------------------------------

    def inbox_seen(self, source: str, message_ids: Sequence[str]) -> dict[str, Any] | None:
        """The inbound message (id, status) of `source` under any of `message_ids`."""
        return row(
            self.db,
            "SELECT id, status FROM webhook_inbox WHERE source = ? AND message_id IN "
            f"({', '.join('?' for _ in message_ids)})",
            [source, *message_ids],
        )

    def insert_inbox(
        self,
        *,
        source: str,
        message_id: str,
        type: str | None,
        status: str,
        body: bytes | None,
        received_at: str,
        processed_at: str | None,
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO webhook_inbox (source, message_id, type, status, body, received_at, "
            "processed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [source, message_id, type, status, body, received_at, processed_at],
        )
        return int(cur.lastrowid or 0)

    def inbox_message(self, inbox_id: int) -> dict[str, Any] | None:
        return row(self.db, "SELECT * FROM webhook_inbox WHERE id = ?", [inbox_id])

    def inbox_status(self, inbox_id: int) -> str | None:
        found = row(self.db, "SELECT status FROM webhook_inbox WHERE id = ?", [inbox_id])
        return str(found["status"]) if found else None

    def count_inbox_attempt(self, inbox_id: int) -> None:
        self.db.execute("UPDATE webhook_inbox SET attempts = attempts + 1 WHERE id = ?", [inbox_id])

    def finish_inbox(
        self,
        inbox_id: int,
        *,
        status: str,
        error: str | None,
        at: str,
        customer_id: str | None,
        note_id: int | None,
        conversation: str | None,
    ) -> None:
        """The message's outcome; its body is dropped."""
        self.db.execute(
            "UPDATE webhook_inbox SET status = ?, body = NULL, error = ?, processed_at = ?, "
            "customer_id = ?, note_id = ?, conversation = ? WHERE id = ?",
            [status, error, at, customer_id, note_id, conversation, inbox_id],
        )

    def stale_inbox(self, before: str, limit: int) -> list[dict[str, Any]]:
        return rows(
            self.db,
            "SELECT id, attempts FROM webhook_inbox WHERE status = 'received' "
            "AND received_at < ? ORDER BY id LIMIT ?",
            [before, limit],
        )

    def give_up_inbox(self, inbox_id: int, error: str, at: str) -> None:
        self.db.execute(
            "UPDATE webhook_inbox SET status = 'failed', body = NULL, error = ?, "
            "processed_at = ? WHERE id = ? AND status = 'received'",
            [error, at, inbox_id],
        )

    def inbox_listing(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        sql = (
            "SELECT id, source, message_id, type, status, attempts, error, customer_id, "
            "note_id, conversation, received_at, processed_at FROM webhook_inbox"
        )
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status)
        return rows(self.db, sql + " ORDER BY id DESC LIMIT ?", [*params, limit])

    def conversation_notes(self, source: str, conversation: str) -> list[int]:
        """The notes the inbox stored from one conversation's messages."""
        return [
            r["note_id"]
            for r in rows(
                self.db,
                "SELECT note_id FROM webhook_inbox WHERE source = ? AND conversation = ? "
                "AND note_id IS NOT NULL",
                [source, conversation],
            )
        ]

    def open_complaints(self, note_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The open complaints (id, customer_id) raised in the notes `note_ids`."""
        return rows(
            self.db,
            "SELECT id, customer_id FROM facts WHERE kind = 'complaint' AND status = 'open' "
            "AND removed_at IS NULL AND note_id IN (SELECT value FROM json_each(?))",
            [json.dumps(list(note_ids))],
        )

    def delete_identity(self, customer_id: str, source: str, external_id: str) -> bool:
        cur = self.db.execute(
            "DELETE FROM identities WHERE customer_id = ? AND source = ? AND external_id = ?",
            [customer_id, source, external_id],
        )
        return bool(cur.rowcount)


def webhook_store(db: sqlite_utils.Database) -> SQLiteWebhookStore:
    """The webhook repository (and `Store`) over `db`."""
    return SQLiteWebhookStore(db)
