"""Who may call what (issue 6): every route of the app x every kind of caller.

The routes are read from the app's url_map: a route added without its line in ROUTES
fails test_every_route_is_in_the_matrix, so nobody ships an endpoint whose access was
never decided. Each caller gets a fresh app and database; each call gets fresh rows to
act on (a customer, a fact, a dead delivery), so the order of the calls does not matter.

Callers: nobody; a sidebar session of an agent and of a supervisor (launched with a valid
token; every POST carries the session's CSRF token, so only authorization is tested
here: tests/test_sidebar.py covers CSRF); an API key of each scope; and two launch tokens
that must let nobody in, an expired one and one for another audience (the launch is
tried and refused, then the token is also sent as a bearer credential).

An allowed caller gets the route's success status (2xx, or 303 for a form post or a
launch); anyone else gets 401 (not signed in, no valid key) or 403 (signed in but not
allowed), never a 2xx, and the database is left as it was.

Public on purpose (see PUBLIC_WHY): the demo desktop at `/`, `/healthz`, the static
files and the OpenAPI document.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest
import sqlite_utils
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from assistant import services
from assistant.auth import SCOPES, create_key
from assistant.policy import load_policy
from assistant.sidebar import launch
from assistant.store.sqlite.db import connect, row, rows
from assistant.webhooks import outbox, subscriptions
from assistant.webhooks.signing import new_secret, signature_header
from nlp import Extractor

HOST_SECRET = "helpdesk-launch-secret-for-tests-" + "0123456789abcdef" * 2
INBOUND_SECRET = new_secret()
AUDIENCE = "trustline-sidebar"
# A preference, a complaint and a consent grant (a proposal until confirmed).
NOTE = "Prefers email, no calls. Parcel arrived damaged again, very unhappy. " + (
    "Happy for us to text her about offers."
)

SESSIONS = ("agent", "supervisor")
KEYS = tuple(f"key:{scope}" for scope in SCOPES)
BAD_TOKENS = ("expired-launch", "other-audience")
PRINCIPALS = ("nobody", *SESSIONS, *KEYS, *BAD_TOKENS)

PUBLIC_WHY = {
    "/": "the demo desktop (TRUSTLINE_DEMO) or, with the demo off, a page that points to "
    "the docs; it shows no customer data",
    "/healthz": "the liveness probe of load balancers; it says only 'ok'",
    "/static/<path:filename>": "the pages' own CSS and JavaScript, loaded before any session",
    "/api/v1/openapi.json": "describes the API and holds no customer data",
}


# -- the world one caller acts in ----------------------------------------------------------


@dataclass
class Call:
    method: str
    url: str
    json: Any = None
    form: dict[str, str] | None = None
    stream: bool = False
    new_client: bool = False  # a launch starts a new session: keep the caller's own


@dataclass
class World:
    """The app and a factory of fresh rows for each call."""

    app: Flask
    db: sqlite_utils.Database
    extractor: Extractor
    subscription_id: int
    tokens: dict[str, str] = field(default_factory=dict)
    serial: Iterator[int] = field(default_factory=count)

    def customer(self) -> dict[str, Any]:
        """A new customer with a stored preference, an open complaint and a proposal."""
        n = next(self.serial)
        customer_id, external_id = f"c-{n}", f"crm-{n}"
        services.upsert_customer(
            self.db,
            customer_id,
            actor="test",
            name="Ada Lovelace",
            identities=[services.Identity("crm", external_id)],
        )
        stored = services.ingest_note(
            self.db, self.extractor, load_policy(), customer_id, NOTE, agent="test"
        )
        complaint = next(f["id"] for f in stored["facts"] if f["kind"] == "complaint")
        preference = next(f["id"] for f in stored["facts"] if f["kind"] == "preference")
        (proposal,) = stored["consent_proposals"]
        return {
            "id": customer_id,
            "external_id": external_id,
            "complaint": complaint,
            "preference": preference,
            "proposal": proposal["id"],
        }

    def dead_delivery(self) -> int:
        """A delivery that used up its attempts: the one kind that may be replayed."""
        self.customer()
        outbox.fan_out(self.db, now=time.time())
        found = row(self.db, "SELECT max(id) AS id FROM webhook_deliveries")
        assert found is not None and found["id"] is not None
        with self.db.conn:
            self.db.execute(
                "UPDATE webhook_deliveries SET status = 'dead' WHERE id = ?", [found["id"]]
            )
        return int(found["id"])

    def fingerprint(self) -> dict[str, int]:
        """Row counts that every write changes (a refused call must leave them)."""
        tables = ("audit_log", "events", "customers", "notes", "webhook_inbox", "webhook_secrets")
        counts = {
            t: int(self.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables
        }
        pending = rows(self.db, "SELECT id FROM webhook_deliveries WHERE status = 'pending'")
        counts["pending_deliveries"] = len(pending)
        counts["facts_open"] = int(
            self.db.execute(
                "SELECT count(*) FROM facts WHERE removed_at IS NULL AND status IS NOT 'resolved'"
            ).fetchone()[0]
        )
        return counts


# -- the matrix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Who may call a route, what they get, and a call that succeeds for them."""

    allowed: frozenset[str]
    forbidden: frozenset[str]  # authenticated but not allowed: 403 (everyone else 401)
    ok: int
    build: Callable[[World], Call]

    def expected(self, who: str) -> int:
        if who in self.allowed:
            return self.ok
        return 403 if who in self.forbidden else 401


