"""The per-process events reader behind every open stream (assistant/sidebar/hub.py):
streams that start, resume and stop while other connections commit events each get
every event of their customer exactly once and in order, and nothing is left behind."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

from assistant.sidebar import hub as hubs
from assistant.sidebar.hub import HandedOut
from assistant.sidebar.stream import _backfill, _json_message
from assistant.store.sqlite.db import connect, migrate, row, rows, writing
from assistant.store.sqlite.events import Event, publish

CUSTOMERS = ["c-1", "c-2", "c-3"]


def _db(tmp_path: Path) -> str:
    path = str(tmp_path / "hub.db")
    db = connect(path)
    migrate(db)
    for c in CUSTOMERS:
        db["customers"].insert({"id": c, "created_at": "2026-11-29", "updated_at": "2026-11-29"})
    db.conn.close()
    return path


def _write(path: str, count: int, seed: int) -> None:
    """`count` events over the customers, one transaction each, from its own connection."""
    rnd = random.Random(seed)
    db = connect(path)
    try:
        for i in range(count):
            with writing(db):
                publish(
                    db,
                    Event("consent.changed", rnd.choice(CUSTOMERS), "w", "2026", {"n": i}),
                )
            if i % 7 == 0:
                time.sleep(0.001)
    finally:
        db.conn.close()


def _follow(
    hub: hubs.EventHub, path: str, customer: str, after: int, done: threading.Event
) -> list[int]:
    """What a stream does: subscribe, catch up from the table, then take the hub's
    events, skipping ids already sent; stops once the writers are done and it is idle."""
    sub = hub.subscribe(customer)
    sent: list[int] = []
    last = after
    try:
        pending, more = _backfill(path, customer, after)
        while True:
            for event in pending:
                if int(event["id"]) > last:
                    assert event["customer_id"] == customer
                    last = int(event["id"])
                    sent.append(last)
            if more:
                pending, more = _backfill(path, customer, last)
                continue
            pending = sub.wait(0.3)
            if not pending and done.is_set():
                return sent
    finally:
        sub.close()


def test_streams_started_during_writes_get_every_event_once_in_order(tmp_path: Path) -> None:
    path = _db(tmp_path)
    hub = hubs.EventHub(path, poll_seconds=0.01)
    done = threading.Event()
    writers = [threading.Thread(target=_write, args=(path, 300, s)) for s in range(2)]
    for w in writers:
        w.start()
    results: list[tuple[str, int, list[int]]] = []
    lock = threading.Lock()

    def stream(customer: str, delay: float, back: int) -> None:
        time.sleep(delay)
        db = connect(path)
        now = int((row(db, "SELECT max(id) AS n FROM events") or {}).get("n") or 0)
        db.conn.close()
        after = max(0, now - back)  # some resume from an earlier Last-Event-ID
        got = _follow(hub, path, customer, after, done)
        with lock:
            results.append((customer, after, got))

    rnd = random.Random(1)
    streams = [
        threading.Thread(
            target=stream, args=(CUSTOMERS[i % 3], rnd.uniform(0, 0.5), rnd.choice([0, 5, 50]))
        )
        for i in range(30)
    ]
    for s in streams:
        s.start()
    for w in writers:
        w.join()
    done.set()
    for s in streams:
        s.join(timeout=30)
    assert len(results) == 30
    db = connect(path)
    try:
        for customer, after, got in results:
            expected = [
                e["id"]
                for e in rows(
                    db,
                    "SELECT id FROM events WHERE customer_id = ? AND id > ? ORDER BY id",
                    [customer, after],
                )
            ]
            assert got == expected  # all of them, each once, in order
    finally:
        db.conn.close()
    assert hub.open_subscriptions() == 0  # every stream let go


def test_one_reader_per_process_however_many_streams(tmp_path: Path) -> None:
    path = _db(tmp_path)
    hub = hubs.hub_for(path, 0.01)
    assert hubs.hub_for(path, 0.01) is hub
    before = threading.active_count()
    subs = [hub.subscribe(CUSTOMERS[i % 3]) for i in range(100)]
    assert threading.active_count() == before + 1  # one reader thread for 100 streams
    db = connect(path)
    for c in CUSTOMERS:  # one event each, committed by another connection
        with writing(db):
            publish(db, Event("consent.changed", c, "w", "2026", {}))
    db.conn.close()
    for sub in subs:
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while not got:
            got = sub.wait(0.2)
            assert time.monotonic() < deadline, "an open stream was not woken"
        assert [e["customer_id"] for e in got] == [sub.customer_id]
    for sub in subs:
        sub.close()
    assert hub.open_subscriptions() == 0


def test_an_events_json_message_is_made_once_for_all_streams() -> None:
    event = HandedOut({"id": 5, "type": "consent.changed", "customer_id": "c", "data": {"a": 1}})
    first = _json_message(event)
    assert _json_message(event) is first  # the next stream sends the same text
    assert first == _json_message(dict(event))  # as a stream would make it afresh
    assert first.startswith("id: 5\nevent: consent.changed\ndata: {")


def test_a_commit_of_this_process_reaches_the_streams_before_the_next_poll(
    tmp_path: Path,
) -> None:
    """The reader polls for other processes' commits; this process's own wake it at once
    (a sidebar sees a note saved through the same worker without waiting for a poll)."""
    path = _db(tmp_path)
    hub = hubs.hub_for(path, 30.0)  # a poll far longer than the test
    sub = hub.subscribe(CUSTOMERS[0])
    time.sleep(0.3)  # the reader has read once and now waits for its next poll
    db = connect(path)
    try:
        with writing(db):
            publish(db, Event("consent.changed", CUSTOMERS[0], "w", "2026", {}))
        committed = time.monotonic()
        got = sub.wait(5.0)
        waited = time.monotonic() - committed
    finally:
        db.conn.close()
        sub.close()
    assert [e["customer_id"] for e in got] == [CUSTOMERS[0]]
    assert waited < 1.0, f"the event came after {waited:.2f} s"
