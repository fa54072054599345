"""The delivery worker: outbox to deliveries, attempts in parallel, results recorded.

One loop owns the database connection; sender threads only do HTTP. It wakes when
another connection commits (the store's change token moves), when a retry or lease falls
due, or when an attempt ends. It also takes up inbound messages whose request died
before processing them, and applies the retention. Stopping it at any moment, even with
SIGKILL, loses nothing: claims run out and are taken again.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime

import sqlite_utils
from flask import Flask

from ..engine import get_extractor, get_policy
from ..store.interface import Store
from ..store.sqlite.db import connect, database_path
from ..store.sqlite.failures import storage_condition
from ..store.sqlite.webhooks import webhook_store
from . import deliveries, inbox, outbox
from .config import INBOUND_CONFIG_KEY, DeliveryConfig, delivery_config, inbound_config
from .network import Resolver, system_resolver
from .outbox import Claim
from .signing import outbound_headers
from .transport import Outcome, post

log = logging.getLogger(__name__)
INBOX_GRACE_SECONDS = 30.0  # a request normally processes its message within this
INBOX_EVERY = 5.0
PRUNE_EVERY = 3600.0
SETTLE_DELAY_SECONDS = 0.02  # longest an ended attempt waits to be recorded with others
CONFIG_KEY = "trustline.webhooks.delivery"


class Worker:
    """Delivers webhooks for one app (its settings and database)."""

    def __init__(
        self,
        app: Flask,
        *,
        config: DeliveryConfig | None = None,
        resolve: Resolver = system_resolver,
        inbox_grace: float = INBOX_GRACE_SECONDS,
    ) -> None:
        self.app = app
        self.config = config or app.extensions.get(CONFIG_KEY) or delivery_config(app.config)
        inbound = app.extensions.get(INBOUND_CONFIG_KEY) or inbound_config(app.config)
        self.trust_identifier = inbound.chatwoot_trust_identifier
        self.resolve = resolve
        self.inbox_grace = inbox_grace

    def send(self, claim: Claim) -> Outcome:
        """One attempt: sign now (a fresh timestamp each time) and POST."""
        try:
            headers = outbound_headers(claim.msg_id, claim.body, claim.secrets, datetime.now(UTC))
            return post(
                claim.url,
                claim.body.encode("utf-8"),
                headers,
                connect_timeout=self.config.connect_timeout,
                read_timeout=self.config.read_timeout,
                allowed=self.config.allowed_networks,
                resolve=self.resolve,
            )
        except Exception as exc:  # a bug here must not lose the claim's outcome
            log.exception("delivery %s: attempt failed inside Trustline", claim.delivery_id)
            return Outcome(None, f"internal error: {type(exc).__name__}")

    def _record(self, db: sqlite_utils.Database, finished: list[tuple[Claim, Outcome]]) -> None:
        """Record the ended attempts and empty `finished`. A storage failure (a full
        disk) raises and keeps them for the next try; any other failure drops them with
        a log line, so that one bad outcome cannot hold up all the others: their claims
        run out and the deliveries are attempted again."""
        try:
            outbox.settle(db, finished, self.config, now=time.time())
        except Exception as exc:
            if storage_condition(exc) is not None:
                raise
            log.exception(
                "webhook worker: could not record %d attempts; they will be made again",
                len(finished),
            )
        finished.clear()

    def _idle(self, db: sqlite_utils.Database) -> bool:
        return webhook_store(db).webhook_work_waiting() == 0

    def run(
        self,
        stop: threading.Event,
        *,
        until_idle: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Deliver until `stop` is set (or, with `until_idle`, until nothing is left to
        do; `timeout` bounds the run in seconds). In-flight attempts finish first."""
        ends = time.monotonic() + timeout if timeout is not None else math.inf
        db = connect(database_path(self.app))
        store: Store = webhook_store(db)
        width = self.config.concurrency
        pool = ThreadPoolExecutor(width, thread_name_prefix="webhook-send")
        in_flight: dict[Future[Outcome], Claim] = {}
        ready: deque[Claim] = deque()  # claimed, waiting for a free sender
        finished: list[tuple[Claim, Outcome]] = []  # attempts ended, not yet recorded
        first_finished = 0.0
        seen_version = -1
        wake_at = 0.0
        last_inbox = last_prune = 0.0
        try:
            with self.app.app_context():
                while not stop.is_set() and time.monotonic() < ends:
                    try:
                        # Record ended attempts a few at a time: each record is a write
                        # transaction, and every note's transaction waits for those. They
                        # go first, also when carried over from a pass that failed, while
                        # their claims still hold.
                        if finished and (
                            not in_flight
                            or len(finished) >= max(1, width // 2)
                            or time.monotonic() >= first_finished + SETTLE_DELAY_SECONDS
                        ):
                            self._record(db, finished)
                            wake_at = 0.0  # a chain may have moved on
                        now = time.time()
                        version = store.change_token()
                        if version != seen_version or now >= wake_at:
                            seen_version = version
                            while outbox.fan_out(db, now=now):
                                pass
                            # Claim in batches (up to twice the senders) to keep
                            # transactions few; a claim waits at most one exchange.
                            want = 2 * width - len(in_flight) - len(ready)
                            if len(ready) < width and want > 0:
                                got = outbox.claim(
                                    db, limit=want, lease=self.config.lease_seconds, now=now
                                )
                                ready.extend(got)
                                due = outbox.next_due(db) if len(got) < want else None
                                wake_at = min(due if due is not None else math.inf, now + 1.0)
                        while ready and len(in_flight) < width:
                            claimed = ready.popleft()
                            in_flight[pool.submit(self.send, claimed)] = claimed
                        if now - last_inbox >= INBOX_EVERY:
                            last_inbox = now
                            inbox.drain(
                                db,
                                get_extractor,
                                get_policy(),
                                older_than=self.inbox_grace,
                                trust_identifier=self.trust_identifier,
                            )
                        if now - last_prune >= PRUNE_EVERY:
                            last_prune = now
                            deliveries.prune(db, retention_days=self.config.retention_days)
                        if in_flight:
                            settle_by = (
                                first_finished + SETTLE_DELAY_SECONDS if finished else math.inf
                            )
                            done, _ = wait(
                                in_flight,
                                timeout=min(
                                    self.config.poll_interval,
                                    max(0.0, settle_by - time.monotonic()),
                                ),
                                return_when=FIRST_COMPLETED,
                            )
                            if done and not finished:
                                first_finished = time.monotonic()
                            finished += [(in_flight.pop(f), f.result()) for f in done]
                        elif finished:
                            continue  # recorded at the top of the next pass
                        elif until_idle and self._idle(db):
                            break
                        else:
                            stop.wait(self.config.poll_interval)
                    except sqlite3.Error as exc:
                        condition = storage_condition(exc)
                        if condition is not None:  # a full disk, say: no traceback each time
                            log.error(
                                "webhook worker: storage unavailable (%s), retrying", condition
                            )
                            stop.wait(5.0)
                        else:
                            log.exception("webhook worker: database error, retrying")
                            stop.wait(1.0)
                    except Exception:  # keep delivering: the state is in the database
                        log.exception("webhook worker: unexpected error, retrying")
                        stop.wait(1.0)
                # On a clean stop, attempts in flight end and are recorded, and claims
                # not yet sent go back at once (a killed worker's wait for their lease).
                if in_flight:
                    done, _ = wait(in_flight, timeout=self.config.lease_seconds)
                    finished += [(in_flight.pop(f), f.result()) for f in done]
                if finished:
                    self._record(db, finished)
                outbox.release(db, list(ready))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            db.conn.close()


def start_worker_thread(app: Flask) -> threading.Thread | None:
    """Run the worker in a daemon thread of this process when TRUSTLINE_WEBHOOK_WORKER
    is on (as `trustline serve` does); returns the thread, or None."""
    if not app.config.get("TRUSTLINE_WEBHOOK_WORKER"):
        return None
    stop = threading.Event()
    thread = threading.Thread(
        target=Worker(app).run, args=(stop,), name="webhook-worker", daemon=True
    )
    thread.start()
    app.extensions["trustline.webhooks.worker"] = (thread, stop)
    return thread
