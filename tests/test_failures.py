"""Failures (issue 6, "Failure tests"): a real `trustline serve` on loopback with a real
SQLite file, killed with SIGKILL in the middle of a load, put on a full disk or a
read-only database, and hit by 1,000 event-stream clients that vanish. Every wait is
bounded; nothing here measures speed."""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from processes import children, free_port

from assistant import services
from assistant.auth import create_key, hash_key, new_key
from assistant.sidebar.demo import CUSTOMERS as DEMO_CUSTOMERS
from assistant.sidebar.stream import stream_limit
from assistant.store.sqlite import audit
from assistant.store.sqlite.db import connect, migrate, rows
from assistant.store.sqlite.failures import storage_condition

START_SECONDS = 60  # loading the spaCy pipeline dominates
REQUEST_SECONDS = 30  # a safety bound on any one request, never a speed goal
SERVE = [sys.executable, "-m", "assistant.cli", "serve"]


# -- a real server, in a process group of its own -------------------------------------


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    port: int, method: str, path: str, body: Any = None, *, key: str | None, **headers: str
) -> Answer:
    """One request on a fresh connection; raises OSError (or HTTPException) when the
    server gives no answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_SECONDS)
    try:
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        data: str | None = None
        if isinstance(body, str):
            data = body
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body), "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return Answer(resp.status, resp.msg, resp.read())
    finally:
        conn.close()


def process_group(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _ppid, pgrp = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == pgid and state != "Z":
            found.append(int(entry.name))
    return found


class Serve:
    """`trustline serve` as a subprocess leading its own process group (the master, its
    gunicorn workers and the webhook process), so the whole server can be SIGKILLed."""

    def __init__(self, db_path: Path, log_path: Path, key: str, port: int = 0, **env: str):
        self.port = port or free_port()
        self.key = key
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*SERVE, "--port", str(self.port)],
                env={
                    **os.environ,
                    "TRUSTLINE_DATABASE": str(db_path),
                    "TRUSTLINE_API_KEY_HASHES": hash_key(key),
                    "TRUSTLINE_DEMO": "0",
                    "TRUSTLINE_WORKERS": "2",
                    "TRUSTLINE_THREADS": "8",
                    "TRUSTLINE_RATE_LIMIT_PER_MINUTE": "0",
                    **env,
                },
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.kill()
            raise

    def _wait_healthy(self) -> None:
        ends = time.monotonic() + START_SECONDS
        while True:
            assert self.proc.poll() is None, f"serve exited at start-up: {self.log_tail()}"
            with contextlib.suppress(OSError):
                if call(self.port, "GET", "/healthz", key=None).status == 200:
                    return
            assert time.monotonic() < ends, "serve did not answer /healthz in time"
            time.sleep(0.1)

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Answer:
        return call(self.port, method, path, body, key=self.key, **headers)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> list[int]:
        """SIGKILL the whole process group; returns the pids that were in it."""
        group = process_group(self.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=REQUEST_SECONDS)
        return group

    def stop(self) -> None:
        """SIGTERM (graceful) and wait; SIGKILL the group if it does not end in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=REQUEST_SECONDS)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything left of the group


# -- 1. SIGKILL in the middle of a load ------------------------------------------------

CLIENTS = 4
CUSTOMERS = ("c-0", "c-1", "c-2")
ACKED_BEFORE_KILL = 60
MARKER = re.compile(r"\bref[a-z]+\b")


def marker(client: int, n: int) -> str:
    """A word unique to one request, kept in the stored (redacted) text: letters only,
    so no number rule can mask it."""
    letters = "".join("abcdefghijklmnopqrstuvwxyz"[int(d)] for d in f"{client}{n:04d}")
    return "ref" + letters


@dataclass
class Sent:
    """One note request a client made, and the answer it got (None: no answer)."""

    key: str
    customer: str
    body: dict[str, Any]
    status: int | None = None
    answer: Any = None
    cut: bool = False  # sent and never answered (not refused: the server was there)


