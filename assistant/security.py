"""Security headers on every response, and rate limits per API key and agent session.

The rate limit is a token bucket per caller held in this process: under gunicorn each
worker keeps its own buckets, so a caller spread over N workers may get up to N times
the configured rate. That is a guard against a runaway client, not a quota.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, request, session

from .api.errors import problem

# The app's own pages set a strict CSP (assistant/sidebar/headers.py); everything else
# (JSON, problem documents, errors) renders nothing, so it may load and frame nothing.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
MAX_BUCKETS = 10_000  # beyond this, full (idle) buckets are forgotten
EXTENSION = "trustline.rate_limits"


@dataclass(slots=True)
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets: `burst` requests at once, refilled at `per_minute` a minute."""

    def __init__(
        self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}
        self.lock = threading.Lock()

    def take(self, caller: str) -> float:
        """Take one token for `caller`: 0.0 when allowed, else seconds until one is free."""
        now = self.clock()
        with self.lock:
            bucket = self.buckets.get(caller)
            if bucket is None:
                if len(self.buckets) >= MAX_BUCKETS:
                    self._forget_full(now)
                bucket = self.buckets[caller] = Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        full = [
            name
            for name, b in self.buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.burst
        ]
        for name in full:
            del self.buckets[name]


def caller() -> str | None:
    """Who is calling: a digest of the bearer key, or the agent session; None if neither
    (such a request is refused by authentication anyway, or is public)."""
    auth = request.headers.get("Authorization", "")
    if auth:
        return "key:" + hashlib.sha256(auth.encode("utf-8", "replace")).hexdigest()[:32]
    agent = session.get("agent") if request.cookies else None
    if isinstance(agent, dict):
        # The CSRF token is drawn fresh at each launch: one bucket per agent session.
        return f"session:{agent.get('id')}:{session.get('csrf', '')}"
    return None


def rate_limit() -> Response | None:
    limiter: RateLimiter | None = current_app.extensions.get(EXTENSION)
    if limiter is None or request.path == "/healthz":
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
