"""`trustline serve` in production (issue 6): gunicorn in a real subprocess on a free
loopback port with a temporary database, then SIGTERM with a stream still open."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import children, free_port
from test_webhooks_receiver import Receiver

from assistant import serving

START_SECONDS = 60  # loading the pipeline dominates
STOP_SECONDS = 10  # SIGTERM to exit, with a stream open and a note in flight


class Server:
    """`trustline serve` as a subprocess; `key` is the one-off key it printed."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.port = free_port()
        self.log = (tmp_path / "serve.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--port", str(self.port)],
            env={
                **os.environ,
                "TRUSTLINE_DATABASE": str(tmp_path / "trustline.db"),
                "TRUSTLINE_API_KEY_HASHES": "",
                "TRUSTLINE_WORKERS": "2",
                "TRUSTLINE_THREADS": "8",
                "TRUSTLINE_SSE_POLL_MS": "50",
                **env,
            },
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.output: list[str] = []
        self.key = self._read_key()
        self._wait_healthy()

    def _read_key(self) -> str:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if "Authorization: Bearer " in line:
                return line.split("Authorization: Bearer ")[1].split("'")[0]
        raise AssertionError(f"serve printed no key: {self.output}")

    def _wait_healthy(self) -> None:
        ends = time.monotonic() + START_SECONDS
        while time.monotonic() < ends:
            assert self.proc.poll() is None, "serve exited during start-up"
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("serve did not answer /healthz in time")

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[int, dict[str, str], Any]:
        conn = self.connection()
        try:
            data = None if body is None else json.dumps(body)
            hdrs = {"Authorization": f"Bearer {self.key}", **headers}
            if data is not None:
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            parsed = (
                json.loads(raw)
                if raw and resp.getheader("Content-Type", "").endswith("json")
                else raw
            )
            return resp.status, dict(resp.getheaders()), parsed
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("serve"))
    yield srv
    srv.stop()