@dataclass
class Load:
    sent: list[Sent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: int = 0
    enough: threading.Event = field(default_factory=threading.Event)

    def client(self, srv: Serve, n: int) -> None:
        """Post notes back to back until one gets no answer (the server was killed)."""
        for i in range(10_000):
            mark = marker(n, i)
            req = Sent(
                key=f"note-{mark}",
                customer=CUSTOMERS[(n + i) % len(CUSTOMERS)],
                body={
                    "text": f"Prefers email, best reached mornings. Ticket {mark}.",
                    "agent": f"agent-{n}",
                    "source": "crm",
                },
            )
            with self.lock:
                self.sent.append(req)
            try:
                got = srv.call(
                    "POST",
                    f"/api/v1/customers/{req.customer}/notes",
                    req.body,
                    **{"Idempotency-Key": req.key},
                )
            except (OSError, http.client.HTTPException) as exc:
                req.cut = not isinstance(exc, ConnectionRefusedError)
                return  # no answer: replayed after the restart
            req.status = got.status
            req.answer = got.json() if got.status == 201 else got.body
            if got.status != 201:
                return  # asserted below
            with self.lock:
                self.acked += 1
                if self.acked >= ACKED_BEFORE_KILL:
                    self.enough.set()


class Consumer(threading.Thread):
    """An integration reading one customer's event stream with an API key; like
    EventSource it keeps the last id it saw and can resume after it (Last-Event-ID)."""

    def __init__(self, port: int, key: str, customer: str, last_id: int = 0) -> None:
        super().__init__(daemon=True)
        self.customer = customer
        self.ids: list[int] = []
        self.opened = threading.Event()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_SECONDS)
        self.headers = {"Authorization": f"Bearer {key}", "Last-Event-ID": str(last_id)}

    def run(self) -> None:
        try:
            self.conn.request("GET", f"/customers/{self.customer}/stream", headers=self.headers)
            resp = self.conn.getresponse()
            if resp.status != 200:
                return
            self.opened.set()
            for line in resp:
                if line.startswith(b"id: "):
                    self.ids.append(int(line[4:]))
        except (OSError, http.client.HTTPException, ValueError):
            return  # the server went away (or we closed the stream): the stream ends
        finally:
            self.conn.close()

    def close(self) -> None:
        """End the stream from another thread: shut the socket down, which wakes the
        reading thread; it closes the connection itself."""
        sock = self.conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.join(timeout=REQUEST_SECONDS)


def wait_for(check: Callable[[], bool], seconds: float) -> bool:
    ends = time.monotonic() + seconds
    while not check():
        if time.monotonic() > ends:
            return False
        time.sleep(0.05)
    return True


def resume(port: int, key: str, customer: str, last_id: int, expect: int) -> list[int]:
    """The ids a consumer resuming after `last_id` gets, once it has `expect` of them
    (or after a bounded wait)."""
    resumed = Consumer(port, key, customer, last_id=last_id)
    resumed.start()
    wait_for(lambda: len(resumed.ids) >= expect, 20)
    resumed.close()
    return resumed.ids


