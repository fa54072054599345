"""Outbound delivery end to end (issue 5): the worker, a real receiver on 127.0.0.1, the
database. Retries, Retry-After, 410, redirects, timeouts, dead letters and replay, SSRF
refusals, erasure propagation, secret rotation."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks.webhooks import Webhook
from test_webhooks_receiver import Receiver

from assistant.store.sqlite.db import connect, database_path, row, rows, writing
from assistant.store.sqlite.events import Event, publish
from assistant.webhooks import deliveries, subscriptions, transport
from assistant.webhooks.worker import Worker

FAST = {
    "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "TRUSTLINE_WEBHOOK_RETRY_SCHEDULE": "0,0.05,0.05,0.05,0.05,0.05",
    "TRUSTLINE_WEBHOOK_MAX_ATTEMPTS": 6,
    "TRUSTLINE_WEBHOOK_CONNECT_TIMEOUT_MS": 1000,
    "TRUSTLINE_WEBHOOK_READ_TIMEOUT_MS": 1000,
    "TRUSTLINE_WEBHOOK_POLL_MS": 10,
}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(**FAST)


@pytest.fixture
def db(app: Flask) -> Iterator[sqlite_utils.Database]:
    handle = connect(database_path(app))
    yield handle
    handle.conn.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def emit(db: sqlite_utils.Database, customer: str, n: int, kind: str = "consent.changed") -> int:
    with writing(db):
        return publish(db, Event(kind, customer, "test", datetime.now(UTC).isoformat(), {"n": n}))


def deliver(app: Flask, timeout: float = 20.0, **kwargs: Any) -> None:
    """Run the worker until nothing is left to do (bounded)."""
    Worker(app, **kwargs).run(threading.Event(), until_idle=True, timeout=timeout)


def subscribe(
    db: sqlite_utils.Database, url: str, events: list[str] | None = None
) -> tuple[int, str]:
    sub, secret = subscriptions.create(db, url, events or ["*"], actor="test")
    return sub["id"], secret


def test_profile_events_arrive_signed_with_purpose_basis_and_provenance(
    app: Flask,
    db: sqlite_utils.Database,
    receiver: Receiver,
    client: FlaskClient,
    api_headers: dict[str, str],
) -> None:
    _, secret = subscribe(db, receiver.url)
    client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=api_headers)
    resp = client.post(
        "/api/v1/customers/c-1/notes",
        json={"text": "Prefers email, no calls please.", "agent": "agent-7"},
        headers=api_headers,
    )
    assert resp.status_code == 201
    consent = {"purpose": "marketing", "status": "granted", "evidence": "ticked the box"}
    resp = client.post("/api/v1/customers/c-1/consents", json=consent, headers=api_headers)
    assert resp.status_code == 201
    deliver(app)
    assert receiver.requests, "nothing was delivered"
    for req in receiver.requests:
        payload = Webhook(secret).verify(req.body, req.headers)
        assert set(payload) == {"type", "timestamp", "data"}
        assert payload["data"]["customer_id"] == "c-1"
    kinds = {p["type"]: p["data"] for p in receiver.processed.values()}
    assert "consent.changed" in kinds
    consent = kinds["consent.changed"]["consent"]
    assert consent["lawful_basis"] and consent["source"] and consent["purpose"] == "marketing"
    added = [p["data"]["fact"] for p in receiver.processed.values() if p["type"].endswith(".added")]
    for fact in added:
        assert fact["provenance"]["purpose"] and fact["provenance"]["lawful_basis"]
        assert fact["provenance"]["note_id"] and fact["provenance"]["extractor"]


def test_failures_then_429_then_success_every_event_once_in_customer_order(
    app: Flask, db: sqlite_utils.Database, receiver: Receiver
) -> None:
    # Each message: two 500s, then a 429 asking for one second, then accepted.
    def script(_id: str, attempt: int, _body: bytes) -> tuple[int, dict[str, str]]:
        if attempt <= 2:
            return 500, {}
        if attempt == 3:
            return 429, {"Retry-After": "1"}
        return 200, {}

    receiver.script = script
    _, secret = subscribe(db, receiver.url)
    customers = ("c-1", "c-2", "c-3")
    for n in range(3):
        for customer in customers:
            emit(db, customer, n)
    deliver(app, timeout=30)

    assert len(receiver.processed) == 9  # every event processed exactly once
    assert all(count == 4 for count in receiver.attempts.values())  # same webhook-id each time
    assert receiver.by_customer() == {c: [0, 1, 2] for c in customers}
    for req in receiver.requests:
        Webhook(secret).verify(req.body, req.headers)  # re-signed on every attempt
    by_id: dict[str, list[float]] = {}
    for req in receiver.requests:
        by_id.setdefault(req.headers["webhook-id"], []).append(req.at)
    for times in by_id.values():
        assert times[3] - times[2] >= 0.95  # Retry-After honoured
    # N+1 of a customer is never sent before N succeeded.
    accepted_at = {msg: times[3] for msg, times in by_id.items()}
    for customer in customers:
        msgs = [
            m for m in receiver.order if receiver.processed[m]["data"]["customer_id"] == customer
        ]
        for earlier, later in itertools.pairwise(msgs):
            assert by_id[later][0] >= accepted_at[earlier]
    assert all(d["status"] == "delivered" for d in deliveries.listing(db))


def test_410_disables_the_subscription_and_holds_its_queue(
    app: Flask, db: sqlite_utils.Database, receiver: Receiver
) -> None:
    receiver.script = lambda *_: (410, {})
    sub_id, _ = subscribe(db, receiver.url)
    emit(db, "c-1", 0)
    emit(db, "c-1", 1)
    deliver(app)
    sub = subscriptions.get(db, sub_id)
    assert not sub["active"] and "410" in sub["disabled_reason"]
    assert len(receiver.requests) == 1  # nothing more was sent
    statuses = [(d["status"], d.get("held")) for d in deliveries.listing(db)]
    assert statuses == [("pending", "subscription disabled"), ("dead", None)]
    emit(db, "c-1", 2)  # while disabled: not queued for it
    deliver(app)
    receiver.script = None
    subscriptions.update(db, sub_id, actor="test", active=True)
    deliver(app)
    assert receiver.by_customer() == {"c-1": [1]}


def test_redirects_are_not_followed(make_app: Callable[..., Flask], receiver: Receiver) -> None:
    app = make_app(**FAST | {"TRUSTLINE_WEBHOOK_MAX_ATTEMPTS": 2})
    elsewhere = Receiver()
    try:
        receiver.script = lambda *_: (307, {"Location": elsewhere.url})
        db = connect(database_path(app))
        subscribe(db, receiver.url)
        emit(db, "c-1", 0)
        deliver(app)
        assert elsewhere.requests == []
        assert len(receiver.requests) == 2
        dead = deliveries.listing(db, status="dead")
        assert dead and "redirects are not followed" in dead[0]["last_error"]
    finally:
        elsewhere.close()


def test_a_slow_target_times_out(make_app: Callable[..., Flask], receiver: Receiver) -> None:
    app = make_app(
        **FAST | {"TRUSTLINE_WEBHOOK_READ_TIMEOUT_MS": 200, "TRUSTLINE_WEBHOOK_MAX_ATTEMPTS": 1}
    )
    receiver.delay = 1.0
    db = connect(database_path(app))
    subscribe(db, receiver.url)
    emit(db, "c-1", 0)
    started = time.monotonic()
    deliver(app)
    assert time.monotonic() - started < 1.0
    dead = deliveries.get(db, deliveries.listing(db)[0]["id"])
    assert dead["status"] == "dead" and "timed out" in dead["last_error"]
    assert dead["attempt_log"][0]["duration_ms"] < 900


def test_a_target_dripping_its_answer_is_cut_off() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def drip() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.is_set():  # one header byte per 50 ms, for ever
                try:
                    conn.sendall(b"X")
                except OSError:
                    return
                time.sleep(0.05)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.getsockname()[1]}/"
        started = time.monotonic()
        outcome = transport.post(
            url, b"{}", {}, connect_timeout=0.2, read_timeout=0.3, allowed=[_loopback()]
        )
        assert time.monotonic() - started < 1.5
        assert outcome.status is None and outcome.error
    finally:
        stop.set()
        server.close()


def _loopback() -> Any:
    import ipaddress

    return ipaddress.ip_network("127.0.0.0/8")


def test_dead_letters_are_listed_and_replay_with_the_same_webhook_id(
    make_app: Callable[..., Flask], receiver: Receiver
) -> None:
    app = make_app(**FAST | {"TRUSTLINE_WEBHOOK_MAX_ATTEMPTS": 3})
    receiver.script = lambda *_: (500, {})
    db = connect(database_path(app))
    subscribe(db, receiver.url)
    emit(db, "c-1", 0)
    emit(db, "c-1", 1)
    deliver(app)
    dead = deliveries.listing(db, status="dead")
    assert len(dead) == 2 and all(d["attempts"] == 3 for d in dead)
    assert "gave up after 3 attempts" in dead[0]["last_error"]
    receiver.script = None
    replayed = deliveries.replay(db, actor="test", all_dead=True)
    assert sorted(replayed) == sorted(d["id"] for d in dead)
    deliver(app)
    assert receiver.by_customer() == {"c-1": [0, 1]}
    assert {d["webhook_id"] for d in dead} == set(receiver.processed)
    assert all(d["status"] == "delivered" for d in deliveries.listing(db))


def test_replaying_what_is_not_dead_is_refused(
    app: Flask, db: sqlite_utils.Database, receiver: Receiver
) -> None:
    from assistant.webhooks.errors import WebhookError

    subscribe(db, receiver.url)
    emit(db, "c-1", 0)
    deliver(app)
    delivered = deliveries.listing(db)[0]
    with pytest.raises(WebhookError) as caught:
        deliveries.replay(db, [delivered["id"]], actor="test")
    assert caught.value.status == 409
    with pytest.raises(WebhookError):
        deliveries.replay(db, [999], actor="test")


# -- SSRF --------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_targets_are_refused_without_the_allow_list(
    make_app: Callable[..., Flask], receiver: Receiver, host: str
) -> None:
    app = make_app(
        **FAST | {"TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS": "", "TRUSTLINE_WEBHOOK_MAX_ATTEMPTS": 2}
    )
    db = connect(database_path(app))
    subscribe(db, receiver.url.replace("127.0.0.1", host))
    emit(db, "c-1", 0)
    deliver(app)
    assert receiver.requests == []  # no connection was made
    dead = deliveries.listing(db, status="dead")
    assert dead and "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS" in dead[0]["last_error"]
    assert "loopback" in dead[0]["last_error"]


def test_a_refused_target_never_holds_back_another_subscription(
    app: Flask, db: sqlite_utils.Database, receiver: Receiver
) -> None:
    # issue 12: a subscription refused by the guard (here one made before the check at
    # subscription time, or whose name now resolves inside) keeps retrying on its own
    # chain; every other subscription gets the same customer's events in order.
    refused, _ = subscribe(db, "http://10.255.0.1:9/hooks")
    subscribe(db, receiver.url)
    for n in range(3):
        emit(db, "c-1", n)
    deliver(app)
    assert [p["data"]["n"] for p in receiver.processed.values()] == [0, 1, 2]
    mine = deliveries.listing(db, subscription_id=refused)
    assert mine and all(d["status"] != "delivered" for d in mine)
    assert any("TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS" in (d["last_error"] or "") for d in mine)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("http://10.0.0.7/hooks", "private"),
        ("https://192.168.1.20:8443/hooks", "private"),
        ("http://[::1]:9/hooks", "loopback"),
        ("http://[::ffff:127.0.0.1]:9/hooks", "loopback"),
    ],
)
def test_internal_targets_are_refused_before_any_connection(url: str, kind: str) -> None:
    outcome = transport.post(url, b"{}", {}, connect_timeout=5, read_timeout=5, allowed=[])
    assert outcome.refused and kind in (outcome.error or "")
    assert outcome.duration < 0.5


def test_a_name_that_resolves_to_loopback_is_refused_at_connect_time(receiver: Receiver) -> None:
    port = receiver.server.server_port
    answers = {"hooks.example": ["93.184.216.34"]}

    def rebinding(host: str, _port: int) -> list[str]:
        found = answers[host]
        answers[host] = ["127.0.0.1"]  # the next lookup points inside
        return found

    # The first lookup (e.g. when the URL was checked) was public; the one that counts is
    # the lookup made to connect, and it is refused.
    assert rebinding("hooks.example", port) == ["93.184.216.34"]
    outcome = transport.post(
        f"http://hooks.example:{port}/hooks",
        b"{}",
        {},
        connect_timeout=1,
        read_timeout=1,
        allowed=[],
        resolve=rebinding,
    )
    assert outcome.refused and "loopback" in (outcome.error or "")
    assert receiver.requests == []


def test_the_connection_goes_to_the_checked_address_with_the_urls_host(receiver: Receiver) -> None:
    port = receiver.server.server_port
    outcome = transport.post(
        f"http://hooks.example:{port}/hooks?x=1",
        b"{}",
        {"webhook-id": "msg_pinned"},
        connect_timeout=1,
        read_timeout=1,
        allowed=[_loopback()],
        resolve=lambda host, _port: ["127.0.0.1"],
    )
    assert outcome.status == 200
    assert receiver.requests[0].headers["Host"] == f"hooks.example:{port}"
    assert receiver.requests[0].path == "/hooks?x=1"


# -- erasure -------------------------------------------------------------------------------


def test_erasure_reaches_every_subscriber_and_is_recorded_per_target(
    app: Flask, db: sqlite_utils.Database, client: FlaskClient, api_headers: dict[str, str]
) -> None:
    everything, dsr_only = Receiver(), Receiver()
    try:
        subscribe(db, everything.url)
        subscribe(db, dsr_only.url, ["dsr.created"])  # its filter does not name erasures
        emit(db, "c-0", 0)
        client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=api_headers)
        emit(db, "c-1", 0)
        emit(db, "c-1", 1)
        last_id = emit(db, "c-1", 2)
        assert client.delete("/api/v1/customers/c-1", headers=api_headers).status_code == 200
        erased_id = row(db, "SELECT id FROM events WHERE type = 'customer.erased'")
        assert erased_id is not None and erased_id["id"] > last_id  # ids are never reused
        deliver(app)
        for target in (everything, dsr_only):
            erased = [p for p in target.processed.values() if p["type"] == "customer.erased"]
            assert len(erased) == 1 and erased[0]["data"]["customer_id"] == "c-1"
        assert all(p["type"] == "customer.erased" for p in dsr_only.processed.values())
        report = deliveries.erasures(db, "c-1")
        assert len(report) == 1 and report[0]["propagated"]
        assert {t["status"] for t in report[0]["targets"]} == {"delivered"}
        assert len(report[0]["targets"]) == 2
    finally:
        everything.close()
        dsr_only.close()


def test_undelivered_events_of_an_erased_customer_are_never_sent_after_the_erasure(
    make_app: Callable[..., Flask],
    receiver: Receiver,
    client: FlaskClient,
    api_headers: dict[str, str],
) -> None:
    app = make_app(**FAST | {"TRUSTLINE_WEBHOOK_RETRY_SCHEDULE": "0,60"})
    client = app.test_client()
    db = connect(database_path(app))
    receiver.script = lambda *_: (503, {})
    subscribe(db, receiver.url)
    client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=api_headers)
    emit(db, "c-1", 0)
    emit(db, "c-1", 1)
    Worker(app).run(threading.Event(), timeout=0.5)  # one failed attempt, retry in a minute
    assert len(receiver.requests) == 1
    client.delete("/api/v1/customers/c-1", headers=api_headers)
    receiver.script = None
    deliver(app)
    assert [p["type"] for p in receiver.processed.values()] == ["customer.erased"]
    statuses = {d["type"]: d["status"] for d in deliveries.listing(db)}
    assert statuses == {"consent.changed": "cancelled", "customer.erased": "delivered"}
    leftover = rows(db, "SELECT customer_id FROM webhook_deliveries WHERE status = 'cancelled'")
    assert {r["customer_id"] for r in leftover} == {None}


def test_after_an_erasure_only_the_erasure_record_names_the_customer(
    app: Flask,
    db: sqlite_utils.Database,
    receiver: Receiver,
    client: FlaskClient,
    api_headers: dict[str, str],
) -> None:
    subscribe(db, receiver.url)
    client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=api_headers)
    emit(db, "c-1", 0)
    deliver(app)
    receiver.script = lambda *_: (500, {})
    emit(db, "c-1", 1)
    Worker(app).run(threading.Event(), timeout=0.3)
    client.delete("/api/v1/customers/c-1", headers=api_headers)
    receiver.script = None
    deliver(app)
    named = rows(
        db,
        "SELECT m.type FROM webhook_messages m JOIN webhook_deliveries d ON d.message_id = m.id "
        "WHERE m.customer_id = 'c-1' OR d.customer_id = 'c-1'",
    )
    assert {r["type"] for r in named} == {"customer.erased"}
    assert [d["status"] for d in deliveries.listing(db)] == ["delivered", "cancelled", "delivered"]


def test_a_disabled_subscription_still_gets_the_erasure_once_enabled(
    app: Flask,
    db: sqlite_utils.Database,
    receiver: Receiver,
    client: FlaskClient,
    api_headers: dict[str, str],
) -> None:
    sub_id, _ = subscribe(db, receiver.url)
    subscriptions.update(db, sub_id, actor="test", active=False)
    client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=api_headers)
    client.delete("/api/v1/customers/c-1", headers=api_headers)
    deliver(app)
    assert receiver.requests == []
    report = deliveries.erasures(db)
    assert not report[0]["propagated"] and report[0]["targets"][0]["status"] == "pending"
    subscriptions.update(db, sub_id, actor="test", active=True)
    deliver(app)
    assert deliveries.erasures(db)[0]["propagated"]


def test_an_erasure_without_subscribers_is_still_recorded(
    app: Flask, db: sqlite_utils.Database, client: FlaskClient, api_headers: dict[str, str]
) -> None:
    client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=api_headers)
    client.delete("/api/v1/customers/c-1", headers=api_headers)
    deliver(app)
    report = deliveries.erasures(db)
    assert report[0]["customer_id"] == "c-1" and report[0]["targets"] == []


# -- subscriptions -------------------------------------------------------------------------


def test_a_subscription_gets_only_events_after_it_was_created(
    app: Flask, db: sqlite_utils.Database, receiver: Receiver
) -> None:
    emit(db, "c-1", 0)
    subscribe(db, receiver.url)
    emit(db, "c-1", 1)
    deliver(app)
    assert receiver.by_customer() == {"c-1": [1]}


def test_event_type_filters(app: Flask, db: sqlite_utils.Database, receiver: Receiver) -> None:
    subscribe(db, receiver.url, ["dsr.created"])
    emit(db, "c-1", 0, "consent.changed")
    emit(db, "c-1", 1, "dsr.created")
    deliver(app)
    assert [p["type"] for p in receiver.processed.values()] == ["dsr.created"]


def test_after_a_rotation_both_secrets_sign_and_the_old_one_expires(
    make_app: Callable[..., Flask], receiver: Receiver
) -> None:
    app = make_app(**FAST)
    db = connect(database_path(app))
    sub_id, old = subscribe(db, receiver.url)
    new, _until = subscriptions.rotate(db, sub_id, actor="test", overlap_hours=1)
    emit(db, "c-1", 0)
    deliver(app)
    req = receiver.requests[0]
    assert len(req.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(req.body, req.headers)
    Webhook(new).verify(req.body, req.headers)
    later = datetime.fromtimestamp(time.time() + 7200, UTC)
    assert subscriptions.signing_secrets(db, sub_id, later) == [new]
    newest, _ = subscriptions.rotate(db, sub_id, actor="test", overlap_hours=1)
    assert subscriptions.signing_secrets(db, sub_id) == [newest, new]  # never three


def test_subscriptions_refuse_bad_urls_and_unknown_event_types(db: sqlite_utils.Database) -> None:
    from assistant.webhooks.errors import WebhookError

    for url in (
        "ftp://x.example/",
        "http://",
        "https://user:pw@x.example/",
        "https://x.example/#f",
        "x" * 3000,
    ):
        with pytest.raises(WebhookError):
            subscriptions.create(db, url, ["*"], actor="test")
    with pytest.raises(WebhookError, match="unknown event type"):
        subscriptions.create(db, "https://x.example/", ["profile.created"], actor="test")
    with pytest.raises(WebhookError):
        subscriptions.create(db, "https://x.example/", [], actor="test")


def test_concurrent_deliveries_keep_each_customers_order(
    make_app: Callable[..., Flask], receiver: Receiver
) -> None:
    app = make_app(**FAST | {"TRUSTLINE_WEBHOOK_CONCURRENCY": 8})
    receiver.delay = 0.005
    db = connect(database_path(app))
    subscribe(db, receiver.url)
    with writing(db):
        for n in range(20):
            for c in range(10):
                publish(
                    db,
                    Event("consent.changed", f"c-{c}", "t", "2025-01-01T00:00:00+00:00", {"n": n}),
                )
    deliver(app, timeout=30)
    assert len(receiver.processed) == 200
    assert receiver.by_customer() == {f"c-{c}": list(range(20)) for c in range(10)}


def test_tls_goes_to_the_checked_address_with_the_urls_name(tmp_path: Path) -> None:
    import http.server
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")  # allowed: no openssl
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=hooks.example",
            "-addext",
            "subjectAltName=DNS:hooks.example",
        ],
        check=True,
        capture_output=True,
    )
    names: list[str | None] = []
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server_tls.sni_callback = lambda _sock, name, _ctx: names.append(name)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        port = server.server_port
        trusting = ssl.create_default_context(cafile=str(cert))
        common: dict[str, Any] = {
            "connect_timeout": 2,
            "read_timeout": 2,
            "allowed": [_loopback()],
            "resolve": lambda _h, _p: ["127.0.0.1"],
        }
        ok = transport.post(f"https://hooks.example:{port}/", b"{}", {}, tls=trusting, **common)
        assert ok.status == 204 and names == ["hooks.example"]
        untrusted = transport.post(f"https://hooks.example:{port}/", b"{}", {}, **common)
        assert untrusted.status is None and "CERTIFICATE_VERIFY_FAILED" in (untrusted.error or "")
        wrong = transport.post(f"https://other.example:{port}/", b"{}", {}, tls=trusting, **common)
        assert wrong.status is None and "other.example" in (wrong.error or "")
    finally:
        server.shutdown()
        server.server_close()


def test_one_watchdog_thread_keeps_every_deadline_and_forgets_cancelled_ones() -> None:
    """The deadlines of exchanges in flight share one thread: each fires at its time,
    in order, and a cancelled one (the answer came in time) never fires."""
    dog = transport.Watchdog()
    fired: list[int] = []
    done = threading.Event()
    now = time.monotonic()
    before = threading.active_count()
    handles = {
        n: dog.call_at(now + 0.05 * n, lambda n=n: (fired.append(n), n == 6 and done.set()))
        for n in (6, 3, 1, 5, 2, 4)
    }
    assert threading.active_count() == before + 1  # one thread, not one per deadline
    dog.cancel(handles[2])
    dog.cancel(handles[5])
    assert done.wait(5)
    assert fired == [1, 3, 4, 6]
    for _ in range(500):  # many cancelled deadlines do not pile up
        dog.cancel(dog.call_at(time.monotonic() + 60, lambda: fired.append(0)))
    assert len(dog._heap) < 200
