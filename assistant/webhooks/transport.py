"""One HTTP POST to a webhook target: checked addresses, hard timeouts, no redirects.

The standard library's http.client follows no redirects and uses no proxy. The
connection goes to an address that passed the SSRF check, with the URL's host in the
Host header and in TLS (SNI and certificate check).
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import itertools
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from .network import Network, RefusedAddress, Resolver, checked_addresses, system_resolver

MAX_RESPONSE_BYTES = 65_536  # read (and ignore) at most this much of an answer
USER_AGENT = "Trustline-Webhooks/1"

log = logging.getLogger(__name__)


class Watchdog:
    """One thread that calls each function given to `call_at` at its time, unless it is
    cancelled first: the deadlines of all the exchanges in flight, without starting a
    timer thread for each (a thread per delivery cost more than the delivery's HTTP)."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._pending: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def call_at(self, when: float, fn: Callable[[], None]) -> int:
        """Call `fn` at `when` (time.monotonic()); returns a handle for `cancel`."""
        with self._wake:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid, self._heap, self._pending = os.getpid(), [], set()  # after fork
                self._thread = threading.Thread(
                    target=self._run, name="webhook-deadlines", daemon=True
                )
                self._thread.start()
            handle = next(self._ids)
            heapq.heappush(self._heap, (when, handle, fn))
            self._pending.add(handle)
            if len(self._heap) > 2 * len(self._pending) + 64:  # drop cancelled ones
                self._heap = [e for e in self._heap if e[1] in self._pending]
                heapq.heapify(self._heap)
            if self._heap[0][1] == handle:
                self._wake.notify()
            return handle

    def cancel(self, handle: int) -> None:
        with self._wake:
            self._pending.discard(handle)

    def _run(self) -> None:
        while True:
            with self._wake:
                while True:
                    while self._heap and self._heap[0][1] not in self._pending:
                        heapq.heappop(self._heap)
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        _, handle, fn = heapq.heappop(self._heap)
                        self._pending.discard(handle)
                        break
                    self._wake.wait(self._heap[0][0] - now if self._heap else None)
            try:
                fn()
            except Exception:  # the deadlines of the others must still be kept
                log.exception("a webhook deadline failed")


DEADLINES = Watchdog()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: an HTTP status, or an error (never the answer's body)."""

    status: int | None
    error: str | None = None
    retry_after: float | None = None  # seconds, from a Retry-After header
    duration: float = 0.0
    refused: bool = False  # the SSRF guard stopped it before any connection


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


class _Pinned:
    """Connect to addresses already checked, trying each in turn."""

    host: str
    port: int
    timeout: float | None
    sock: socket.socket | None
    addresses: Sequence[str]
    read_timeout: float

    def _open(self) -> socket.socket:
        last: OSError | None = None
        for address in self.addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
            except OSError as exc:
                last = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.read_timeout)
            self.peer = address  # what the pool checks before reusing the connection
            return sock
        assert last is not None
        raise last

    aborted = False
    peer: str | None = None

    def abort(self) -> None:
        """Cut the exchange short (called by the deadline timer)."""
        self.aborted = True
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class PinnedHTTPConnection(_Pinned, http.client.HTTPConnection):
    def __init__(
        self, host: str, port: int, addresses: Sequence[str], connect: float, read: float
    ) -> None:
        http.client.HTTPConnection.__init__(self, host, port, timeout=connect)
        self.addresses, self.read_timeout = addresses, read

    def connect(self) -> None:
        self.sock = self._open()


class PinnedHTTPSConnection(_Pinned, http.client.HTTPSConnection):
    def __init__(
        self,
        host: str,
        port: int,
        addresses: Sequence[str],
        connect: float,
        read: float,
        context: ssl.SSLContext,
    ) -> None:
        http.client.HTTPSConnection.__init__(self, host, port, timeout=connect, context=context)
        self.addresses, self.read_timeout, self.tls = addresses, read, context

    def connect(self) -> None:
        self.sock = self.tls.wrap_socket(self._open(), server_hostname=self.host)


_TLS = ssl.create_default_context()

Connection = PinnedHTTPConnection | PinnedHTTPSConnection
IDLE_SECONDS = 30.0  # an idle kept-alive connection older than this is closed, not reused
# At most this many idle connections per (scheme, host, port): no fewer than the
# deliveries in flight (TRUSTLINE_WEBHOOK_CONCURRENCY, 32 by default), or connections
# beyond it would be closed after each delivery and opened again for the next.
IDLE_PER_TARGET = 64


class ConnectionPool:
    """Kept-alive connections to webhook targets, reused while the target keeps them open
    (a TLS handshake per delivery costs more than the delivery). A connection is reused
    only for the same scheme, host, port and TLS settings, and only if the address it is
    connected to passed this attempt's SSRF check, so a changed DNS answer or allowlist
    takes effect at once. Thread-safe."""

    def __init__(self) -> None:
        self._idle: dict[tuple[object, ...], list[tuple[Connection, float]]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[object, ...], addresses: Sequence[str]) -> Connection | None:
        now = time.monotonic()
        stale: list[Connection] = []
        found: Connection | None = None
        with self._lock:
            idle = self._idle.get(key, [])
            while idle and found is None:
                conn, since = idle.pop()
                if now - since < IDLE_SECONDS and _peer(conn) in addresses:
                    found = conn
                else:
                    stale.append(conn)
        for conn in stale:
            conn.close()
        return found

    def give(self, key: tuple[object, ...], conn: Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < IDLE_PER_TARGET:
                idle.append((conn, time.monotonic()))
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c, _ in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


def _peer(conn: Connection) -> str | None:
    """The checked address the connection was opened to (None once it is closed)."""
    return conn.peer if conn.sock is not None else None


POOL = ConnectionPool()
# A kept-alive connection the target closed meanwhile fails before any answer: the
# request is sent once more on a new connection (it cannot have been processed).
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    connect_timeout: float,
    read_timeout: float,
    allowed: Sequence[Network],
    resolve: Resolver = system_resolver,
    tls: ssl.SSLContext | None = None,
    pool: ConnectionPool | None = POOL,
) -> Outcome:
    """POST `body` to `url`; never raises for network trouble, returns an Outcome.

    `tls` replaces the default context (system CAs, hostname checked). Connections are
    kept alive in `pool` (None: one connection per attempt).
    """
    started = time.monotonic()

    def done(
        status: int | None,
        error: str | None,
        *,
        retry_after: float | None = None,
        refused: bool = False,
    ) -> Outcome:
        return Outcome(status, error, retry_after, time.monotonic() - started, refused)

    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return done(None, "not an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return done(None, "invalid port")
    try:
        addresses = checked_addresses(host, port, allowed, resolve)
    except RefusedAddress as exc:
        return done(None, str(exc), refused=True)
    except OSError as exc:
        return done(None, str(exc))
    context = (tls or _TLS) if parts.scheme == "https" else None
    key = (parts.scheme, host, port, id(context))

    def new_connection() -> Connection:
        if context is not None:
            return PinnedHTTPSConnection(
                host, port, addresses, connect_timeout, read_timeout, context
            )
        return PinnedHTTPConnection(host, port, addresses, connect_timeout, read_timeout)

    kept = pool.take(key, addresses) if pool is not None else None
    reused = kept is not None
    conn: Connection = kept if kept is not None else new_connection()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request_headers = {"User-Agent": USER_AGENT, **headers}
    keep = False
    # A slow target could drip one byte per read timeout forever: the deadline ends the
    # whole exchange after connect + read timeout.
    deadline = DEADLINES.call_at(
        time.monotonic() + connect_timeout + read_timeout, lambda: conn.abort()
    )
    try:
        try:
            conn.request("POST", target, body=body, headers=request_headers)
            resp = conn.getresponse()
        except _STALE:
            if not reused or conn.aborted:
                raise
            conn.close()
            conn = new_connection()
            conn.request("POST", target, body=body, headers=request_headers)
            resp = conn.getresponse()
        resp.read(MAX_RESPONSE_BYTES)
        if conn.aborted:  # a cut-off answer can look complete
            return done(None, "timed out")
        # Keep it only when the answer was read to its end and the target keeps it open.
        keep = pool is not None and resp.isclosed() and not resp.will_close
        retry_after = parse_retry_after(resp.getheader("Retry-After"), time.time())
        return done(resp.status, None, retry_after=retry_after)
    except TimeoutError:
        return done(None, "timed out")
    except (OSError, http.client.HTTPException) as exc:
        if conn.aborted:
            return done(None, "timed out")
        return done(None, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        DEADLINES.cancel(deadline)
        if keep and pool is not None and not conn.aborted:
            pool.give(key, conn)
        else:
            conn.close()