def test_sigkill_in_the_middle_of_a_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    db_path, key = tmp_path / "trustline.db", new_key()
    srv = Serve(db_path, tmp_path / "serve.log", key)
    consumers: list[Consumer] = []
    try:
        for customer in CUSTOMERS:
            assert srv.call("PUT", f"/api/v1/customers/{customer}", {}).status == 201
        consumers = [Consumer(srv.port, key, c) for c in CUSTOMERS]
        for consumer in consumers:
            consumer.start()
        assert all(c.opened.wait(REQUEST_SECONDS) for c in consumers)

        load = Load()
        clients = [threading.Thread(target=load.client, args=(srv, n)) for n in range(CLIENTS)]
        for client in clients:
            client.start()
        assert load.enough.wait(120), "the load never got going"
        group = srv.kill()  # master, workers and the webhook process, all at once
        for client in clients:
            client.join(timeout=REQUEST_SECONDS)
        for consumer in consumers:
            consumer.join(timeout=REQUEST_SECONDS)
        assert len(group) >= 4, f"expected master, 2 workers and the webhooks: {group}"
        assert wait_for(lambda: not process_group(srv.proc.pid), 10), "a process survived"

        unanswered = [r for r in load.sent if r.status is None]
        acked = [r for r in load.sent if r.status is not None]
        assert any(r.cut for r in unanswered), "no request was in flight when the server died"
        assert all(r.status == 201 for r in acked), [r.answer for r in acked if r.status != 201]
        seen_before = {c.customer: list(c.ids) for c in consumers}
        db = connect(db_path)  # the file as the kill left it (SQLite replays its WAL)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert audit.verify(db).ok
        finally:
            db.conn.close()

        # Restart on the same database and port, and replay what got no answer.
        srv = Serve(db_path, tmp_path / "serve.log", key, port=srv.port)
        committed_unanswered = 0
        for req in unanswered:
            got = srv.call(
                "POST",
                f"/api/v1/customers/{req.customer}/notes",
                req.body,
                **{"Idempotency-Key": req.key},
            )
            assert got.status == 201, got.body
            committed_unanswered += got.headers.get("Idempotent-Replayed") == "true"
            req.status, req.answer = got.status, got.json()
        for req in load.sent:  # the same request again: the same answer, stored once
            got = srv.call(
                "POST",
                f"/api/v1/customers/{req.customer}/notes",
                req.body,
                **{"Idempotency-Key": req.key},
            )
            assert (got.status, got.headers.get("Idempotent-Replayed")) == (201, "true")
            assert got.json() == req.answer

        db = connect(db_path)
        try:
            notes = rows(db, "SELECT id, customer_id, redacted_text FROM notes")
            by_marker = Counter(m for n in notes for m in MARKER.findall(n["redacted_text"]))
            for req in load.sent:
                mark = req.key.removeprefix("note-")
                assert by_marker[mark] == 1, f"{mark} stored {by_marker[mark]} times"
                note = next(n for n in notes if n["id"] == req.answer["note"]["id"])
                assert mark in note["redacted_text"] and note["customer_id"] == req.customer
            assert len(notes) == len(load.sent)  # no note without its request
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            chain = audit.verify(db)
            assert chain.ok, chain

            # A consumer that saw ids up to L before the crash resumes after L and gets
            # every event committed after it; nothing at or below L appeared later.
            for customer, before in seen_before.items():
                last = before[-1] if before else 0
                stored = [
                    r["id"]
                    for r in rows(
                        db, "SELECT id FROM events WHERE customer_id = ? ORDER BY id", [customer]
                    )
                ]
                assert set(before) == {i for i in stored if i <= last}, customer
                after = resume(srv.port, key, customer, last, len(stored) - len(before))
                assert before + after == stored  # strictly increasing, no gap, nothing twice
        finally:
            db.conn.close()
        print(
            f"\nSIGKILL: {len(acked)} notes acked before the kill, {len(unanswered)} "
            f"unanswered ({sum(r.cut for r in unanswered)} in flight, "
            f"{committed_unanswered} of them committed before the kill), "
            f"{len(notes)} notes stored once each"
        )
    finally:
        for consumer in consumers:
            consumer.close()
        srv.stop()


# -- 2. a full disk, a read-only database ---------------------------------------------

TMPFS_BYTES = 16 * 1024 * 1024


