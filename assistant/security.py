"""Security headers on every response, and rate limits per API key and agent session.

The rate limit is a token bucket per caller, kept in memory shared by all the server's
processes: the limiter is made with the app, which `trustline serve` builds before
gunicorn forks its workers, so a caller gets the configured rate across all workers
together, whichever worker each request reaches.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import mmap
import os
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from flask import Flask, Response, current_app, request

from .auth import AuthError, bearer_key, current_principal
from .web.problems import problem

# The app's own pages set a strict CSP (assistant/sidebar/headers.py); everything else
# (JSON, problem documents, errors) renders nothing, so it may load and frame nothing.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SLOTS = 16_384  # callers tracked at once: 32 bytes each, 512 KiB shared by the workers
PROBES = 16  # slots looked at for a caller (open addressing)
_SLOT = struct.Struct("<16sdd")  # the caller's digest, tokens, time of the last update
_EMPTY = bytes(16)
EXTENSION = "trustline.rate_limits"
UNLIMITED = frozenset({"/healthz", "/api/v1/openapi.json"})  # public, and hold no data


class RateLimiter:
    """Token buckets: `burst` requests at once, refilled at `per_minute` a minute.

    The buckets live in an anonymous shared mapping guarded by a lock on a file in memory
    (POSIX record locks: the kernel lets go of a lock whose process dies,
    so a worker killed at the wrong moment cannot stall the others), both made here:
    processes forked after this share them. A caller's bucket is one of `PROBES`
    slots from its digest's place; a bucket refilled to the brim is the same as none, so
    its slot may go to another caller. With all of them in use (more than `slots`
    callers busy at once) the longest-idle one is reset.
    """

    def __init__(
        self,
        per_minute: int,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        slots: int = SLOTS,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self.clock = clock  # time.monotonic is one clock for the whole machine
        self.slots = max(1, slots)
        self.table = mmap.mmap(-1, self.slots * _SLOT.size)  # MAP_SHARED | MAP_ANONYMOUS
        try:  # a file in memory (Linux); its descriptor is inherited by forked workers
            self._lock_fd = os.memfd_create("trustline-rate-limits")
        except (AttributeError, OSError):
            self._lock_fd, name = tempfile.mkstemp(prefix="trustline-rate-")
            os.unlink(name)
        self._threads = threading.Lock()  # record locks exclude processes, not threads

    def __del__(self) -> None:
        with suppress(OSError, AttributeError):
            os.close(self._lock_fd)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Held by one thread of one process at a time."""
        with self._threads:
            fcntl.lockf(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(self._lock_fd, fcntl.LOCK_UN)

    def take(self, caller: str) -> float:
        """Take one token for `caller`: 0.0 when allowed, else seconds until one is free."""
        digest = hashlib.blake2b(caller.encode("utf-8", "replace"), digest_size=16).digest()
        first = int.from_bytes(digest[:8], "little")
        with self.lock():
            now = self.clock()
            place, tokens, updated = self._find(digest, first, now)
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            _SLOT.pack_into(self.table, place * _SLOT.size, digest, tokens, now)
            return wait

    def _find(self, digest: bytes, first: int, now: float) -> tuple[int, float, float]:
        """The caller's slot and bucket; a new bucket (full) in a free slot if none."""
        free: int | None = None
        idle, idle_since = first % self.slots, math.inf
        for i in range(min(PROBES, self.slots)):
            place = (first + i) % self.slots
            key, tokens, updated = _SLOT.unpack_from(self.table, place * _SLOT.size)
            if key == digest:
                return place, tokens, updated
            if free is None and (
                key == _EMPTY or tokens + (now - updated) * self.rate >= self.burst
            ):
                free = place
            if updated < idle_since:
                idle, idle_since = place, updated
        return (free if free is not None else idle), self.burst, now


def caller() -> str | None:
    """Who is calling: the principal a bearer key authenticates, or the agent session;
    None if neither (such a request is refused by authentication anyway, or is public).

    Keyed on the principal, not on the header's text: `bearer  KEY` and `Bearer KEY`
    are one caller with one bucket (issue 12, item 11).
    """
    if request.headers.get("Authorization"):
        try:
            return current_principal().subject
        except AuthError:
            # A key nobody holds (answered 401) is held back too, spelt either way.
            key = bearer_key()
            if key is None:
                return None
            return "unknown:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]
    from .sidebar.session import current_agent, session_token

    token = session_token()
    if token is not None and current_agent() is not None:
        # One bucket per agent session (a new token at each launch).
        return "session:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]
    return None


def rate_limit() -> Response | None:
    limiter: RateLimiter | None = current_app.extensions.get(EXTENSION)
    if limiter is None or request.path in UNLIMITED:
        return None
    who = caller()
    if who is None:
        return None
    wait = limiter.take(who)
    if not wait:
        return None
    retry_after = max(1, math.ceil(wait))
    resp = problem(
        429,
        "rate_limited",
        f"too many requests from this key or session; retry after {retry_after} s",
        title="Too many requests",
    )
    resp.headers["Retry-After"] = str(retry_after)
    return resp


def security_headers(resp: Response) -> Response:
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    # Pages that set their own policy (the sidebar, the demo desktop) keep it.
    resp.headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
    return resp


def init_app(app: Flask) -> None:
    per_minute = int(app.config["TRUSTLINE_RATE_LIMIT_PER_MINUTE"])
    if per_minute > 0:
        app.extensions[EXTENSION] = RateLimiter(
            per_minute, int(app.config["TRUSTLINE_RATE_LIMIT_BURST"])
        )
    app.before_request(rate_limit)
    app.after_request(security_headers)
