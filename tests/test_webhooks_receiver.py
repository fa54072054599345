"""A real webhook receiver on loopback for the webhook tests (issue 5), and its own checks.

`Receiver` is an HTTP server on 127.0.0.1 (a free port) in a thread. It answers from a
script (by default 200), records every request, and processes each webhook-id once,
like a careful consumer: `processed` holds the first copy of each message.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# script(webhook_id, attempt_number, body) -> (status, extra headers)
Script = Callable[[str, int, bytes], tuple[int, dict[str, str]]]


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    at: float
    path: str


@dataclass
class Receiver:
    script: Script | None = None
    delay: float = 0.0  # seconds before answering
    requests: list[Request] = field(default_factory=list)
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # webhook-ids, first receipt order
    attempts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, extra = receiver.handle(dict(self.headers), body, self.path)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks"

    def handle(self, headers: dict[str, str], body: bytes, path: str) -> tuple[int, dict[str, str]]:
        msg_id = {k.lower(): v for k, v in headers.items()}.get("webhook-id", "")
        with self.lock:
            self.requests.append(Request(headers, body, time.monotonic(), path))
            attempt = self.attempts[msg_id] = self.attempts.get(msg_id, 0) + 1
        status, extra = self.script(msg_id, attempt, body) if self.script else (200, {})
        if 200 <= status < 300:
            with self.lock:
                if msg_id not in self.processed:  # dedupe on webhook-id
                    self.processed[msg_id] = json.loads(body)
                    self.order.append(msg_id)
        return status, extra

    def wait_for(self, count: int, timeout: float = 20.0) -> bool:
        """Wait until `count` distinct messages were processed (bounded in time)."""
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            with self.lock:
                if len(self.processed) >= count:
                    return True
            time.sleep(0.01)
        return False

    def by_customer(self) -> dict[str, list[Any]]:
        """The `data.n` of each processed message per customer, in receipt order."""
        out: dict[str, list[Any]] = {}
        with self.lock:
            for msg_id in self.order:
                data = self.processed[msg_id]["data"]
                out.setdefault(data["customer_id"], []).append(data.get("n"))
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def post(url: str, body: bytes = b"{}", headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_receiver_processes_each_webhook_id_once() -> None:
    receiver = Receiver()
    try:
        body = json.dumps({"data": {"customer_id": "c", "n": 1}}).encode()
        for _ in range(3):
            assert post(receiver.url, body, {"webhook-id": "msg_1"}) == 200
        assert len(receiver.requests) == 3
        assert list(receiver.processed) == ["msg_1"]
        assert receiver.by_customer() == {"c": [1]}
    finally:
        receiver.close()


def test_the_receiver_follows_its_script() -> None:
    receiver = Receiver(script=lambda _id, n, _b: (500, {}) if n < 3 else (200, {}))
    try:
        statuses = [post(receiver.url, b'{"data": {}}', {"webhook-id": "m"}) for _ in range(3)]
        assert statuses == [500, 500, 200]
        assert receiver.attempts == {"m": 3}
    finally:
        receiver.close()
