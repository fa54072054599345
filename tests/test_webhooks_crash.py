"""The worker survives SIGKILL (issue 5): `trustline webhooks worker` in a subprocess is
killed in the middle of a burst of 1,000 events and restarted; the receiver, which
dedupes on webhook-id, ends up with every event, in each customer's order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from test_webhooks_receiver import Receiver

from assistant.store.sqlite.db import connect, migrate, row, writing
from assistant.store.sqlite.events import Event, publish
from assistant.webhooks import subscriptions

EVENTS = 1000
CUSTOMERS = 10


def start_worker(db_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TRUSTLINE_DATABASE": str(db_path),
        "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "TRUSTLINE_WEBHOOK_RETRY_SCHEDULE": "0,0.1",
        "TRUSTLINE_WEBHOOK_MAX_ATTEMPTS": "20",
        "TRUSTLINE_WEBHOOK_CONNECT_TIMEOUT_MS": "500",
        "TRUSTLINE_WEBHOOK_READ_TIMEOUT_MS": "1000",
        "TRUSTLINE_WEBHOOK_POLL_MS": "20",
        "TRUSTLINE_WEBHOOK_CONCURRENCY": "4",
    }
    code = "from assistant.cli import main; main(['webhooks', 'worker', '--timeout', '90'])"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def emit(db_path: Path, start: int, count: int, counters: dict[str, int]) -> None:
    db = connect(db_path)
    try:
        for first in range(start, start + count, 25):
            with writing(db):
                for i in range(first, min(first + 25, start + count)):
                    customer = f"c-{i % CUSTOMERS}"
                    n = counters[customer] = counters.get(customer, -1) + 1
                    at = datetime.now(UTC).isoformat()
                    publish(db, Event("consent.changed", customer, "burst", at, {"n": n}))
            time.sleep(0.005)
    finally:
        db.conn.close()


def stop(worker: subprocess.Popen[bytes], sig: int) -> None:
    if worker.poll() is None:
        worker.send_signal(sig)
        worker.wait(timeout=30)


def test_sigkill_in_the_middle_of_a_burst_loses_nothing(tmp_path: Path) -> None:
    db_path = tmp_path / "trustline.db"
    db = connect(db_path)
    migrate(db)
    receiver = Receiver(delay=0.002)  # a little work per request, like a real consumer
    subscriptions.create(db, receiver.url, ["*"], actor="test")
    counters: dict[str, int] = {}
    worker = start_worker(db_path)
    try:
        emit(db_path, 0, EVENTS // 2, counters)
        assert receiver.wait_for(200, timeout=60), "the worker delivered too little"
        stop(worker, signal.SIGKILL)
        assert worker.returncode == -signal.SIGKILL
        assert len(receiver.processed) < EVENTS // 2  # killed mid-burst
        emit(db_path, EVENTS // 2, EVENTS - EVENTS // 2, counters)
        in_flight = row(
            db, "SELECT count(*) AS n FROM webhook_deliveries WHERE status != 'delivered'"
        )
        assert in_flight is not None and in_flight["n"] > 0

        worker = start_worker(db_path)
        assert receiver.wait_for(EVENTS, timeout=90), f"only {len(receiver.processed)} arrived"
        stop(worker, signal.SIGTERM)
        assert worker.returncode == 0

        assert len(receiver.processed) == EVENTS  # none lost (duplicates were deduped)
        assert len(receiver.requests) >= EVENTS
        expected = {f"c-{c}": list(range(EVENTS // CUSTOMERS)) for c in range(CUSTOMERS)}
        assert receiver.by_customer() == expected  # each customer's order kept
        left = row(db, "SELECT count(*) AS n FROM webhook_deliveries WHERE status != 'delivered'")
        assert left is not None and left["n"] == 0
    finally:
        stop(worker, signal.SIGKILL)
        receiver.close()
        db.conn.close()
