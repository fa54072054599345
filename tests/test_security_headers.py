"""Security headers on every response and rate limits per key and session (issue 6)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_sidebar import HOST_ORIGIN, HOST_SECRET, sign_in

from assistant.security import DEFAULT_CSP, RateLimiter

SIDEBAR = {
    "TRUSTLINE_SECRET_KEY": "session-key-for-tests-only-" + "k" * 20,
    "TRUSTLINE_LAUNCH_SECRETS": f"helpdesk={HOST_SECRET}",
    "TRUSTLINE_HOST_ORIGINS": HOST_ORIGIN,
    "TRUSTLINE_FRAME_ANCESTORS": f"'self' {HOST_ORIGIN}",
}


@pytest.fixture
def limited(make_app: Callable[..., Flask]) -> Flask:
    return make_app(TRUSTLINE_RATE_LIMIT_PER_MINUTE=60, TRUSTLINE_RATE_LIMIT_BURST=3, **SIDEBAR)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/api/v1/openapi.json"),
        ("POST", "/api/v1/extract"),
        ("GET", "/api/v1/customers/nobody/profile"),
        ("GET", "/no/such/page"),
        ("GET", "/api/v1/no/such/route"),
    ],
)
def test_every_response_carries_the_default_headers(
    client: FlaskClient, api_headers: dict[str, str], method: str, path: str
) -> None:
    resp = client.open(path, method=method, headers=api_headers, json={"text": "hi"})
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Content-Security-Policy"] == DEFAULT_CSP


def test_pages_keep_their_own_policy(make_app: Callable[..., Flask]) -> None:
    client = make_app(**SIDEBAR).test_client()
    sign_in(client)
    sidebar = client.get("/sidebar")
    assert f"frame-ancestors 'self' {HOST_ORIGIN}" in sidebar.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in sidebar.headers
    desktop = client.get("/")
    assert "frame-ancestors 'none'" in desktop.headers["Content-Security-Policy"]
    assert "script-src 'self'" in desktop.headers["Content-Security-Policy"]
    for resp in (sidebar, desktop):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


def _extract(client: FlaskClient, key: str) -> Any:
    return client.post(
        "/api/v1/extract", headers={"Authorization": f"Bearer {key}"}, json={"text": "hi"}
    )


def test_a_key_over_its_rate_gets_429_with_retry_after(limited: Flask, api_key: str) -> None:
    client = limited.test_client()
    assert [_extract(client, api_key).status_code for _ in range(3)] == [200] * 3
    resp = _extract(client, api_key)
    assert resp.status_code == 429
    assert resp.mimetype == "application/problem+json"
    assert resp.headers["Retry-After"] == "1"  # one request a second refills
    body = resp.get_json()
    assert body["status"] == 429 and body["error"] == "rate_limited"
    assert body["title"] == "Too many requests"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_buckets_are_per_key(limited: Flask, api_key: str) -> None:
    client = limited.test_client()
    for _ in range(4):
        _extract(client, api_key)
    assert _extract(client, api_key).status_code == 429
    assert _extract(client, "tl_another").status_code == 401  # its own bucket, then auth
    assert client.get("/healthz").status_code == 200  # never limited


@pytest.mark.parametrize(
    "header",
    ["Bearer  {key}", "bearer {key}", "BEARER {key}", "Bearer {key} ", "Bearer \t{key}"],
)
def test_one_key_has_one_bucket_however_its_header_is_written(
    limited: Flask, api_key: str, header: str
) -> None:
    # issue 12, item 11: the bucket was keyed on the raw header, so another spelling of
    # the same key got a fresh one (400 of 400 passed).
    client = limited.test_client()
    for _ in range(3):
        assert _extract(client, api_key).status_code == 200
    written = {"Authorization": header.format(key=api_key)}
    resp = client.post("/api/v1/extract", headers=written, json={"text": "hi"})
    assert resp.status_code == 429
    assert _extract(client, api_key).status_code == 429


def test_an_agent_session_has_its_own_bucket(limited: Flask, api_key: str) -> None:
    for _ in range(4):
        _extract(limited.test_client(), api_key)  # the key's bucket is empty now
    agent = limited.test_client()
    sign_in(agent)  # the launch has no session yet; the page it leads to counts
    codes = [agent.get("/sidebar").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    other = limited.test_client()
    sign_in(other, agent_id="agent-8")
    assert other.get("/sidebar").status_code == 200  # another session is not held back


def test_zero_turns_the_limit_off(make_app: Callable[..., Flask], api_key: str) -> None:
    client = make_app(TRUSTLINE_RATE_LIMIT_PER_MINUTE=0, TRUSTLINE_RATE_LIMIT_BURST=1)
    assert {_extract(client.test_client(), api_key).status_code for _ in range(10)} == {200}


def test_the_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=120, burst=2, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("k") == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.take("k") == 0.0
    assert limiter.take("other") == 0.0


def test_a_full_bucket_gives_its_slot_to_another_caller() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=1, clock=lambda: now[0], slots=1)
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0  # a is held back, and holds the only slot
    now[0] = 10.0  # a's bucket is full again: the same as none
    assert limiter.take("b") == 0.0
    assert limiter.take("b") > 0  # b has the slot now


def test_with_every_slot_busy_the_longest_idle_caller_is_reset() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0], slots=2)
    for name, at in (("a", 0.0), ("b", 0.5)):
        now[0] = at
        limiter.take(name)
        limiter.take(name)
    now[0] = 0.6
    assert limiter.take("c") == 0.0  # took a's slot (idle longest)
    assert limiter.take("b") > 0  # b kept its bucket
    assert limiter.take("a") == 0.0  # a was reset: it starts anew


def test_processes_forked_after_the_limiter_share_its_buckets() -> None:
    """`trustline serve` builds the app before gunicorn forks: each worker's requests
    draw on the same buckets, so N workers do not give a caller N times the rate."""
    limiter = RateLimiter(per_minute=1, burst=3)
    pid = os.fork()
    if pid == 0:  # the child: another worker taking the caller's whole burst
        code = 0 if [limiter.take("k") for _ in range(3)] == [0.0] * 3 else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert limiter.take("k") > 0  # nothing left for this process either
    assert limiter.take("other") == 0.0


def test_a_worker_killed_holding_the_lock_does_not_stall_the_others() -> None:
    """gunicorn kills a hung worker, the OOM killer any: the shared buckets' lock is let
    go with the process that held it."""
    limiter = RateLimiter(per_minute=60, burst=5)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child takes the lock and is killed holding it
        held = limiter.lock()
        held.__enter__()
        os.write(ready_w, b"x")
        time.sleep(60)
        os._exit(0)
    try:
        assert os.read(ready_r, 1) == b"x"
        os.kill(pid, signal.SIGKILL)
    finally:
        os.waitpid(pid, 0)
        os.close(ready_r)
        os.close(ready_w)
    answers: list[float] = []
    taker = threading.Thread(target=lambda: answers.append(limiter.take("k")), daemon=True)
    taker.start()
    taker.join(timeout=5)
    assert answers == [0.0], "the lock died with its holder's process"