def run_root_command(*args: str) -> str | None:
    """Run a command that needs root; None when it worked, else why it did not."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except OSError as exc:
        return f"{args[0]}: {exc}"
    return None if done.returncode == 0 else f"{' '.join(args)}: {done.stderr.strip()}"


class Condition(ABC):
    """A storage failure the operating system really produces, switched on and off."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path

    def db_dir(self) -> Path:
        return self.dir

    @abstractmethod
    def on(self) -> None: ...

    @abstractmethod
    def off(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class FullDisk(Condition):
    """The database on a tmpfs of 16 MB; a ballast file fills it up, removing it clears."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path / "disk")
        self.dir.mkdir()
        why = run_root_command(
            "mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(self.dir)
        )
        if why is not None:
            reason = f"cannot mount a tmpfs to fill up (needs root): {why}"
            pytest.skip(reason)  # allowed: needs root (CI runs as root)
        self.ballast = self.dir / "ballast"

    def on(self) -> None:
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (1 << 20, 4096, 1):  # big steps, then the last bytes
                chunk = b"\0" * size
                try:
                    while True:
                        os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(fd)
        assert os.statvfs(self.dir).f_bavail == 0

    def off(self) -> None:
        self.ballast.unlink()

    def close(self) -> None:
        if run_root_command("umount", str(self.dir)) is not None:
            run_root_command("umount", "-l", str(self.dir))


class ReadOnly(Condition):
    """The database file (and its WAL) made immutable (`chattr +i`): as root, chmod would
    not stop us. Open handles fail to write too (EPERM), new ones open read-only."""

    def files(self) -> list[str]:
        names = ("trustline.db", "trustline.db-wal")
        return [str(self.dir / name) for name in names if (self.dir / name).exists()]

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        probe = tmp_path / "probe"
        probe.write_text("x")
        why = run_root_command("chattr", "+i", str(probe))
        if why is not None:
            reason = f"cannot make a file immutable here: {why}"
            pytest.skip(reason)  # allowed: needs root and a file system with chattr
        run_root_command("chattr", "-i", str(probe))

    def on(self) -> None:
        assert run_root_command("chattr", "+i", *self.files()) is None

    def off(self) -> None:
        assert run_root_command("chattr", "-i", *self.files()) is None

    def close(self) -> None:
        run_root_command("chattr", "-i", *self.files())  # else tmp_path cannot be removed


CONDITIONS: dict[str, Callable[[Path], Condition]] = {"disk_full": FullDisk, "read_only": ReadOnly}


class Sidebar:
    """An agent's sidebar opened from the demo desktop, as a browser does: the launch
    link, the session cookie, the CSRF token in the page."""

    def __init__(self, srv: Serve) -> None:
        self.port = srv.port
        desktop = call(self.port, "GET", "/", key=None)
        launch = re.search(r'src="(/sidebar/launch\?token=[^"]+)"', desktop.body.decode())
        assert launch is not None, desktop.body[:300]
        opened = call(self.port, "GET", launch.group(1), key=None)
        assert opened.status == 303
        self.cookie = "; ".join(c.split(";")[0] for c in opened.headers.get_all("Set-Cookie", []))
        page = call(self.port, "GET", "/sidebar", key=None, Cookie=self.cookie)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.body.decode())
        assert page.status == 200 and token is not None
        self.csrf = token.group(1)

    def save_note(self, customer: str, text: str) -> Answer:
        form = urlencode({"text": text, "csrf_token": self.csrf})
        return call(
            self.port,
            "POST",
            f"/sidebar/customers/{customer}/notes",
            form,
            key=None,
            Cookie=self.cookie,
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )


@pytest.fixture(params=sorted(CONDITIONS))
def condition(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Condition]:
    made = CONDITIONS[request.param](tmp_path)
    try:
        yield made
    finally:
        made.close()


def assert_storage_problem(got: Answer) -> None:
    """A 503 problem document with Retry-After: no 500, no traceback."""
    assert got.status == 503, got.body[:500]
    assert got.headers.get("Content-Type") == "application/problem+json"
    problem = got.json()
    assert problem["status"] == 503 and problem["error"] == "storage_unavailable"
    assert problem["type"].endswith("/storage_unavailable")
    assert problem["detail"] and "Traceback" not in got.body.decode()
    assert int(got.headers["Retry-After"]) > 0


def test_storage_conditions_are_told_apart_from_bugs(tmp_path: Path) -> None:
    db = connect(tmp_path / "trustline.db")
    migrate(db)
    db.conn.close()
    read_only = sqlite3.connect(f"file:{tmp_path / 'trustline.db'}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError) as refused:
            read_only.execute("INSERT INTO events (type, actor, at, data) VALUES (1, 2, 3, 4)")
        with pytest.raises(sqlite3.OperationalError) as bug:
            read_only.execute("SELECT * FROM no_such_table")
    finally:
        read_only.close()
    with pytest.raises(sqlite3.OperationalError) as missing:
        sqlite3.connect(f"file:{tmp_path / 'absent' / 'x.db'}?mode=ro", uri=True)
    assert storage_condition(refused.value) == "the database is read-only"
    assert storage_condition(missing.value) == "the database file cannot be opened"
    assert storage_condition(bug.value) is None  # a bug stays a 500
    assert storage_condition(ValueError("database or disk is full")) is None


def test_a_full_disk_or_read_only_database_answers_503_and_recovers(
    condition: Condition, tmp_path: Path
) -> None:
    db_path, key = condition.db_dir() / "trustline.db", new_key()
    srv = Serve(db_path, tmp_path / "serve.log", key, TRUSTLINE_DEMO="1")
    stopped = False
    try:
        sidebar = Sidebar(srv)
        assert srv.call("PUT", "/api/v1/customers/c-1", {}).status == 201
        acked: dict[str, int] = {}  # marker -> note id

        def post(n: int) -> Answer:
            mark = marker(9, n)
            got = srv.call(
                "POST",
                "/api/v1/customers/c-1/notes",
                {"text": f"Prefers sms. Ticket {mark}.", "agent": "a1"},
                **{"Idempotency-Key": mark},
            )
            if got.status == 201:
                acked[mark] = got.json()["note"]["id"]
            return got

        for n in range(5):
            assert post(n).status == 201

        condition.on()
        # A write may still fit in space SQLite already holds (its WAL file): the first
        # one that needs more must fail cleanly; what was answered 201 is kept.
        n = 5
        while (failed := post(n)).status == 201 and n < 15:
            n += 1
        assert_storage_problem(failed)
        demo, sidebar_saved = DEMO_CUSTOMERS[0].id, 0
        for _ in range(10):
            saved = sidebar.save_note(demo, "Prefers post. Ticket refsidebar.")
            if saved.status != 303:
                break
            sidebar_saved += 1
        assert saved.status == 503, saved.body[:500]  # a page, not a problem document
        assert saved.headers.get_content_type() == "text/plain"
        assert "cannot use its database" in saved.body.decode()
        assert int(saved.headers["Retry-After"]) > 0
        reading = srv.call("GET", "/api/v1/customers/c-1/profile")
        assert reading.status in (200, 503), reading.body[:500]  # never a 500

        condition.off()
        again = post(n)  # the same request succeeds now, stored once
        assert again.status == 201, again.body[:500]
        assert again.headers.get("Idempotent-Replayed") is None
        assert sidebar.save_note(demo, "Prefers post. Ticket refsidebar.").status == 303
        sidebar_saved += 1
        assert srv.call("GET", "/api/v1/customers/c-1/profile").status == 200
        srv.stop()
        stopped = True

        log = (tmp_path / "serve.log").read_text(errors="replace")
        assert "storage unavailable: " in log  # the operator learns what to fix
        assert "Exception on" not in log  # no request ended in a 500
        db = connect(db_path)
        try:
            notes = rows(db, "SELECT id, redacted_text FROM notes WHERE customer_id = 'c-1'")
            stored = Counter(m for r in notes for m in MARKER.findall(r["redacted_text"]))
            assert stored == Counter(acked.keys()), "a note was lost or stored twice"
            assert {r["id"] for r in notes} == set(acked.values())
            agents = rows(db, "SELECT redacted_text FROM notes WHERE customer_id = ?", [demo])
            assert sum("refsidebar" in r["redacted_text"] for r in agents) == sidebar_saved
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            chain = audit.verify(db)
            assert chain.ok, chain
        finally:
            db.conn.close()
    finally:
        if not stopped:
            srv.stop()


# -- 3. stream clients that vanish ------------------------------------------------------

CYCLES = 1000
STREAM_THREADS = 128  # one worker: every stream holds one of its threads
CYCLE_CLIENTS = 32
RSS_BOUND_MB = 20.0
THREAD_SLACK = 2
OTHER_THREADS = 2  # besides its pool, a worker runs its main thread and the events reader
CYCLES_SECONDS = 90  # a safety bound: about 15 s here
REFUSED_PAUSE_SECONDS = 0.2


def worker_status(pids: list[int]) -> tuple[int, float]:
    """(threads, RSS in MB) summed over the worker processes."""
    threads, rss_kb = 0, 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                threads += int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss_kb += int(line.split()[1])
    return threads, rss_kb / 1024


def open_stream(port: int, key: str, customer: str) -> socket.socket:
    """Connect, ask for the stream and read its first bytes (the headers, `retry:`)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=REQUEST_SECONDS)
    sock.sendall(
        f"GET /customers/{customer}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\n\r\n".encode()
    )
    head = b""
    try:
        while b"retry:" not in head and not head.startswith(b"HTTP/1.1 503 "):
            chunk = sock.recv(4096)
            assert chunk, f"the stream closed before its first bytes: {head!r}"
            head += chunk
        if head.startswith(b"HTTP/1.1 503 "):
            raise StreamsFull()
        assert head.startswith(b"HTTP/1.1 200 "), head[:200]
    except BaseException:
        sock.close()
        raise
    return sock