def public(ok: int, build: Callable[[World], Call]) -> Route:
    return Route(frozenset(PRINCIPALS), frozenset(), ok, build)


def api(scope: str, ok: int, build: Callable[[World], Call]) -> Route:
    """An API key with `scope` (or admin, which implies every scope); a sidebar session
    is no API credential."""
    allowed = {f"key:{scope}", "key:admin"}
    return Route(frozenset(allowed), frozenset(set(KEYS) - allowed), ok, build)


def sidebar(ok: int, build: Callable[[World], Call], roles: tuple[str, ...] = SESSIONS) -> Route:
    return Route(frozenset(roles), frozenset(set(SESSIONS) - set(roles)), ok, build)


def customer_call(method: str, template: str, **kwargs: Any) -> Callable[[World], Call]:
    """A call on a fresh customer: `template` may name {id}, {external_id}, {complaint},
    {preference} and {proposal}."""

    def build(world: World) -> Call:
        return Call(method, template.format(**world.customer()), **kwargs)

    return build


def fixed(method: str, url: str, **kwargs: Any) -> Callable[[World], Call]:
    return lambda _world: Call(method, url, **kwargs)


def subscription_call(method: str, suffix: str = "", **kwargs: Any) -> Callable[[World], Call]:
    return lambda w: Call(method, f"/api/v1/webhooks/{w.subscription_id}{suffix}", **kwargs)


def launch_call(world: World) -> Call:
    token = world.tokens.get("launch", "")
    return Call("GET", f"/sidebar/launch?token={token}", new_client=True)


def replay_call(world: World) -> Call:
    return Call("POST", f"/api/v1/webhooks/deliveries/{world.dead_delivery()}/replay")


def forged_link_call(world: World) -> Call:
    world.customer()
    return Call("GET", "/my/" + "A" * 24 + "." + "B" * 24)


def inbound_call(world: World) -> Call:
    data = {"external_id": world.customer()["external_id"], "text": "Prefers sms.", "author": "x"}
    return Call("POST", "/webhooks/in/crm", json={"type": "note.created", "data": data})


C = "/api/v1/customers/{id}"
S = "/sidebar/customers/{id}"

