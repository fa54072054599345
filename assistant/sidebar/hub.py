"""One reader of the events table per process, fanning new events out to its open streams.

Every write appends its events to the `events` table in its own transaction (the outbox),
whatever process made it. Instead of each open stream polling the table (hundreds of
streams, each a query every poll), one thread per process reads the events that are newer
than the last it saw, every `TRUSTLINE_SSE_POLL_MS`, and hands each to the subscriptions
of its customer. A subscription first catches up from the table itself (`backfill`), so a
stream resuming after `Last-Event-ID` misses nothing between its start and the hub's
next read.

Event ids are AUTOINCREMENT and writers are serialized (BEGIN IMMEDIATE), so ids are
committed in order: once the hub has read id N, every event with a smaller id is visible
and was handed out.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from ..store.sqlite.db import connect, on_commit
from ..store.sqlite.events import after as events_after
from ..store.sqlite.sidebar import sidebar_store

log = logging.getLogger(__name__)

READ_LIMIT = 1000  # events read at once; the hub reads again at once while there are more


class HandedOut(dict[str, Any]):
    """An event as the hub hands it to every stream of its customer. `message` keeps the
    SSE message the first API stream made of it, so that the others send it as is."""

    message: str | None = None


class Subscription:
    """What one open stream receives: the events of one customer, in id order."""

    def __init__(self, hub: EventHub, customer_id: str) -> None:
        self.hub = hub
        self.customer_id = customer_id
        self._events: deque[dict[str, Any]] = deque()
        self._ready = threading.Event()

    def _push(self, events: list[dict[str, Any]]) -> None:  # under the hub's lock
        self._events.extend(events)
        self._ready.set()

    def wait(self, timeout: float) -> list[dict[str, Any]]:
        """The events handed over since the last call, waiting up to `timeout` seconds."""
        self._ready.wait(timeout)
        with self.hub.lock:
            events = list(self._events)
            self._events.clear()
            self._ready.clear()
        return events

    def close(self) -> None:
        self.hub.unsubscribe(self)


class EventHub:
    """The events reader of one process and one database."""

    def __init__(self, path: str, poll_seconds: float) -> None:
        self.path = path
        self.poll_seconds = poll_seconds
        self.lock = threading.Lock()
        self._someone_listens = threading.Condition(self.lock)
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._cursor: int | None = None  # the newest event id handed out
        self._thread: threading.Thread | None = None
        self._poked = threading.Event()  # this process committed: read now

    def poke(self) -> None:
        """Read at once rather than at the next poll (a commit of this process)."""
        self._poked.set()

    def subscribe(self, customer_id: str) -> Subscription:
        """Start receiving the customer's events newer than the hub's last read.

        Call `backfill` next for the events before that; each event may then arrive
        twice (from both), and the stream skips ids it has sent.
        """
        sub = Subscription(self, customer_id)
        with self.lock:
            if self._cursor is None:
                # Read where to start before anyone backfills, so that nothing committed
                # between a backfill and the hub's first read is skipped.
                db = connect(self.path)
                try:
                    self._cursor = sidebar_store(db).last_event_id()
                finally:
                    db.conn.close()
            self._subscriptions.setdefault(customer_id, set()).add(sub)
            self._someone_listens.notify()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="trustline-event-hub", daemon=True
                )
                self._thread.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self.lock:
            subs = self._subscriptions.get(sub.customer_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscriptions[sub.customer_id]

    def open_subscriptions(self) -> int:
        with self.lock:
            return sum(len(s) for s in self._subscriptions.values())

    def _run(self) -> None:
        db = None
        failing = False
        while True:
            with self.lock:
                while not self._subscriptions:  # idle: forget the place, start anew later
                    self._cursor = None
                    if db is not None:
                        db.conn.close()
                        db = None
                    self._someone_listens.wait()
                cursor = self._cursor or 0
            try:
                if db is None:
                    db = connect(self.path)
                batch = [HandedOut(e) for e in events_after(db, cursor, None, READ_LIMIT)]
            except Exception as exc:  # the streams depend on this thread: never die
                if not failing:
                    log.warning("event streams cannot read the events table: %r", exc)
                failing = True
                if db is not None:
                    db.conn.close()
                    db = None
                time.sleep(max(self.poll_seconds, 1.0))
                continue
            if failing:
                log.warning("event streams read the events table again")
                failing = False
            if batch:
                self._hand_out(batch)
            if len(batch) < READ_LIMIT:
                # Commits of other processes show at the next poll; this process's own
                # wake the reader at once.
                self._poked.wait(self.poll_seconds)
                self._poked.clear()

    def _hand_out(self, batch: Sequence[dict[str, Any]]) -> None:
        by_customer: dict[str, list[dict[str, Any]]] = {}
        for event in batch:
            by_customer.setdefault(event["customer_id"], []).append(event)
        with self.lock:
            self._cursor = int(batch[-1]["id"])
            for customer_id, events in by_customer.items():
                for sub in self._subscriptions.get(customer_id, ()):
                    sub._push(events)


_hubs: dict[tuple[int, str], EventHub] = {}
_hubs_lock = threading.Lock()


def hub_for(path: str, poll_seconds: float) -> EventHub:
    """This process's hub for the database at `path` (threads do not survive a fork, so
    each gunicorn worker gets its own)."""
    key = (os.getpid(), path)
    with _hubs_lock:
        hub = _hubs.get(key)
        if hub is None:
            hub = _hubs[key] = EventHub(path, poll_seconds)
        return hub


def _poke_hubs() -> None:
    pid = os.getpid()
    for (owner, _), hub in list(_hubs.items()):
        if owner == pid:
            hub.poke()


on_commit(_poke_hubs)
