"""The OpenAPI document (assistant/api/openapi.json) against the routes and real answers.

Every answer of the scenario is validated against the schema the document declares for
its path, method and status, and the scenario must reach every status the document
declares: the document promises nothing the code cannot do, and the code answers
nothing the document does not describe.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

# Importing the module registers GET /api/v1/openapi.json on the blueprint; it must
# happen before any app is created (pytest imports test modules before running them).
from assistant.api import openapi
from assistant.auth import SCOPES, create_key
from assistant.policy import load_policy
from assistant.store.sqlite.db import connect

PREFIX = "/api/v1"
DOC_URI = "urn:trustline:openapi"
OPERATION_KEYS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
CARD = "4111 1111 1111 1111"
C1 = f"{PREFIX}/customers/c-1"
JSON = "application/json"
STREAM = "/customers/{customer_id}/stream"  # served at the root, not under /api/v1
SSE_SECONDS = 0.3  # how long a stream stays open here before the client would reconnect

DOC = openapi.document()
REGISTRY: Registry[Any] = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(DOC))
FORMATS = FormatChecker()


def is_aware_datetime(value: object) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


# jsonschema checks date-time only with an optional package; the API's times are
# isoformat() strings, always with an offset.
FORMATS.checks("date-time", raises=ValueError)(is_aware_datetime)


# -- reading the document ----------------------------------------------------------------


def doc_path(rule: str) -> str:
    """A Flask rule as the document writes its path: `/customers/{fact_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.removeprefix(PREFIX))


def pointer(parts: list[str]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def ref_parts(ref: str) -> list[str]:
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    return [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]


def at(parts: list[str]) -> Any:
    node: Any = DOC
    for part in parts:
        node = node[part]
    return node


def deref(node: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = at(ref_parts(node["$ref"])) if "$ref" in node else node
    return found


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOC["paths"].items():
        for method in OPERATION_KEYS:
            if method in item:
                yield path, method, item[method]


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def declared_statuses() -> set[tuple[str, str, str]]:
    # The webhook routes' own scenario is tests/test_webhooks_manage.py.
    return {
        (path, method, status)
        for path, method, op in operations()
        for status in op["responses"]
        if not path.startswith("/webhooks")
    }


def api_routes(app: Flask) -> set[tuple[str, str]]:
    """(path, method) of every route Flask serves under /api/v1 (HEAD, OPTIONS implied)."""
    return {
        (doc_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX + "/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def validator_at(parts: list[str]) -> Draft202012Validator:
    """A validator for the schema at `parts` in the document, its $refs resolved there."""
    schema = {"$ref": DOC_URI + "#" + quote(pointer(parts))}
    return Draft202012Validator(schema, registry=REGISTRY, format_checker=FORMATS)


def check_answer(path: str, method: str, resp: TestResponse) -> None:
    """Assert `resp` is what the document declares for `path`, `method` and its status."""
    where = f"{method.upper()} {path} -> {resp.status_code}"
    responses = DOC["paths"][path][method]["responses"]
    status = str(resp.status_code)
    assert status in responses, (
        f"{where}: status not in the document: {resp.get_data(as_text=True)}"
    )
    parts = ["paths", path, method, "responses", status]
    if "$ref" in responses[status]:
        parts = ref_parts(responses[status]["$ref"])
    declared = at(parts)
    for name, header in declared.get("headers", {}).items():
        header = deref(header)
        value = resp.headers.get(name)
        if value is None:
            assert not header.get("required"), f"{where}: header {name} missing"
        else:
            error = best_match(Draft202012Validator(header["schema"]).iter_errors(value))
            assert error is None, f"{where}: header {name}: {error.message}"
    content = declared.get("content")
    if content is None:
        assert resp.get_data() == b"", f"{where}: a body where the document declares none"
        return
    mimetype = resp.mimetype or ""
    assert mimetype in content, f"{where}: {mimetype} is not declared"
    validator = validator_at([*parts, "content", mimetype, "schema"])
    error = best_match(validator.iter_errors(body(resp)))
    assert error is None, f"{where}: {error.message} at {error.json_path}"


class Api:
    """The test client of an app, checking every answer against the document."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.urls = app.url_map.bind("localhost")
        self.seen: set[tuple[str, str, str]] = set()

    def path_of(self, method: str, url: str) -> str:
        """The document's path for `url`, as Flask routes it."""
        rule, _ = self.urls.match(urlsplit(url).path, method=method.upper(), return_rule=True)
        assert isinstance(rule, Rule)
        return doc_path(rule.rule)

    def send(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        """Make a request and check its answer, whatever the status."""
        resp = self.client.open(url, method=method.upper(), **kwargs)
        path = self.path_of(method, url)
        check_answer(path, method, resp)
        self.seen.add((path, method, str(resp.status_code)))
        return resp

    def call(self, method: str, url: str, status: int, **kwargs: Any) -> TestResponse:
        """Make a request that must answer `status`, and check the answer."""
        resp = self.send(method, url, **kwargs)
        assert resp.status_code == status, f"{method.upper()} {url}: {resp.text}"
        return resp


def body(resp: TestResponse) -> Any:
    """The answer's JSON; an event stream's text as it is (its schema is a string)."""
    if resp.mimetype == "text/event-stream":
        return resp.get_data(as_text=True)
    return json.loads(resp.get_data(as_text=True))


def sse_messages(text: str) -> list[dict[str, str]]:
    """The messages of a Server-Sent Events stream, comments and `retry:` left out."""
    found = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            if name in ("id", "event", "data"):
                fields[name] = fields[name] + "\n" + value if name in fields else value
        if fields:
            found.append(fields)
    return found


def headers_with(app: Flask, *scopes: str) -> dict[str, str]:
    """Authorization for a new key holding only `scopes`."""
    db = connect(app.config["TRUSTLINE_DATABASE"])
    try:
        key = create_key(db, "+".join(scopes), scopes)
    finally:
        db.conn.close()
    return {"Authorization": f"Bearer {key}"}


# -- the document itself -------------------------------------------------------------------


def test_document_is_openapi_3_1_in_shape() -> None:
    assert DOC["openapi"] == "3.1.0"
    assert DOC["info"]["title"] and DOC["info"]["version"]
    bearer = DOC["components"]["securitySchemes"]["bearerAuth"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids))
    for path, item in DOC["paths"].items():
        assert path.startswith("/")
        assert set(item) <= {*OPERATION_KEYS, "parameters", "summary", "description", "servers"}
        for method in set(item) & set(OPERATION_KEYS):
            responses = item[method]["responses"]
            assert responses, f"{method} {path} has no responses"
            for status, response in responses.items():
                assert re.fullmatch(r"[1-5]\d\d", status), (path, method, status)
                assert deref(response)["description"], (path, method, status)


def test_every_ref_resolves() -> None:
    found = list(refs(DOC))
    assert found
    for ref in found:
        at(ref_parts(ref))  # raises KeyError when it does not resolve


def test_every_component_is_used() -> None:
    used = {tuple(ref_parts(ref)[:3]) for ref in refs(DOC)}
    for section in ("schemas", "responses", "parameters", "headers"):
        for name in DOC["components"][section]:
            assert ("components", section, name) in used, f"unused component {name}"


@pytest.mark.parametrize("name", sorted(DOC["components"]["schemas"]))
def test_schemas_are_json_schema_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(DOC["components"]["schemas"][name])


@pytest.mark.parametrize(("path", "method"), [(path, method) for path, method, _ in operations()])
def test_path_parameters_are_declared(path: str, method: str) -> None:
    item = DOC["paths"][path]
    params = [deref(p) for p in [*item.get("parameters", []), *item[method].get("parameters", [])]]
    in_path = {p["name"] for p in params if p["in"] == "path"}
    assert in_path == set(re.findall(r"{([^}]+)}", path))
    assert all(p["required"] for p in params if p["in"] == "path")


@pytest.mark.parametrize(("path", "method"), [(path, method) for path, method, _ in operations()])
def test_each_operation_names_its_scope(path: str, method: str) -> None:
    op = DOC["paths"][path][method]
    if path == "/openapi.json":
        assert op["security"] == [] and "x-required-scope" not in op
        return
    scope = op["x-required-scope"]
    assert scope in SCOPES
    assert op["security"] == [{"bearerAuth": [scope]}]
    assert f"`{scope}`" in op["description"]
    assert {"401", "403"} <= set(op["responses"])


def test_routes_and_document_match(app: Flask) -> None:
    documented = {(path, method) for path, method, _ in operations() if path != STREAM}
    assert api_routes(app) == documented


def test_the_event_stream_is_documented_where_it_is_served(app: Flask) -> None:
    # issue 15: the integration event stream was in neither the README's table nor here.
    item = DOC["paths"][STREAM]
    assert [server["url"] for server in item["servers"]] == ["/"]
    served = {
        (doc_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods or set()
    }
    assert (STREAM, "get") in served
    op = item["get"]
    assert op["x-required-scope"] == "read"
    assert "text/event-stream" in op["responses"]["200"]["content"]
    assert {p["name"] for p in op["parameters"]} == {"after", "Last-Event-ID"}
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "`GET /customers/{id}/stream`" in readme


def test_document_is_served_without_a_key(app: Flask) -> None:
    resp = app.test_client().get(f"{PREFIX}/openapi.json")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.json == DOC


# -- scopes: what the document says each operation needs is what the code enforces ----------

# One call per operation (except /openapi.json), with a body where it takes one.
CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("post", f"{PREFIX}/extract", {"text": "Prefers email."}),
    ("put", C1, {"name": "Ada"}),
    ("get", f"{PREFIX}/customers/lookup?source=crm&external_id=4711", None),
    ("post", f"{C1}/notes", {"text": "Prefers email."}),
    ("get", f"{C1}/profile", None),
    ("get", f"{C1}/consents", None),
    ("get", "/customers/c-1/stream", None),  # served at the root
    ("post", f"{C1}/consents", {"purpose": "marketing", "status": "denied", "evidence": "no"}),
    ("delete", f"{C1}/facts/1", {"reason": "recorded on the wrong customer"}),
    ("patch", f"{C1}/facts/1", {"status": "resolved"}),
    ("get", f"{C1}/export", None),
    ("get", f"{C1}/events", None),
    ("post", f"{C1}/links", {"ttl": "1h"}),
    ("delete", f"{C1}/links", None),
    ("get", f"{PREFIX}/webhooks", None),
    ("post", f"{PREFIX}/webhooks", {"url": "https://crm.example/hook", "events": ["*"]}),
    ("get", f"{PREFIX}/webhooks/1", None),
    ("patch", f"{PREFIX}/webhooks/1", {"active": False}),
    ("post", f"{PREFIX}/webhooks/1/rotate", None),
    ("get", f"{PREFIX}/webhooks/deliveries", None),
    ("post", f"{PREFIX}/webhooks/deliveries/1/replay", None),
    ("get", f"{PREFIX}/webhooks/erasures", None),
    ("delete", C1, None),  # last: it erases the customer
]


def required_scope(api: Api, method: str, url: str) -> str:
    scope: str = DOC["paths"][api.path_of(method, url)][method]["x-required-scope"]
    return scope


def test_calls_cover_every_operation() -> None:
    # The loops below rely on CALLS reaching every protected operation.
    assert len(CALLS) == len([op for *_, op in operations() if "x-required-scope" in op])


@pytest.fixture
def app(make_app: Any) -> Flask:
    # Event streams end soon, as if the client reconnected: their answers can be read whole.
    flask_app: Flask = make_app(TRUSTLINE_SSE_MAX_SECONDS=SSE_SECONDS)
    return flask_app


@pytest.mark.parametrize("scope", SCOPES)
def test_documented_scopes_are_enforced(
    app: Flask, api_headers: dict[str, str], scope: str
) -> None:
    api = Api(app)
    api.call("put", C1, 201, json={"name": "Ada"}, headers=api_headers)
    headers = headers_with(app, scope)
    for method, url, payload in CALLS:
        needed = required_scope(api, method, url)
        allowed = scope in (needed, "admin")
        resp = api.send(method, url, json=payload, headers=headers)
        assert (resp.status_code == 403) is not allowed, (method, url, needed, resp.text)
        assert resp.status_code != 401


# -- the scenario: every answer against the document --------------------------------------
# Each step makes real requests through the test client; `Api.call` checks every answer.


def errors_every_operation_answers(api: Api, app: Flask, headers: dict[str, str]) -> None:
    """401 without a valid key, 403 without the scope; 400, 413 and 415 for bodies."""
    reader, writer = headers_with(app, "read"), headers_with(app, "write")
    for method, url, payload in CALLS:
        api.call(method, url, 401, json=payload)
        api.call(method, url, 401, json=payload, headers={"Authorization": "Bearer not-a-key"})
        lacking = writer if required_scope(api, method, url) == "read" else reader
        api.call(method, url, 403, json=payload, headers=lacking)
        if payload is None:
            continue
        api.call(method, url, 413, json={"text": "x" * 60_000}, headers=headers)
        api.call(method, url, 415, data="text=x", content_type="text/plain", headers=headers)
        api.call(method, url, 400, data=b'{"text": "unterm', content_type=JSON, headers=headers)
        api.call(method, url, 400, json=["not", "an", "object"], headers=headers)


def rate_limited_and_storage_unavailable(api: Api, make_app: Any) -> None:
    """429 and 503, which every operation behind a key may answer."""
    limited = Api(
        make_app(
            TRUSTLINE_RATE_LIMIT_PER_MINUTE=1,
            TRUSTLINE_RATE_LIMIT_BURST=1,
            TRUSTLINE_SSE_MAX_SECONDS=SSE_SECONDS,
        )
    )
    limited.seen = api.seen
    for i, (method, url, payload) in enumerate(CALLS):
        caller = {"Authorization": f"Bearer not-a-key-{i}"}  # a bucket of its own
        limited.call(method, url, 401, json=payload, headers=caller)
        limited.call(method, url, 429, json=payload, headers=caller)
    limited.call("get", f"{PREFIX}/openapi.json", 200, headers=caller)  # never limited

    app = make_app(TRUSTLINE_SSE_MAX_SECONDS=SSE_SECONDS)
    broken = Api(app)
    broken.seen = api.seen
    key = headers_with(app, "admin")
    gone = Path(app.config["TRUSTLINE_DATABASE"]).with_name("gone.db")
    gone.mkdir()
    app.config["TRUSTLINE_DATABASE"] = str(gone)  # a directory: SQLite cannot open it
    for method, url, payload in CALLS:
        resp = broken.call(method, url, 503, json=payload, headers=key)
        assert int(resp.headers["Retry-After"]) > 0


def extraction(api: Api, h: dict[str, str]) -> None:
    text = f"Card {CARD} charged twice, v upset. Prefers email."
    one = api.call("post", f"{PREFIX}/extract", 200, json={"id": "n-1", "text": text}, headers=h)
    assert CARD not in body(one)["redacted_text"] and body(one)["id"] == "n-1"
    items = [{"id": 7, "text": "Text me, no calls."}, {"text": ""}]
    batch = api.call("post", f"{PREFIX}/extract", 200, json={"items": items}, headers=h)
    assert [r.get("id") for r in body(batch)["results"]] == [7, None]
    api.call("post", f"{PREFIX}/extract", 400, json={"txt": "x"}, headers=h)
    api.call("post", f"{PREFIX}/extract", 400, json={"items": "x"}, headers=h)


def customers(api: Api, h: dict[str, str]) -> None:
    crm = [{"source": "crm", "external_id": "4711"}]
    api.call("put", C1, 201, json={"name": "Ada", "identities": crm}, headers=h)
    api.call("put", C1, 200, json={"phone": "+44 7700 900123"}, headers=h)
    api.call("put", C1, 400, json={"identities": [{"source": "crm"}]}, headers=h)
    api.call("put", f"{PREFIX}/customers/{'x' * 201}", 400, json={}, headers=h)
    api.call("put", f"{PREFIX}/customers/c-2", 409, json={"identities": crm}, headers=h)
    lookup = f"{PREFIX}/customers/lookup"
    found = api.call("get", f"{lookup}?source=crm&external_id=4711", 200, headers=h)
    assert body(found) == {"customer_id": "c-1"}
    api.call("get", f"{lookup}?source=crm", 400, headers=h)
    api.call("get", f"{lookup}?source=crm&external_id=0", 404, headers=h)


def first_note(api: Api, h: dict[str, str]) -> dict[str, Any]:
    """A card number, a complaint, preferences and a consent grant; sent twice."""
    text = (
        f"Cust read out card {CARD}, charged twice for order 5521, v upset. "
        "Prefers email, no calls. Loves vegan skincare. She has asthma. "
        "Happy for us to text her about offers."
    )
    once = {**h, "Idempotency-Key": "note-1"}
    first = api.call("post", f"{C1}/notes", 201, json={"text": text}, headers=once)
    assert CARD not in body(first)["note"]["redacted_text"]
    assert "Idempotent-Replayed" not in first.headers
    again = api.call("post", f"{C1}/notes", 201, json={"text": text}, headers=once)
    assert again.headers["Idempotent-Replayed"] == "true" and body(again) == body(first)
    api.call("post", f"{C1}/notes", 422, json={"text": "Prefers post."}, headers=once)
    empty_key = {**h, "Idempotency-Key": ""}
    api.call("post", f"{C1}/notes", 400, json={"text": "x"}, headers=empty_key)
    api.call("post", f"{C1}/notes", 400, json={"txt": "x"}, headers=h)
    api.call("post", f"{PREFIX}/customers/nobody/notes", 404, json={"text": "x"}, headers=h)
    note: dict[str, Any] = body(first)
    return note


def consents(api: Api, h: dict[str, str], proposal_id: int) -> None:
    url = f"{C1}/consents"
    decision = {"purpose": "personalization", "status": "granted", "evidence": "Said yes."}
    api.call("post", url, 201, json=decision, headers=h)
    script, version = load_policy().wording("marketing")
    confirm = {"proposal_id": proposal_id, "wording": "Texts?", "wording_version": version}
    api.call("post", url, 400, json=confirm, headers=h)  # not the script the customer heard
    confirm["wording"] = script
    record = api.call("post", url, 201, json=confirm, headers=h)
    assert body(record)["evidence"]["wording_version"] == version
    api.call("post", url, 409, json=confirm, headers=h)
    api.call("post", url, 404, json={**confirm, "proposal_id": 999}, headers=h)
    api.call("post", url, 400, json={**decision, "purpose": "nope"}, headers=h)
    api.call("post", url, 400, json={**decision, "status": "maybe"}, headers=h)
    api.call("post", url, 400, json={"purpose": "marketing"}, headers=h)
    api.call("post", f"{PREFIX}/customers/nobody/consents", 404, json=decision, headers=h)
    current = api.call("get", url, 200, headers=h)
    assert body(current)["current"]["marketing"]["channels"] == {"sms": "granted"}
    api.call("get", f"{PREFIX}/customers/nobody/consents", 404, headers=h)


def event_stream(api: Api, h: dict[str, str], events: list[dict[str, Any]]) -> None:
    """The stream replays the same events as the events page, each message an `Event`."""
    stream = "/customers/c-1/stream"
    text = body(api.call("get", f"{stream}?after=0", 200, headers=h))
    assert text.startswith("retry: ")
    messages = sse_messages(text)
    event = validator_at(["components", "schemas", "Event"])
    for message in messages:
        error = best_match(event.iter_errors(json.loads(message["data"])))
        assert error is None, f"{message}: {error.message}"
    assert [(int(m["id"]), m["event"]) for m in messages] == [(e["id"], e["type"]) for e in events]
    resumed = body(
        api.call("get", stream, 200, headers={**h, "Last-Event-ID": str(events[-2]["id"])})
    )
    assert [m["event"] for m in sse_messages(resumed)] == [events[-1]["type"]]
    api.call("get", f"{stream}?after=x", 400, headers=h)
    api.call("get", "/customers/nobody/stream", 404, headers=h)


def test_every_answer_matches_the_document(make_app: Any, api_headers: dict[str, str]) -> None:
    # A small body limit, so that 413 is cheap to reach; every note here is far smaller.
    app = make_app(TRUSTLINE_MAX_REQUEST_BYTES=50_000, TRUSTLINE_SSE_MAX_SECONDS=SSE_SECONDS)
    api, h = Api(app), api_headers
    errors_every_operation_answers(api, app, h)
    extraction(api, h)
    customers(api, h)
    note = first_note(api, h)

    profile = api.call("get", f"{C1}/profile", 200, headers=h)
    etag = profile.headers["ETag"]
    api.call("get", f"{C1}/profile", 304, headers={**h, "If-None-Match": etag})
    api.call("get", f"{PREFIX}/customers/nobody/profile", 404, headers=h)

    consents(api, h, note["consent_proposals"][0]["id"])
    link = body(api.call("post", f"{C1}/links", 201, json={"ttl": "2h"}, headers=h))
    assert link["url"].startswith("http://localhost/my/")
    api.call("post", f"{C1}/links", 400, json={"ttl": "forever"}, headers=h)
    api.call("post", f"{PREFIX}/customers/nobody/links", 404, headers=h)
    assert body(api.call("delete", f"{C1}/links", 200, headers=h)) == {"revoked": 1}
    api.call("delete", f"{PREFIX}/customers/nobody/links", 404, headers=h)
    changed = api.call("get", f"{C1}/profile", 200, headers={**h, "If-None-Match": etag})
    assert changed.headers["ETag"] != etag

    # With consent, interests come in; SMS supersedes e-mail; then a withdrawal and an
    # erasure request arrive in a note.
    text = "Now prefers SMS. Keen on trail running shoes."
    later = body(api.call("post", f"{C1}/notes", 201, json={"text": text}, headers=h))
    assert {f["field"] for f in later["facts"]} >= {"contact_channel", "interest"}
    text = "Doesn't want personalised offers any more. Wants all her data deleted."
    last = body(api.call("post", f"{C1}/notes", 201, json={"text": text}, headers=h))
    assert [r["kind"] for r in last["requests"]] == ["erase"]

    facts = f"{C1}/facts"
    (complaint,) = [f for f in note["facts"] if f["kind"] == "complaint"]
    resolve = {"status": "resolved"}
    fixed = api.call("patch", f"{facts}/{complaint['id']}", 200, json=resolve, headers=h)
    assert body(fixed)["status"] == "resolved" and "updated_at" in body(fixed)
    api.call("patch", f"{facts}/{complaint['id']}", 400, json={"status": "done"}, headers=h)
    api.call("patch", f"{facts}/999", 404, json=resolve, headers=h)
    sms = next(f for f in later["facts"] if f["field"] == "contact_channel")
    api.call("delete", f"{facts}/{sms['id']}", 400, headers=h)
    removed = api.call("delete", f"{facts}/{sms['id']}?reason=misheard", 200, headers=h)
    assert body(removed)["removed_reason"] == "misheard"
    api.call("delete", f"{facts}/{sms['id']}", 409, json={"reason": "again"}, headers=h)
    api.call("delete", f"{facts}/999", 404, json={"reason": "x"}, headers=h)

    events = f"{C1}/events"
    page = body(api.call("get", f"{events}?limit=3", 200, headers=h))
    assert len(page["events"]) == 3
    rest = body(api.call("get", f"{events}?after={page['last_id']}", 200, headers=h))
    types = {e["type"] for e in page["events"] + rest["events"]}
    assert {"consent.changed", "dsr.created", "profile.preference.removed"} <= types
    api.call("get", f"{events}?after=x", 400, headers=h)
    api.call("get", f"{PREFIX}/customers/nobody/events", 404, headers=h)
    event_stream(api, h, page["events"] + rest["events"])

    export = body(api.call("get", f"{C1}/export", 200, headers=h))
    assert any(f.get("superseded_by") for f in export["facts"])
    assert any(f.get("removed_at") for f in export["facts"])
    api.call("get", f"{PREFIX}/customers/nobody/export", 404, headers=h)
    erased = api.call("delete", C1, 200, headers=h)
    assert body(erased)["counts"]["notes"] == 3
    api.call("delete", C1, 404, headers=h)
    api.call("get", f"{C1}/profile", 404, headers=h)

    api.call("get", f"{PREFIX}/openapi.json", 200)
    rate_limited_and_storage_unavailable(api, make_app)

    missing = declared_statuses() - api.seen
    assert not missing, f"documented but never answered: {sorted(missing)}"