ROUTES: dict[tuple[str, str], Route] = {
    # Public on purpose: PUBLIC_WHY says why.
    ("GET", "/"): public(200, fixed("GET", "/")),
    ("GET", "/healthz"): public(200, fixed("GET", "/healthz")),
    ("GET", "/static/<path:filename>"): public(200, fixed("GET", "/static/sidebar/sidebar.css")),
    ("GET", "/api/v1/openapi.json"): public(200, fixed("GET", "/api/v1/openapi.json")),
    # The sidebar: a session from a valid launch token.
    ("GET", "/sidebar/launch"): sidebar(303, launch_call),
    ("GET", "/sidebar"): sidebar(200, customer_call("GET", "/sidebar?customer={id}")),
    ("POST", "/sidebar/customers"): sidebar(
        303,
        fixed("POST", "/sidebar/customers", form={"external_id": "crm-new", "name": "New"}),
        roles=("supervisor",),  # TRUSTLINE_CREATE_CUSTOMER_ROLES' default
    ),
    ("POST", "/sidebar/customers/<customer_id>/preview"): sidebar(
        200, customer_call("POST", S + "/preview", form={"text": "Prefers sms."})
    ),
    ("POST", "/sidebar/customers/<customer_id>/notes"): sidebar(
        303, customer_call("POST", S + "/notes", form={"text": "Prefers sms."})
    ),
    ("POST", "/sidebar/customers/<customer_id>/consents"): sidebar(
        303,
        customer_call(
            "POST", S + "/consents", form={"purpose": "marketing", "status": "withdrawn"}
        ),
    ),
    ("POST", "/sidebar/customers/<customer_id>/proposals/<int:proposal_id>/confirm"): sidebar(
        303, customer_call("POST", S + "/proposals/{proposal}/confirm", form={})
    ),
    ("POST", "/sidebar/customers/<customer_id>/facts/<int:fact_id>/remove"): sidebar(
        303, customer_call("POST", S + "/facts/{preference}/remove", form={"reason": "misheard"})
    ),
    ("POST", "/sidebar/customers/<customer_id>/facts/<int:fact_id>/correct"): sidebar(
        303, customer_call("POST", S + "/facts/{preference}/correct", form={"value": "chat"})
    ),
    ("POST", "/sidebar/customers/<customer_id>/facts/<int:fact_id>/status"): sidebar(
        303, customer_call("POST", S + "/facts/{complaint}/status", form={"status": "resolved"})
    ),
    # Live updates: a sidebar session, or a key that may read.
    ("GET", "/customers/<customer_id>/stream"): Route(
        frozenset({*SESSIONS, "key:read", "key:admin"}),
        frozenset({"key:write", "key:consent"}),
        200,
        customer_call("GET", "/customers/{id}/stream", stream=True),
    ),
    # Inbound webhooks: only a request signed with the source's secret, which none of
    # these callers holds (test_a_signed_inbound_webhook_is_accepted is the other half).
    ("POST", "/webhooks/in/<source>"): Route(frozenset(), frozenset(), 202, inbound_call),
    # The customer's own page: only her link, which none of these callers holds; the
    # link they are sent is forged (tests/test_customer_page.py is the other half).
    ("GET", "/my/<token>"): Route(frozenset(), frozenset(), 303, forged_link_call),
    ("GET", "/my"): Route(frozenset(), frozenset(), 200, fixed("GET", "/my")),
    ("GET", "/my/export"): Route(frozenset(), frozenset(), 200, fixed("GET", "/my/export")),
    ("POST", "/my/consents"): Route(
        frozenset(),
        frozenset(),
        303,
        fixed("POST", "/my/consents", form={"purpose": "marketing", "status": "withdrawn"}),
    ),
    ("POST", "/my/leave"): Route(frozenset(), frozenset(), 200, fixed("POST", "/my/leave")),
    ("POST", "/my/requests"): Route(
        frozenset(), frozenset(), 303, fixed("POST", "/my/requests", form={"kind": "rectify"})
    ),
    # The API: the scope the README gives each route.
    ("POST", "/api/v1/extract"): api(
        "read", 200, fixed("POST", "/api/v1/extract", json={"text": "Prefers sms."})
    ),
    ("GET", "/api/v1/customers/lookup"): api(
        "read",
        200,
        customer_call("GET", "/api/v1/customers/lookup?source=crm&external_id={external_id}"),
    ),
    ("PUT", "/api/v1/customers/<customer_id>"): api(
        "write", 200, customer_call("PUT", C, json={"name": "Ada King"})
    ),
    ("DELETE", "/api/v1/customers/<customer_id>"): api("admin", 200, customer_call("DELETE", C)),
    ("POST", "/api/v1/customers/<customer_id>/notes"): api(
        "write", 201, customer_call("POST", C + "/notes", json={"text": "Prefers sms."})
    ),
    ("GET", "/api/v1/customers/<customer_id>/profile"): api(
        "read", 200, customer_call("GET", C + "/profile")
    ),
    ("GET", "/api/v1/customers/<customer_id>/consents"): api(
        "read", 200, customer_call("GET", C + "/consents")
    ),
    ("POST", "/api/v1/customers/<customer_id>/consents"): api(
        "consent",
        201,
        customer_call(
            "POST",
            C + "/consents",
            json={"purpose": "marketing", "status": "denied", "evidence": "no"},
        ),
    ),
    ("DELETE", "/api/v1/customers/<customer_id>/facts/<int:fact_id>"): api(
        "write",
        200,
        customer_call("DELETE", C + "/facts/{preference}", json={"reason": "misheard"}),
    ),
    ("PATCH", "/api/v1/customers/<customer_id>/facts/<int:fact_id>"): api(
        "write", 200, customer_call("PATCH", C + "/facts/{complaint}", json={"status": "resolved"})
    ),
    ("GET", "/api/v1/customers/<customer_id>/export"): api(
        "admin", 200, customer_call("GET", C + "/export")
    ),
    ("GET", "/api/v1/customers/<customer_id>/events"): api(
        "read", 200, customer_call("GET", C + "/events")
    ),
    ("POST", "/api/v1/customers/<customer_id>/links"): api(
        "consent", 201, customer_call("POST", C + "/links", json={"ttl": "1h"})
    ),
    ("DELETE", "/api/v1/customers/<customer_id>/links"): api(
        "consent", 200, customer_call("DELETE", C + "/links")
    ),
    ("GET", "/api/v1/webhooks"): api("admin", 200, fixed("GET", "/api/v1/webhooks")),
    ("POST", "/api/v1/webhooks"): api(
        "admin", 201, fixed("POST", "/api/v1/webhooks", json={"url": "https://crm.example/in"})
    ),
    ("GET", "/api/v1/webhooks/<int:subscription_id>"): api("admin", 200, subscription_call("GET")),
    ("PATCH", "/api/v1/webhooks/<int:subscription_id>"): api(
        "admin", 200, subscription_call("PATCH", json={"active": True})
    ),
    ("POST", "/api/v1/webhooks/<int:subscription_id>/rotate"): api(
        "admin", 201, subscription_call("POST", "/rotate")
    ),
    ("GET", "/api/v1/webhooks/deliveries"): api(
        "admin", 200, fixed("GET", "/api/v1/webhooks/deliveries")
    ),
    ("POST", "/api/v1/webhooks/deliveries/<int:delivery_id>/replay"): api(
        "admin", 200, replay_call
    ),
    ("GET", "/api/v1/webhooks/erasures"): api(
        "admin", 200, fixed("GET", "/api/v1/webhooks/erasures")
    ),
}


