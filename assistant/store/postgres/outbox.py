"""The webhook outbox on PostgreSQL: fan-out in commit order, and deliveries claimed by
workers on any host under leases.

Claiming takes due chain heads (the oldest open delivery of each subscription and
customer: per-customer order) with `FOR UPDATE SKIP LOCKED`, so workers on several
hosts never take the same row, and marks each `sending` under a fresh claim token until
`lease_until`. A lease that runs out (its worker died or hangs) makes the head due
again: any worker takes it over, under a new token. Settling is conditional on the
token: a worker that lost its lease cannot record over the new holder's result.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

# Heads of chains that are due, re-checked on the locked row: under READ COMMITTED a row
# another worker claimed meanwhile is re-read, and its new lease excludes it.
_CLAIM = """
WITH heads AS (
    SELECT DISTINCT ON (subscription_id, customer_id) id
      FROM webhook_deliveries
     WHERE status IN ('pending', 'sending')
     ORDER BY subscription_id, customer_id, id
)
SELECT d.id, d.attempts, d.subscription_id, d.message_id, d.customer_id
  FROM webhook_deliveries d
  JOIN heads h ON h.id = d.id
  JOIN webhook_subscriptions s ON s.id = d.subscription_id
 WHERE ((d.status = 'pending' AND d.next_attempt_at <= %(now)s)
        OR (d.status = 'sending' AND d.lease_until <= %(now)s))
   AND s.active = 1
 ORDER BY d.id
 LIMIT %(limit)s
   FOR UPDATE OF d SKIP LOCKED
"""


@dataclass(frozen=True, slots=True)
class Lease:
    """One delivery taken by one worker for one attempt."""

    delivery_id: int
    token: str
    attempt: int  # this attempt's number, from 1
    subscription_id: int
    message_id: int
    customer_id: str | None
    until: float


def claim(
    conn: psycopg.Connection[Any], *, limit: int, lease: float, now: float, at: str
) -> list[Lease]:
    """Take up to `limit` due chain heads for `lease` seconds (its own transaction)."""
    if limit <= 0:
        return []
    token = secrets.token_hex(8)
    out: list[Lease] = []
    with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        for d in cur.execute(_CLAIM, {"now": now, "limit": limit}).fetchall():
            conn.execute(
                "UPDATE webhook_deliveries SET status = 'sending', lease_until = %s, "
                "claim = %s, updated_at = %s WHERE id = %s",
                [now + lease, token, at, d["id"]],
            )
            out.append(
                Lease(
                    delivery_id=d["id"],
                    token=token,
                    attempt=d["attempts"] + 1,
                    subscription_id=d["subscription_id"],
                    message_id=d["message_id"],
                    customer_id=d["customer_id"],
                    until=now + lease,
                )
            )
    return out


def settle(
    conn: psycopg.Connection[Any],
    lease: Lease,
    *,
    status: str,
    at: str,
    status_code: int | None = None,
    error: str | None = None,
    duration_ms: int = 0,
    next_attempt_at: float | None = None,
) -> bool:
    """Record an attempt and move the delivery to `status` (delivered, pending for a
    retry at `next_attempt_at`, dead). False, and the delivery untouched, when the lease
    was lost: another worker holds it now, or it was settled already. The attempt is
    recorded either way: it happened."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, "
            "duration_ms) VALUES (%s, %s, %s, %s, %s, %s)",
            [lease.delivery_id, lease.attempt, at, status_code, error, duration_ms],
        )
        cur = conn.execute(
            "UPDATE webhook_deliveries SET status = %s, attempts = %s, "
            "next_attempt_at = coalesce(%s, next_attempt_at), lease_until = NULL, "
            "claim = NULL, last_status = %s, last_error = %s, updated_at = %s, "
            "delivered_at = %s WHERE id = %s AND claim = %s AND status = 'sending'",
            [
                status,
                lease.attempt,
                next_attempt_at,
                status_code,
                None if status == "delivered" else error,
                at,
                at if status == "delivered" else None,
                lease.delivery_id,
                lease.token,
            ],
        )
        return cur.rowcount == 1


def release(conn: psycopg.Connection[Any], leases: list[Lease]) -> None:
    """Give back leases never attempted (a worker stopping cleanly)."""
    if not leases:
        return
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "UPDATE webhook_deliveries SET status = 'pending', lease_until = NULL, "
            "claim = NULL WHERE id = %s AND claim = %s",
            [(lease.delivery_id, lease.token) for lease in leases],
        )


def pending_outbox(conn: psycopg.Connection[Any], limit: int = 500) -> list[dict[str, Any]]:
    """Outbox entries after the fan-out cursor, in commit order, with their events; call
    inside a transaction that holds the cursor (`lock_cursor`), so one host fans out at a
    time."""
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        "SELECT o.seq, e.id, e.type, e.customer_id, e.actor, e.at, e.data "
        "FROM webhook_outbox o LEFT JOIN events e ON e.id = o.event_id "
        "WHERE o.seq > (SELECT seq FROM webhook_cursor WHERE name = 'outbox') "
        "ORDER BY o.seq LIMIT %s",
        [limit],
    ).fetchall()


def lock_cursor(conn: psycopg.Connection[Any]) -> int:
    """Hold the fan-out cursor until the transaction ends; returns its position."""
    cur = conn.cursor(row_factory=dict_row)
    found = cur.execute(
        "SELECT seq FROM webhook_cursor WHERE name = 'outbox' FOR UPDATE"
    ).fetchone()
    return int(found["seq"]) if found else 0


def advance_cursor(conn: psycopg.Connection[Any], seq: int) -> None:
    """Move the fan-out cursor to `seq` and drop the outbox entries up to it."""
    conn.execute("UPDATE webhook_cursor SET seq = %s WHERE name = 'outbox'", [seq])
    conn.execute("DELETE FROM webhook_outbox WHERE seq <= %s", [seq])
