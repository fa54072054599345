"""Slow clients (issue 12, item 5): 1,000 connections trickling a header every 3 s stopped
`/healthz` answering for 40 s. A bounded attack with real sockets on loopback against
`trustline serve`, then the pure reading rules without a server."""

from __future__ import annotations

import contextlib
import http.client
import json
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_serving import Server

from assistant.slow_clients import (
    BODY_TOO_LARGE,
    HEAD_TOO_LARGE,
    MORE,
    READY,
    progress,
    without_expect,
)

HEADER_TIMEOUT = 6  # the server's, for this test: the attack outlives it
BODY_TIMEOUT = 6
PER_CLIENT = 64
TRICKLE_SECONDS = 3.0
HEAD_TRICKLERS = 1000  # from 20 addresses, 50 each (under PER_CLIENT on any worker)
BODY_TRICKLERS = 100  # a whole head, then a byte of the body every 3 s
ATTACK_SECONDS = 14.0  # more than two rounds of the server's timeouts
ANSWER_WITHIN = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("slow"),
        TRUSTLINE_THREADS="32",
        TRUSTLINE_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        TRUSTLINE_BODY_TIMEOUT=str(BODY_TIMEOUT),
        TRUSTLINE_MAX_CONNECTIONS_PER_CLIENT=str(PER_CLIENT),
        TRUSTLINE_WEBHOOK_WORKER="0",
    )
    yield srv
    srv.stop()