# -- fixtures and callers -----------------------------------------------------------------


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(
        TRUSTLINE_SECRET_KEY="session-key-for-tests-only-" + "k" * 20,
        TRUSTLINE_LAUNCH_SECRETS=f"helpdesk={HOST_SECRET}",
        TRUSTLINE_INBOUND_SECRETS=f"crm={INBOUND_SECRET}",
        TRUSTLINE_SSE_MAX_SECONDS=0.5,  # a stream read by mistake still ends
    )


@pytest.fixture
def world(app: Flask, extractor: Extractor) -> Iterator[World]:
    db = connect(app.config["TRUSTLINE_DATABASE"])
    sub, _secret = subscriptions.create(db, "https://crm.example/hooks", ["*"], actor="test")
    yield World(app, db, extractor, int(sub["id"]))
    db.conn.close()


def token(role: str = "agent", **overrides: Any) -> str:
    claims: dict[str, Any] = {
        "issuer": "helpdesk",
        "audience": AUDIENCE,
        "agent_id": f"{role}-1",
        "role": role,
        "source": "crm",
    }
    claims.update(overrides)
    return launch.sign(HOST_SECRET, **claims)


def caller(world: World, who: str) -> tuple[FlaskClient, dict[str, str]]:
    """A client acting as `who`, and the headers it sends with every request."""
    client = world.app.test_client()
    if who in SESSIONS:
        world.tokens["launch"] = token(who)
        assert client.get("/sidebar/launch?token=" + token(who)).status_code == 303
        page = client.get("/sidebar").get_data(as_text=True)
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
        assert csrf, "the sidebar page carries its CSRF token"
        return client, {"X-CSRF-Token": csrf.group(1)}
    if who in KEYS:
        scope = who.removeprefix("key:")
        return client, {"Authorization": f"Bearer {create_key(world.db, who, [scope])}"}
    if who in BAD_TOKENS:
        bad = (
            token(now=time.time() - 600)
            if who == "expired-launch"
            else token(audience="another-app")
        )
        world.tokens["launch"] = bad
        refused = client.get("/sidebar/launch?token=" + bad)
        assert refused.status_code == 401 and "Set-Cookie" not in refused.headers
        return client, {"Authorization": f"Bearer {bad}"}
    return client, {}