class StreamsFull(Exception):
    """503: the worker holds its limit of open streams (a browser retries)."""


def cycles(port: int, key: str, customer: str, count: int) -> int:
    """`count` clients that open a stream, read its first bytes and vanish: half close
    normally (FIN), half reset the connection (SO_LINGER 0: RST). A client refused for
    the stream limit (503) tries again after a pause, as a browser would; returns how
    many times that happened."""
    todo = iter(range(count))
    lock = threading.Lock()
    errors: list[str] = []
    done: list[int] = []
    refused: list[int] = []
    ends = time.monotonic() + CYCLES_SECONDS

    def client() -> None:
        while time.monotonic() < ends:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            while True:
                try:
                    sock = open_stream(port, key, customer)
                    break
                except StreamsFull:  # vanished clients not noticed yet: retry, as browsers do
                    refused.append(i)
                    time.sleep(REFUSED_PAUSE_SECONDS)
                except (OSError, AssertionError) as exc:
                    errors.append(repr(exc))
                    sock = None
                    break
            if sock is None:
                continue
            if i % 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            done.append(i)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CYCLE_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=CYCLES_SECONDS + REQUEST_SECONDS)
    assert not errors, errors[:3]
    # Fewer means new streams waited for threads, or were refused for stream slots, that
    # vanished clients still held.
    assert len(done) == count, f"{len(done)} of {count} streams in {CYCLES_SECONDS} s"
    return len(refused)