class Attack:
    """Slow connections from loopback addresses other than 127.0.0.1, each sending part
    of a request and one more header line (or body byte) every TRICKLE_SECONDS. One the
    server closes is opened again, so that the attack holds all of them for its whole
    ATTACK_SECONDS. Records what the server answered and when it closed each one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.socks: dict[socket.socket, tuple[int, str, float]] = {}  # (i, kind, opened)
        self.answers: list[tuple[str, bytes, float]] = []  # kind, answer, seconds open
        self.received: dict[socket.socket, bytes] = {}
        self.refused = 0  # connections that could not be opened
        self.opened = 0
        self.stop = threading.Event()

    def open(self, i: int) -> None:
        kind = "head" if i < HEAD_TRICKLERS else "body"
        try:
            s = socket.create_connection(
                ("127.0.0.1", self.port), timeout=5, source_address=(f"127.0.0.{2 + i // 50}", 0)
            )
            if kind == "head":
                s.sendall(b"POST /api/v1/customers/c-1/notes HTTP/1.1\r\nHost: x\r\n")
            else:
                s.sendall(
                    b"POST /api/v1/customers/c-1/notes HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
                )
        except OSError:
            self.refused += 1
            return
        s.setblocking(False)
        self.socks[s] = (i, kind, time.monotonic())
        self.received[s] = b""
        self.sel.register(s, selectors.EVENT_READ)
        self.opened += 1

    def open_all(self) -> None:
        for i in range(HEAD_TRICKLERS + BODY_TRICKLERS):
            self.open(i)

    def run(self) -> None:
        ends = time.monotonic() + ATTACK_SECONDS
        next_trickle = time.monotonic() + TRICKLE_SECONDS
        while time.monotonic() < ends and not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.2):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                self.received[s] += data
                if not data:  # closed by the server: record it, and open another
                    i, kind, opened = self.socks.pop(s)
                    self.sel.unregister(s)
                    s.close()
                    self.answers.append((kind, self.received.pop(s), time.monotonic() - opened))
                    self.open(i)
            if time.monotonic() >= next_trickle:
                next_trickle += TRICKLE_SECONDS
                for s, (_, kind, _) in list(self.socks.items()):
                    with contextlib.suppress(OSError):
                        s.send(b"X-Slow: 1\r\n" if kind == "head" else b" ")

    def close(self) -> None:
        for s in self.socks:
            s.close()
        self.sel.close()


def _timed(srv: Server, method: str, path: str, body: object = None) -> tuple[int, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {srv.key}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.monotonic() - started
    finally:
        conn.close()


def test_slow_clients_hold_no_thread_and_are_cut_off(server: Server) -> None:
    assert server.request("PUT", "/api/v1/customers/c-1", {})[0] in (200, 201)
    attack = Attack(server.port)
    attack.open_all()
    assert attack.refused == 0
    runner = threading.Thread(target=attack.run)
    runner.start()
    health: list[float] = []
    notes: list[float] = []
    try:
        n = 0
        while runner.is_alive() and n < 300:  # bounded: the attack's time, or 300 probes
            status, took = _timed(server, "GET", "/healthz")
            assert status == 200
            health.append(took)
            if n % 4 == 0:
                note = {"text": f"cust prefers email ({n})", "agent": "a1", "source": "crm"}
                status, took = _timed(server, "POST", "/api/v1/customers/c-1/notes", note)
                assert status == 201
                notes.append(took)
            n += 1
            time.sleep(0.1)
    finally:
        attack.stop.set()
        runner.join(timeout=30)
        attack.close()
    lived = [t for _, _, t in attack.answers]
    print(
        f"\nslowloris: {HEAD_TRICKLERS + BODY_TRICKLERS} slow connections held for "
        f"{ATTACK_SECONDS:.0f} s ({attack.opened} opened); /healthz worst "
        f"{max(health) * 1000:.0f} ms of {len(health)}, note POST worst "
        f"{max(notes) * 1000:.0f} ms of {len(notes)}; the server cut "
        f"{len(lived)} off after {min(lived, default=0):.1f}-{max(lived, default=0):.1f} s"
    )
    assert attack.refused == 0  # all held: no per-address limit was reached
    assert len(health) >= 40 and len(notes) >= 10
    assert max(health) < ANSWER_WITHIN, health
    assert max(notes) < ANSWER_WITHIN, notes
    # Every slow connection was cut off by the server in time, with a 408 naming the
    # bound; the whole first round of them at least.
    assert len(lived) >= HEAD_TRICKLERS + BODY_TRICKLERS
    assert max(lived) < max(HEADER_TIMEOUT, BODY_TIMEOUT) + 3
    for kind, answer, _ in attack.answers:
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
        setting = b"TRUSTLINE_HEADER_TIMEOUT" if kind == "head" else b"TRUSTLINE_BODY_TIMEOUT"
        assert setting in answer


def test_one_address_holds_a_bounded_number_of_connections(server: Server) -> None:
    count = 3 * PER_CLIENT  # more than 2 workers x PER_CLIENT
    socks = []
    try:
        for _ in range(count):
            socks.append(
                socket.create_connection(
                    ("127.0.0.1", server.port), timeout=5, source_address=("127.0.0.200", 0)
                )
            )
        refused = 0
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        ends = time.monotonic() + 3.0  # the refusals come at once; bounded wait
        while time.monotonic() < ends and refused < count - 2 * PER_CLIENT:
            for key, _ in sel.select(timeout=0.2):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                sel.unregister(s)
                with contextlib.suppress(OSError):
                    if s.recv(4096).startswith(b"HTTP/1.1 429 "):
                        refused += 1
        sel.close()
        assert refused >= count - 2 * PER_CLIENT
        # Another address is served meanwhile.
        assert _timed(server, "GET", "/healthz")[0] == 200
    finally:
        for s in socks:
            s.close()


def test_a_request_sent_in_pieces_is_served_whole(server: Server) -> None:
    # The pre-read gives the thread the same request, headers and body intact, and
    # answers an expectation of 100 Continue itself.
    body = json.dumps({"text": "cust prefers sms"}).encode()
    head = (
        f"POST /api/v1/extract HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        for piece in (head[:10], head[10:40], head[40:]):
            s.sendall(piece)
            time.sleep(0.05)
        assert s.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(body)
        reply = s.makefile("rb")
        assert reply.readline().startswith(b"HTTP/1.1 200 ")
        length = 0
        for line in iter(reply.readline, b"\r\n"):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        facts = json.loads(reply.read(length))["facts"]
    assert [f["value"] for f in facts] == ["sms"]


# -- the reading rules, without a server ----------------------------------------------


@pytest.mark.parametrize(
    ("data", "state"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n", MORE),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", READY),
        (b"\r\nGET / HTTP/1.1\r\n\r\n", READY),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", MORE),
        (b"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nabcde", READY),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", READY),
        (b"POST / HTTP/1.1\r\nContent-Length: 999\r\n\r\n", BODY_TOO_LARGE),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", MORE),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", READY),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n", MORE),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n\r\n", READY),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", READY),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n", BODY_TOO_LARGE),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200, HEAD_TOO_LARGE),
    ],
)
def test_progress_says_when_a_request_is_whole(data: bytes, state: str) -> None:
    assert progress(data, max_head=1000, max_body=100).state == state


def test_an_answered_expectation_is_taken_out() -> None:
    data = b"POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nab"
    found = progress(data, 1000, 100)
    assert found.expects_continue
    assert without_expect(data, found.head_end) == (
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"
    )


def test_settings_reach_the_workers(tmp_path: Path) -> None:
    from assistant import create_app
    from assistant.slow_clients import ReadLimits

    app = create_app({"TRUSTLINE_DATABASE": str(tmp_path / "t.db"), "TRUSTLINE_HEADER_TIMEOUT": 3})
    limits = ReadLimits.from_config(app.config)
    assert (limits.header_seconds, limits.body_seconds, limits.per_client) == (3, 30, 256)
    assert limits.max_body == app.config["TRUSTLINE_MAX_REQUEST_BYTES"]
