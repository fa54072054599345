"""Slow clients: each request is read in full by a worker's event loop before a thread
takes it, within deadlines, and each client address may hold only so many connections.

gunicorn's gthread worker gives a connection to a thread as soon as it is readable, and
the thread then reads the request head and body with blocking reads: a client sending
one header line every few seconds holds that thread for as long as it likes, and 1,000
such connections held every thread of every worker (`/healthz` did not answer for 40 s;
issue 12, item 5). Here the worker's one event-loop thread collects each request's bytes
from its non-blocking socket until the head and the body are complete, and only then
hands the connection to a thread, which parses the request from memory. So a slow client
costs a buffer, never a thread:

* the head must arrive within TRUSTLINE_HEADER_TIMEOUT seconds of the connection (or of
  the first byte of a kept-alive connection's next request), the body within
  TRUSTLINE_BODY_TIMEOUT of the head; beyond, 408 and the connection is closed;
* a head is at most HEAD_MAX_BYTES (431 beyond), a body at most
  TRUSTLINE_MAX_REQUEST_BYTES (413 beyond, before it is read);
* a client address holds at most TRUSTLINE_MAX_CONNECTIONS_PER_CLIENT connections to a
  worker at once; one more gets 429 and is closed.

TLS and HTTP/2 prior knowledge (neither is configured by `trustline serve`) are left to
gunicorn's own reading, since their bytes are not an HTTP/1 request.
"""

from __future__ import annotations

import contextlib
import errno
import json
import re
import resource
import selectors
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker  # type: ignore[import-untyped]

HEAD_MAX_BYTES = 64 * 1024  # Trustline's requests carry a few hundred bytes of headers
RECV_BYTES = 64 * 1024
OPEN_FILES_SPARE = 256  # descriptors a worker needs beside its connections
EMFILE_PAUSE_SECONDS = 0.05  # out of descriptors: the event loop pauses this long
EMFILE_LOG_SECONDS = 10.0

MORE, READY = "more", "ready"  # what a request's bytes so far amount to
HEAD_TOO_LARGE, BODY_TOO_LARGE = "head too large", "body too large"
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """How long and how much a worker reads of a request before a thread serves it."""

    header_seconds: float = 10.0
    body_seconds: float = 30.0
    per_client: int = 256  # connections per client address and worker; 0: no limit
    max_body: int = 2_000_000
    max_head: int = HEAD_MAX_BYTES

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ReadLimits:
        return cls(
            header_seconds=float(config["TRUSTLINE_HEADER_TIMEOUT"]),
            body_seconds=float(config["TRUSTLINE_BODY_TIMEOUT"]),
            per_client=int(config["TRUSTLINE_MAX_CONNECTIONS_PER_CLIENT"]),
            max_body=int(config["TRUSTLINE_MAX_REQUEST_BYTES"]),
        )


@dataclass(slots=True)
class Progress:
    """What the bytes received of a request amount to (see `progress`)."""

    state: str
    head_end: int = -1  # where the body starts, once the head is complete
    expects_continue: bool = False


def progress(data: bytes, max_head: int, max_body: int) -> Progress:
    """Whether `data` holds a whole HTTP/1 request (pure).

    READY also when the framing is malformed: gunicorn's parser, which answers 400,
    reads it from memory all the same. Only the framing is looked at here.
    """
    start = len(data) - len(data.lstrip(b"\r\n"))  # empty lines before a request
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        return Progress(HEAD_TOO_LARGE if len(data) - start > max_head else MORE)
    head_end = end + 4
    if head_end - start > max_head:
        return Progress(HEAD_TOO_LARGE)
    lengths, chunked, expects = [], False, False
    for line in data[start:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        if name == b"content-length":
            lengths.append(value)
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"expect" and value.lower() == b"100-continue":
            expects = True
    body = memoryview(data)[head_end:]
    if chunked:
        state = _chunked(body, max_body)
    elif lengths:
        if len(set(lengths)) != 1 or not lengths[0].isdigit():
            state = READY  # the parser refuses it
        elif int(lengths[0]) > max_body:
            state = BODY_TOO_LARGE
        else:
            state = READY if len(body) >= int(lengths[0]) else MORE
    else:
        state = READY
    return Progress(state, head_end, expects)


def _chunked(body: memoryview, max_body: int) -> str:
    """Whether a chunked body is complete: its last chunk and trailers are in."""
    raw = body.tobytes()
    pos = total = 0
    while True:
        eol = raw.find(b"\r\n", pos)
        if eol < 0:
            return MORE if len(raw) - pos <= 1024 else READY
        size = raw[pos:eol].split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size):
            return READY  # the parser refuses it
        n = int(size, 16)
        if n == 0:
            if raw.startswith(b"\r\n", eol + 2) or raw.find(b"\r\n\r\n", eol) >= 0:
                return READY
            return MORE
        total += n
        if total > max_body:
            return BODY_TOO_LARGE
        pos = eol + 2 + n + 2
        if pos > len(raw):
            return MORE


