"""Kept-alive connections to webhook targets (assistant/webhooks/transport.py): reused
while the target keeps them open, never across a changed address check, and a
connection the target closed meanwhile costs nothing but a new connection."""

from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
from collections.abc import Iterator

import pytest

from assistant.webhooks import transport

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


class KeepAliveTarget:
    """An HTTP/1.1 target that records the client port of every request."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target.ports.append(self.client_address[1])
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target() -> Iterator[KeepAliveTarget]:
    t = KeepAliveTarget()
    yield t
    t.close()


def post(url: str, pool: transport.ConnectionPool | None) -> transport.Outcome:
    return transport.post(
        url, b"{}", {}, connect_timeout=2, read_timeout=2, allowed=LOOPBACK, pool=pool
    )


def test_deliveries_to_one_target_share_a_connection(target: KeepAliveTarget) -> None:
    pool = transport.ConnectionPool()
    try:
        outcomes = [post(target.url, pool) for _ in range(5)]
        assert [o.status for o in outcomes] == [204] * 5
        assert len(target.ports) == 5 and len(set(target.ports)) == 1
    finally:
        pool.close()


def test_without_a_pool_each_delivery_connects_anew(target: KeepAliveTarget) -> None:
    assert [post(target.url, None).status for _ in range(3)] == [204] * 3
    assert len(set(target.ports)) == 3


def test_a_connection_is_reused_only_for_an_address_that_passed_the_check(
    target: KeepAliveTarget,
) -> None:
    pool = transport.ConnectionPool()
    try:
        assert post(target.url, pool).status == 204
        key = ("http", "127.0.0.1", target.server.server_port, id(None))
        assert pool.take(key, ["127.0.0.2"]) is None  # not where it is connected
        assert post(target.url, pool).status == 204  # so a new connection
        assert len(set(target.ports)) == 2
    finally:
        pool.close()


def test_a_connection_the_target_closed_is_replaced_and_the_delivery_made_once() -> None:
    """A target that answers, then closes without saying so (no Connection: close)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    requests: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data or not data.endswith(b"{}"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                requests.append(data)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
    pool = transport.ConnectionPool()
    try:
        assert post(url, pool).status == 200
        key = ("http", "127.0.0.1", listener.getsockname()[1], id(None))
        kept = pool.take(key, ["127.0.0.1"])
        assert kept is not None  # kept alive, as the answer did not say otherwise
        pool.give(key, kept)
        assert post(url, pool).status == 200  # the kept one was closed: a new one
        assert len(requests) == 2  # each delivery reached the target once
    finally:
        pool.close()
        listener.close()