class Stream:
    """An open event stream and its connection."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse):
        self.conn = conn
        self.resp = resp

    def close(self) -> None:
        self.resp.close()
        self.conn.close()


def open_stream(srv: Server, customer: str) -> Stream:
    conn = srv.connection(timeout=10)
    conn.request(
        "GET", f"/customers/{customer}/stream", headers={"Authorization": f"Bearer {srv.key}"}
    )
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type", "").startswith("text/event-stream")
    assert resp.readline() == b"retry: 2000\n"
    return Stream(conn, resp)


def next_event(stream: Stream) -> dict[str, Any]:
    for raw in stream.resp:
        line = raw.decode()
        if line.startswith("data: "):
            event: dict[str, Any] = json.loads(line[len("data: ") :])
            return event
    raise AssertionError("the stream ended without an event")


def test_serve_runs_gunicorn_and_prints_the_dev_key(server: Server) -> None:
    assert "gunicorn, 2 x 8 threads" in server.output[0]
    assert f"http://127.0.0.1:{server.port}/healthz" in server.output[0]
    assert server.request("GET", "/healthz")[2] == {"status": "ok"}


def test_the_webhook_worker_runs_once_beside_the_workers(server: Server) -> None:
    # two gunicorn workers and one webhook supervisor with its one delivery process,
    # never one per worker
    forked = children(server.proc.pid, 3)
    assert sorted(_comm(p) == serving.SUPERVISOR_NAME for p in forked) == [False, False, True]
    delivery = _webhook_process(server.proc.pid)
    assert delivery is not None
    assert all(_comm(p) != serving.WEBHOOK_PROCESS_NAME for p in forked)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _webhook_process(master: int, other_than: int | None = None) -> int | None:
    """The pid of the webhook delivery process (named in ps) under the master's webhook
    supervisor, once it runs."""
    ends = time.monotonic() + 15
    while time.monotonic() < ends:
        for supervisor in children(master, 0):
            if _comm(supervisor) != serving.SUPERVISOR_NAME:
                continue
            for pid in children(supervisor, 0):
                if pid != other_than and _comm(pid) == serving.WEBHOOK_PROCESS_NAME:
                    return pid
        time.sleep(0.1)
    return None


def test_a_killed_webhook_process_is_restarted_and_delivers(tmp_path: Path) -> None:
    receiver = Receiver()
    srv = Server(tmp_path, TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8")
    try:
        first = _webhook_process(srv.proc.pid)
        assert first is not None, "no webhook process beside the workers"
        os.kill(first, signal.SIGKILL)
        second = _webhook_process(srv.proc.pid, other_than=first)
        assert second is not None, "the webhook process was not restarted"
        assert b"webhook process" in (tmp_path / "serve.log").read_bytes()  # said so
        # The new one delivers: a subscription made now gets the next note's events.
        status, _, _ = srv.request(
            "POST", "/api/v1/webhooks", {"url": receiver.url, "events": ["*"]}
        )
        assert status == 201
        assert srv.request("PUT", "/api/v1/customers/c-2", {})[0] in (200, 201)
        note = {"text": "cust prefers sms", "agent": "a1"}
        assert srv.request("POST", "/api/v1/customers/c-2/notes", note)[0] == 201
        assert receiver.wait_for(1, timeout=30), "nothing delivered after the restart"
    finally:
        srv.stop()
        receiver.close()


def test_extract_through_gunicorn(server: Server) -> None:
    status, _, body = server.request("POST", "/api/v1/extract", {"text": "cust prefers email"})
    assert status == 200
    assert body["facts"][0]["value"] == "email"


def test_a_note_reaches_a_stream_served_by_any_worker(server: Server) -> None:
    assert server.request("PUT", "/api/v1/customers/c-9", {})[0] in (200, 201)
    streams = [open_stream(server, "c-9") for _ in range(4)]  # spread over both workers
    note = {"text": "cust prefers sms", "agent": "a1", "source": "crm"}
    assert server.request("POST", "/api/v1/customers/c-9/notes", note)[0] == 201
    for stream in streams:
        assert next_event(stream)["customer_id"] == "c-9"
        stream.close()


def test_a_callers_rate_holds_across_the_workers(server: Server) -> None:
    """The default limit (1,200 a minute, bursts of 200) with 2 workers: 400 quick
    requests on fresh connections (so both workers take some) get at most the one
    shared burst plus the refill, not a burst from each worker."""
    caller = {"Authorization": "Bearer not-a-key-" + os.urandom(8).hex()}  # its own bucket
    codes: list[int] = []
    lock = threading.Lock()

    def send(count: int) -> None:
        for _ in range(count):
            status = server.request("GET", "/api/v1/customers/c-1", **caller)[0]
            with lock:
                codes.append(status)

    started = time.monotonic()
    senders = [threading.Thread(target=send, args=(50,)) for _ in range(8)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(timeout=60)
    elapsed = time.monotonic() - started
    allowed = sum(1 for c in codes if c != 429)
    assert len(codes) == 400
    assert 200 <= allowed <= 200 + 20 * elapsed + 1, (allowed, elapsed)


def test_sigterm_ends_streams_finishes_writes_and_exits(tmp_path: Path) -> None:
    srv = Server(tmp_path)
    try:
        assert srv.request("PUT", "/api/v1/customers/c-1", {})[0] in (200, 201)
        stream = open_stream(srv, "c-1")
        forked = children(srv.proc.pid, 3)
        assert len(forked) == 3
        delivery = _webhook_process(srv.proc.pid)
        assert delivery is not None
        forked.append(delivery)
        answers: list[int] = []

        def post_notes() -> None:
            for i in range(20):
                note = {"text": f"cust prefers email {i}", "agent": "a1", "source": "crm"}
                try:
                    answers.append(srv.request("POST", "/api/v1/customers/c-1/notes", note)[0])
                except OSError:
                    return  # refused once the server stopped accepting

        writer = threading.Thread(target=post_notes)
        writer.start()
        time.sleep(0.3)
        started = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=STOP_SECONDS + 20) == 0
        took = time.monotonic() - started
        writer.join(timeout=10)
        assert took < STOP_SECONDS, f"SIGTERM took {took:.1f} s"
        assert answers and set(answers) == {201}  # every answered write succeeded
        # the stream ended: after a note's event, or cut when its worker exited
        with contextlib.suppress(http.client.IncompleteRead):
            stream.resp.read()
        stream.close()
        for pid in forked:  # workers and the webhook processes are gone too
            assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)
    finally:
        srv.stop()


def test_ctrl_c_stops_at_once_even_with_a_stream_open(tmp_path: Path) -> None:
    srv = Server(tmp_path)
    try:
        assert srv.request("PUT", "/api/v1/customers/c-1", {})[0] in (200, 201)
        stream = open_stream(srv, "c-1")
        started = time.monotonic()
        srv.proc.send_signal(signal.SIGINT)
        assert srv.proc.wait(timeout=STOP_SECONDS + 20) == 0
        assert time.monotonic() - started < STOP_SECONDS
        stream.close()
    finally:
        srv.stop()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except OSError:
        return "Z"


# -- the parts, without a server -----------------------------------------------------


def test_options_preload_the_app_and_use_threaded_workers() -> None:
    opts = serving.gunicorn_options(
        host="::1", port=8000, workers=3, threads=64, graceful_timeout=20
    )
    assert opts["preload_app"] is True
    assert opts["bind"] == ["[::1]:8000"]
    assert opts["worker_class"] is serving.StreamingThreadWorker
    assert (opts["workers"], opts["threads"], opts["graceful_timeout"]) == (3, 64, 20)


def _wsgi(content_type: str, chunks: list[bytes]) -> serving.WSGIApp:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", content_type)])
        return chunks

    return app


def test_a_stream_ends_after_its_next_message_once_stopping() -> None:
    stopping = threading.Event()
    traffic = serving.Traffic()
    app = serving.EndStreamsOnShutdown(
        _wsgi("text/event-stream", [b"a", b"b", b"c"]), stopping, traffic
    )
    body = iter(app({}, lambda *a: None))
    assert next(body) == b"a"
    assert (traffic.requests, traffic.streams) == (0, 1)
    stopping.set()  # "a" is out: the stream ends instead of waiting for "b"
    assert list(body) == []
    assert traffic.streams == 0


def test_ordinary_responses_are_counted_until_closed() -> None:
    traffic = serving.Traffic()
    app = serving.EndStreamsOnShutdown(
        _wsgi("application/json", [b"{}"]), threading.Event(), traffic
    )
    body = app({}, lambda *a: None)
    assert traffic.requests == 1
    assert list(body) == [b"{}"]
    assert (traffic.requests, traffic.streams) == (0, 0)