def send(client: FlaskClient, call: Call, headers: dict[str, str]) -> TestResponse:
    kwargs: dict[str, Any] = {"method": call.method, "headers": headers}
    if call.json is not None:
        kwargs["json"] = call.json
    if call.form is not None:
        kwargs["data"] = call.form
    # A stream is never read (its status and headers are all we need); other answers
    # are read whole. Either way the response is closed: a static file holds a file open.
    resp = client.open(call.url, buffered=not call.stream, **kwargs)
    resp.close()
    return resp


def app_rules(app: Flask) -> set[tuple[str, str]]:
    """(method, rule) of every route; HEAD and OPTIONS come with GET and every route."""
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


# -- the tests -----------------------------------------------------------------------------


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    routes = app_rules(app)
    missing = sorted(routes - set(ROUTES))
    assert not missing, f"routes whose access the matrix does not decide: {missing}"
    gone = sorted(set(ROUTES) - routes)
    assert not gone, f"matrix lines for routes that no longer exist: {gone}"


def test_public_routes_are_the_ones_stated() -> None:
    open_to_all = {rule for (_, rule), r in ROUTES.items() if r.allowed == set(PRINCIPALS)}
    assert open_to_all == set(PUBLIC_WHY)


@pytest.mark.parametrize("who", PRINCIPALS)
def test_only_the_intended_callers_get_through(world: World, who: str) -> None:
    client, headers = caller(world, who)
    wrong = []
    for method, rule in sorted(app_rules(world.app)):
        route = ROUTES.get((method, rule))
        if route is None:
            wrong.append(f"{method} {rule}: not in the matrix")
            continue
        call = route.build(world)
        before = world.fingerprint()
        resp = send(world.app.test_client() if call.new_client else client, call, headers)
        expected = route.expected(who)
        where = f"{method} {rule} ({call.url}) as {who}"
        if resp.status_code != expected:
            wrong.append(f"{where}: {resp.status_code}, expected {expected}")
            continue
        if expected in (401, 403):
            if world.fingerprint() != before:
                wrong.append(f"{where}: refused with {expected} but wrote to the database")
            api_like = rule.startswith(("/api/", "/webhooks/in/", "/customers/"))
            if api_like and resp.mimetype != "application/problem+json":
                wrong.append(f"{where}: refusal is {resp.mimetype}, not a problem document")
    assert not wrong, "\n".join(wrong)


def test_matrix_size() -> None:
    # 44 routes x 9 kinds of caller; a new route or caller changes this on purpose
    # (issue 15 added the customer page's eight and the sidebar's /facts/<id>/correct).
    assert (len(ROUTES), len(PRINCIPALS)) == (44, 9)


def test_a_signed_inbound_webhook_is_accepted(world: World) -> None:
    """The intended caller of /webhooks/in/<source>: a request signed with its secret."""
    call = inbound_call(world)
    body = json.dumps(call.json)
    stamp = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "msg_authz_1",
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature_header("msg_authz_1", stamp, body, [INBOUND_SECRET]),
    }
    resp = world.app.test_client().post(call.url, data=body, headers=headers)
    resp.close()
    assert resp.status_code == 202, resp.get_data(as_text=True)