def test_stream_clients_that_vanish_leak_no_threads_or_memory(tmp_path: Path) -> None:
    db_path, writer = tmp_path / "trustline.db", new_key()
    db = connect(db_path)
    try:
        migrate(db)
        reader = create_key(db, "stream-reader", ["read"])
        services.upsert_customer(db, "c-1", actor="test")
    finally:
        db.conn.close()
    # With the default heartbeat (15 s): a stream must notice that its client vanished
    # on its own (within about a second), not only when it next writes to it, or the
    # 1,000 cycles would wait for threads the vanished clients still hold.
    srv = Serve(
        db_path,
        tmp_path / "serve.log",
        writer,
        TRUSTLINE_WORKERS="1",
        TRUSTLINE_THREADS=str(STREAM_THREADS),
        TRUSTLINE_WEBHOOK_WORKER="0",
    )
    try:
        workers = children(srv.proc.pid, 1)
        assert len(workers) == 1
        # Warm up: the worker's thread pool grows to its size and stays there.
        cycles(srv.port, reader, "c-1", 300)
        time.sleep(3)
        threads_before, rss_before = worker_status(workers)

        refusals = cycles(srv.port, reader, "c-1", CYCLES)
        # The pool may still grow to its size (it starts threads as it needs them), but
        # a thread per vanished stream would go past it.
        bound = max(threads_before, STREAM_THREADS + OTHER_THREADS) + THREAD_SLACK
        settled = wait_for(lambda: worker_status(workers)[0] <= bound, 10)
        time.sleep(3)  # every vanished client noticed
        threads_after, rss_after = worker_status(workers)
        assert settled, f"threads {threads_before} -> {threads_after}"
        # A stream that kept a SQLite connection would cost ~150 kB each, 150 MB in all;
        # the allocator's own growth over 1,000 streams stays under a few MB.
        assert rss_after - rss_before < RSS_BOUND_MB, f"RSS {rss_before} -> {rss_after} MB"

        # No thread or stream slot is still held by a vanished client: the worker opens
        # as many new streams as its limit allows at once, refuses one more (threads
        # stay free for notes), and a note reaches all of them.
        limit = stream_limit({"TRUSTLINE_SERVE_THREADS": STREAM_THREADS})
        probes = [open_stream(srv.port, reader, "c-1") for _ in range(limit)]
        try:
            refused = call(srv.port, "GET", "/customers/c-1/stream", key=reader)
            assert refused.status == 503, refused.status
            assert refused.headers["Retry-After"] == "5"
            assert refused.json()["error"] == "too_many_streams"
            note = {"text": "Prefers email.", "agent": "a1"}
            assert srv.call("POST", "/api/v1/customers/c-1/notes", note).status == 201
            for sock in probes:
                got = b""
                while b"event: " not in got:
                    chunk = sock.recv(4096)
                    assert chunk, "a probe stream ended without the note's event"
                    got += chunk
        finally:
            for sock in probes:
                sock.close()
        print(
            f"\n{CYCLES} vanished streams: worker threads {threads_before} -> {threads_after},"
            f" RSS {rss_before:.1f} -> {rss_after:.1f} MB, {refusals} refused (limit) and"
            " retried"
        )
    finally:
        srv.stop()