def without_expect(data: bytes, head_end: int) -> bytes:
    """`data` without its `Expect: 100-continue` line, once the loop answered it (pure)."""
    lines = data[:head_end].split(b"\r\n")
    kept = [
        line
        for line in lines
        if not (
            line.partition(b":")[0].strip().lower() == b"expect"
            and line.partition(b":")[2].strip().lower() == b"100-continue"
        )
    ]
    return b"\r\n".join(kept) + data[head_end:]


def answer(status: int, reason: str, detail: str, **headers: str) -> bytes:
    """A whole short response closing the connection: a problem document (RFC 9457)."""
    code = reason.lower().replace(" ", "_")
    body = json.dumps(
        {
            "type": f"https://trustline.invalid/problems/{code}",
            "title": reason,
            "status": status,
            "detail": detail,
            "error": code,
            "message": detail,
        }
    ).encode()
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: application/problem+json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def raise_open_files(wanted: int) -> int:
    """Raise this process's soft limit of open files towards `wanted` (at most the hard
    limit); returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    return int(soft) if soft != resource.RLIM_INFINITY else wanted


@dataclass(slots=True)
class _Reading:
    data: bytearray = field(default_factory=bytearray)
    deadline: float = 0.0
    body_deadline: float | None = None
    continued: bool = False


class GuardedConn(TConn):  # type: ignore[misc]
    """A connection that gives its client's slot back when it is closed, once."""

    def __init__(self, *args: Any, release: Any = None) -> None:
        super().__init__(*args)
        self.release = release
        self.preread = b""  # the request the event loop read, for the parser
        self.ready = False  # handed to a thread with its request read

    def close(self, graceful: bool = False) -> None:
        release, self.release = self.release, None
        if release is not None:
            release()
        super().close(graceful)


class PreReadingThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, reading each request in its event loop first."""

    read_limits = ReadLimits()

    def init_process(self) -> None:
        limits = getattr(self.app, "read_limits", None)
        if isinstance(limits, ReadLimits):
            self.read_limits = limits
        self.reading: dict[GuardedConn, _Reading] = {}
        self.per_client: dict[str, int] = {}
        self._emfile_logged = -EMFILE_LOG_SECONDS
        cleartext_h2 = getattr(self.cfg, "http2_cleartext", "off")
        self.guarded = not self.cfg.is_ssl and cleartext_h2 not in ("prior-knowledge", "both")
        raise_open_files(self.worker_connections + OPEN_FILES_SPARE)
        super().init_process()

    # -- connections in ---------------------------------------------------------------

    def accept(self, listener: Any) -> None:
        try:
            sock, addr = listener.accept()
        except OSError as e:
            if e.errno in (errno.EMFILE, errno.ENFILE):
                # The connection waits in the listen backlog; the main loop tries again
                # after this pause, logging once in a while rather than at each try.
                now = time.monotonic()
                if now >= self._emfile_logged + EMFILE_LOG_SECONDS:
                    self._emfile_logged = now
                    self.log.warning("out of file descriptors: accepting paused")
                time.sleep(EMFILE_PAUSE_SECONDS)
                return
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        client = addr[0] if isinstance(addr, tuple) else ""
        limit = self.read_limits.per_client
        if client and limit > 0 and self.per_client.get(client, 0) >= limit:
            _send_and_close(
                sock,
                answer(
                    429,
                    "Too Many Requests",
                    f"this address holds {limit} connections to this server process "
                    "(TRUSTLINE_MAX_CONNECTIONS_PER_CLIENT)",
                    Retry_After="1",
                ),
            )
            return
        self.nr_conns += 1
        release = partial(self._release, client) if client else None
        if client:
            self.per_client[client] = self.per_client.get(client, 0) + 1
        conn = GuardedConn(self.cfg, sock, addr, listener.getsockname(), release=release)
        self.enqueue_req(conn)

    def _release(self, client: str) -> None:
        left = self.per_client.get(client, 1) - 1
        if left > 0:
            self.per_client[client] = left
        else:
            self.per_client.pop(client, None)

    def enqueue_req(self, conn: Any) -> None:
        """Read the connection's next request first, unless it is read already."""
        if not self.guarded or not isinstance(conn, GuardedConn) or conn.ready:
            if isinstance(conn, GuardedConn):
                conn.ready = False
            super().enqueue_req(conn)
            return
        # Bytes of a pipelined request the parser read ahead belong to the next one.
        held = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        conn.sock.setblocking(False)
        state = _Reading(bytearray(held), time.monotonic() + self.read_limits.header_seconds)
        self.reading[conn] = state
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))
        if held:
            self._advance(conn, state)

    # -- reading, in the event loop ---------------------------------------------------

    def _readable(self, conn: GuardedConn, _sock: Any) -> None:
        state = self.reading.get(conn)
        if state is None:
            return
        try:
            data = conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client left
            self._drop(conn)
            return
        state.data += data
        self._advance(conn, state)

    def _advance(self, conn: GuardedConn, state: _Reading) -> None:
        limits = self.read_limits
        now = progress(bytes(state.data), limits.max_head, limits.max_body)
        if now.state == MORE:
            if now.head_end >= 0 and state.body_deadline is None:
                state.body_deadline = time.monotonic() + limits.body_seconds
                if now.expects_continue and not state.continued:
                    state.continued = True
                    _send(conn.sock, _CONTINUE)
            return
        if now.state == HEAD_TOO_LARGE:
            self._drop(
                conn,
                answer(
                    431,
                    "Request Header Fields Too Large",
                    f"the request head is over {limits.max_head} bytes",
                ),
            )
            return
        if now.state == BODY_TOO_LARGE:
            self._drop(
                conn,
                answer(
                    413,
                    "Payload Too Large",
                    f"the request body is over {limits.max_body} bytes "
                    "(TRUSTLINE_MAX_REQUEST_BYTES)",
                ),
            )
            return
        data = bytes(state.data)
        if now.expects_continue:  # answered here, or not needed: the body is in
            data = without_expect(data, now.head_end)
        self._stop_reading(conn)
        conn.preread = data
        conn.ready = True
        conn.data_ready = True
        self.enqueue_req(conn)

    def _stop_reading(self, conn: GuardedConn) -> None:
        self.reading.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _drop(self, conn: GuardedConn, response: bytes = b"") -> None:
        self._stop_reading(conn)
        if response:
            _send(conn.sock, response)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also end requests not read in time (and, when stopping, connections that
        have not begun one)."""
        super().murder_pending()
        now = time.monotonic()
        for conn, state in list(self.reading.items()):
            deadline = state.body_deadline if state.body_deadline is not None else state.deadline
            if now >= deadline:
                part = "body" if state.body_deadline is not None else "head"
                seconds = (
                    self.read_limits.body_seconds
                    if part == "body"
                    else self.read_limits.header_seconds
                )
                setting = f"TRUSTLINE_{'BODY' if part == 'body' else 'HEADER'}_TIMEOUT"
                self._drop(
                    conn,
                    answer(
                        408,
                        "Request Timeout",
                        f"the request {part} did not arrive within {seconds:g} s ({setting})",
                    )
                    if state.data
                    else b"",
                )
            elif not self.alive and not state.data:
                self._drop(conn)

    # -- in a thread --------------------------------------------------------------------

    def handle(self, conn: Any) -> Any:
        data = getattr(conn, "preread", b"")
        if data:
            conn.preread = b""
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(data)
        return super().handle(conn)


def _send(sock: Any, data: bytes) -> None:
    """Send a short answer without waiting: a client that reads nothing gets less."""
    with contextlib.suppress(OSError):
        sock.send(data)


def _send_and_close(sock: Any, data: bytes) -> None:
    try:
        sock.setblocking(False)
        sock.send(data)
    except OSError:
        pass
    finally:
        sock.close()
