"""Outbound webhook delivery: deliveries per second to a loopback receiver, and the lag
from an event's commit to its receipt (p50 / p99).

    .venv/bin/python benchmarks/webhooks.py            # about 15 s
    .venv/bin/python benchmarks/webhooks.py --events 5000 --json
    .venv/bin/python benchmarks/webhooks.py --receiver-delay-ms 100 --events 1000

Everything runs in this process on a temporary database: a receiver on 127.0.0.1 that
answers 200 at once, or after --receiver-delay-ms as a CRM across the internet would
(checking nothing), one subscription to it, and the real worker
(`assistant.webhooks.worker.Worker`) with the default concurrency. Both phases are
bounded by --seconds each.

1. Throughput: a backlog of --events events over --customers customers is committed,
   then the worker drains it; deliveries/s = events / time to the last receipt.
2. Lag: with the worker running, --lag-events events are committed one at a time,
   --interval-ms apart; lag = receipt time - commit time, per event.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import create_app  # noqa: E402
from assistant.store.sqlite.db import connect, database_path, writing  # noqa: E402
from assistant.store.sqlite.events import Event, publish  # noqa: E402
from assistant.webhooks import subscriptions  # noqa: E402
from assistant.webhooks.worker import Worker  # noqa: E402


class Receiver:
    """Records the arrival time of each event id; answers 200 after `delay` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.arrived: dict[int, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.perf_counter()
                event_id = json.loads(body)["data"]["event_id"]
                with receiver.lock:
                    receiver.arrived.setdefault(event_id, now)
                if delay:
                    time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks"

    def count(self) -> int:
        with self.lock:
            return len(self.arrived)


def wait_for(receiver: Receiver, count: int, deadline: float) -> bool:
    while time.perf_counter() < deadline:
        if receiver.count() >= count:
            return True
        time.sleep(0.002)
    return False


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="backlog for the throughput")
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--lag-events", type=int, default=300)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=60.0, help="bound of each phase")
    parser.add_argument(
        "--receiver-delay-ms", type=float, default=0.0, help="the receiver's time to answer"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="trustline-bench-")
    os.environ["TRUSTLINE_DATABASE"] = str(Path(tmp) / "bench.db")
    os.environ["TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"
    app = create_app()
    db = connect(database_path(app))
    receiver = Receiver(args.receiver_delay_ms / 1000)
    subscriptions.create(db, receiver.url, ["*"], actor="bench")
    worker = Worker(app)
    at = datetime.now(UTC).isoformat()

    # 1. throughput: drain a committed backlog
    with writing(db):
        first = None
        for i in range(args.events):
            customer = f"c-{i % args.customers}"
            event_id = publish(db, Event("consent.changed", customer, "bench", at, {"n": i}))
            first = first if first is not None else event_id
    stop = threading.Event()
    started = time.perf_counter()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    drained = wait_for(receiver, args.events, started + args.seconds)
    elapsed = (
        max(receiver.arrived.values()) if receiver.arrived else time.perf_counter()
    ) - started
    delivered = receiver.count()

    # 2. lag: events committed one by one while the worker runs
    committed: dict[int, float] = {}
    lag_deadline = time.perf_counter() + args.seconds
    for i in range(args.lag_events):
        if time.perf_counter() > lag_deadline:
            break
        with writing(db):
            event_id = publish(db, Event("consent.changed", f"l-{i % 10}", "bench", at, {"n": i}))
        committed[event_id] = time.perf_counter()
        time.sleep(args.interval_ms / 1000)
    wait_for(receiver, delivered + len(committed), lag_deadline + 5)
    stop.set()
    thread.join(timeout=30)
    lags = [(receiver.arrived[e] - t) * 1000 for e, t in committed.items() if e in receiver.arrived]

    result = {
        "deliveries_per_s": round(delivered / elapsed, 1) if elapsed > 0 else 0.0,
        "backlog_events": args.events,
        "backlog_delivered": delivered,
        "backlog_complete": drained,
        "backlog_seconds": round(elapsed, 3),
        "customers": args.customers,
        "concurrency": worker.config.concurrency,
        "receiver_delay_ms": args.receiver_delay_ms,
        "lag_ms_p50": round(statistics.median(lags), 1) if lags else None,
        "lag_ms_p99": round(percentile(lags, 99), 1) if lags else None,
        "lag_ms_max": round(max(lags), 1) if lags else None,
        "lag_events": len(lags),
        "lag_interval_ms": args.interval_ms,
        "poll_ms": round(worker.config.poll_interval * 1000),
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"deliveries/s (backlog of {args.events:,}, {args.customers} customers): "
            f"{result['deliveries_per_s']:>8}  ({delivered:,} in {elapsed:.2f} s)"
        )
        print(f"commit-to-receipt lag p50      : {result['lag_ms_p50']:>8} ms")
        print(
            f"commit-to-receipt lag p99      : {result['lag_ms_p99']:>8} ms "
            f"(max {result['lag_ms_max']} ms, {len(lags)} events {args.interval_ms:g} ms apart)"
        )
        print(
            f"worker concurrency {result['concurrency']}, poll {result['poll_ms']} ms, "
            f"{result['cpus']} CPUs, receiver in the same process"
            + (f", answering after {args.receiver_delay_ms:g} ms" if args.receiver_delay_ms else "")
        )
    receiver.server.shutdown()
    db.conn.close()
    return 0 if drained and len(lags) == len(committed) else 1


if __name__ == "__main__":
    sys.exit(main())
