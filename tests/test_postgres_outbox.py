"""Webhook deliveries claimed by workers on several hosts (here: connections) under
leases on PostgreSQL: each delivered once, per-customer order kept, an expired lease
taken over, a stale worker's result refused (issue 14, section 2)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from assistant.store.postgres import events, outbox
from assistant.store.postgres.connection import connect
from tests.test_postgres_store import AT, add_customer, new_database, publish

CUSTOMERS = ("c1", "c2", "c3")


@pytest.fixture
def db_url(postgres_url: str) -> str:
    return new_database(postgres_url)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with connect(db_url) as c:
        yield c


PER_CUSTOMER = 8


def setup_deliveries(conn: psycopg.Connection[Any], per_customer: int = PER_CUSTOMER) -> None:
    """One subscription, and `per_customer` pending deliveries per customer, interleaved."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO webhook_subscriptions (id, url, event_types, start_seq, created_at, "
            "updated_at) VALUES (1, 'http://127.0.0.1:9/hook', '[\"*\"]', 0, %s, %s)",
            [AT, AT],
        )
        for n in range(per_customer):
            for cid in CUSTOMERS:
                message = conn.execute(
                    "INSERT INTO webhook_messages (msg_id, seq, type, customer_id, created_at) "
                    "VALUES (%s, 0, 'consent.changed', %s, %s) RETURNING id",
                    [f"msg_{cid}_{n}", cid, AT],
                ).fetchone()
                assert message is not None
                conn.execute(
                    "INSERT INTO webhook_deliveries (message_id, subscription_id, customer_id, "
                    "status, next_attempt_at, created_at, updated_at) "
                    "VALUES (%s, 1, %s, 'pending', 0, %s, %s)",
                    [message["id"], cid, AT, AT],
                )


def test_two_workers_deliver_each_once_in_customer_order(db_url: str, conn: Any) -> None:
    setup_deliveries(conn)
    sent: list[tuple[str, int]] = []  # (customer, delivery id) in the order attempts began
    lock = threading.Lock()
    problems: list[str] = []

    def worker() -> None:
        with connect(db_url) as c:
            idle = 0
            while idle < 20:
                leases = outbox.claim(c, limit=2, lease=30, now=time.time(), at=AT)
                if not leases:
                    idle += 1
                    time.sleep(0.005)
                    continue
                idle = 0
                for lease in leases:
                    earlier = c.execute(
                        "SELECT count(*) AS n FROM webhook_deliveries WHERE customer_id = %s "
                        "AND id < %s AND status <> 'delivered'",
                        [lease.customer_id, lease.delivery_id],
                    ).fetchone()
                    c.commit()
                    with lock:
                        if earlier["n"]:
                            problems.append(f"{lease.delivery_id} sent before an earlier one")
                        sent.append((str(lease.customer_id), lease.delivery_id))
                    time.sleep(0.002)  # the exchange with the target
                    if not outbox.settle(c, lease, status="delivered", at=AT, status_code=204):
                        with lock:
                            problems.append(f"{lease.delivery_id}: lease lost")

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    ids = [d for _, d in sent]
    assert len(ids) == len(set(ids)) == len(CUSTOMERS) * PER_CUSTOMER  # each exactly once
    for cid in CUSTOMERS:
        mine = [d for c, d in sent if c == cid]
        assert mine == sorted(mine), cid
    counts = conn.execute(
        "SELECT status, count(*) AS n, max(attempts) AS attempts FROM webhook_deliveries "
        "GROUP BY status"
    ).fetchall()
    assert counts == [{"status": "delivered", "n": len(ids), "attempts": 1}]
    attempts = conn.execute("SELECT count(*) AS n FROM webhook_attempts").fetchone()
    assert attempts == {"n": len(ids)}


def test_a_chain_waits_for_its_head_while_others_go(conn: Any) -> None:
    setup_deliveries(conn, per_customer=2)
    now = time.time()
    first = outbox.claim(conn, limit=10, lease=30, now=now, at=AT)
    assert sorted(str(lease.customer_id) for lease in first) == sorted(CUSTOMERS)  # heads only
    assert outbox.claim(conn, limit=10, lease=30, now=now, at=AT) == []  # all heads leased
    assert outbox.settle(conn, first[0], status="delivered", at=AT)
    second = outbox.claim(conn, limit=10, lease=30, now=now, at=AT)
    assert [lease.customer_id for lease in second] == [first[0].customer_id]


def test_an_expired_lease_is_taken_over_and_the_stale_worker_refused(
    db_url: str, conn: Any
) -> None:
    setup_deliveries(conn, per_customer=1)
    now = time.time()
    with connect(db_url) as a, connect(db_url) as b:
        stale = outbox.claim(a, limit=1, lease=10, now=now, at=AT)[0]
        assert outbox.claim(b, limit=1, lease=10, now=now + 5, at=AT)[0].delivery_id != (
            stale.delivery_id
        )  # still leased: b takes another customer's head
        taken = [
            lease
            for lease in outbox.claim(b, limit=5, lease=10, now=now + 11, at=AT)
            if lease.delivery_id == stale.delivery_id
        ]
        assert len(taken) == 1 and taken[0].token != stale.token
        assert taken[0].attempt == stale.attempt  # the stale attempt never settled
        assert outbox.settle(b, taken[0], status="delivered", at=AT, status_code=200)
        # The stale worker comes back with its own result: refused, b's result stands.
        assert not outbox.settle(a, stale, status="dead", at=AT, status_code=500, error="x")
    row = conn.execute(
        "SELECT status, last_status, claim FROM webhook_deliveries WHERE id = %s",
        [stale.delivery_id],
    ).fetchone()
    assert row == {"status": "delivered", "last_status": 200, "claim": None}


def test_release_gives_back_unattempted_leases(conn: Any) -> None:
    setup_deliveries(conn, per_customer=1)
    now = time.time()
    leases = outbox.claim(conn, limit=3, lease=30, now=now, at=AT)
    outbox.release(conn, leases)
    again = outbox.claim(conn, limit=3, lease=30, now=now, at=AT)
    assert sorted(lease.delivery_id for lease in again) == sorted(
        lease.delivery_id for lease in leases
    )


def test_fan_out_reads_the_outbox_in_commit_order(db_url: str, conn: Any) -> None:
    add_customer(conn, "c1")
    with connect(db_url) as slow, connect(db_url) as fast, slow.transaction():
        first = publish(slow, "c1", 1)
        with fast.transaction():
            second = publish(fast, "c1", 2)
    with conn.transaction():
        start = outbox.lock_cursor(conn)
        batch = outbox.pending_outbox(conn)
        assert [e["id"] for e in batch] == [second, first]
        assert start == 0
        outbox.advance_cursor(conn, batch[-1]["seq"])
    with conn.transaction():
        assert outbox.pending_outbox(conn) == []


def test_erasing_events_cancels_their_pending_deliveries(conn: Any) -> None:
    add_customer(conn, "c1")
    with conn.transaction():
        event_id = publish(conn, "c1")
    setup_deliveries(conn, per_customer=1)
    with conn.transaction():
        conn.execute("UPDATE webhook_messages SET event_id = %s", [event_id])
        conn.execute("DELETE FROM events WHERE customer_id = 'c1'")
    found = conn.execute("SELECT DISTINCT status, last_error FROM webhook_deliveries").fetchall()
    assert found == [{"status": "cancelled", "last_error": "event deleted (customer erased)"}]
    assert events.after(conn, 0) == []
