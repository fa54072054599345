"""Managing webhooks (issue 5): /api/v1/webhooks (admin scope) and `trustline webhooks`
(add, list, disable, enable, rotate, deliveries, replay, erasures, inbox, worker)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from test_webhooks_receiver import Receiver

from assistant.auth import create_key
from assistant.cli import main
from assistant.store.sqlite.db import connect, database_path
from assistant.webhooks.worker import Worker

FAST = {
    "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "TRUSTLINE_WEBHOOK_RETRY_SCHEDULE": "0,0.02",
    "TRUSTLINE_WEBHOOK_MAX_ATTEMPTS": 2,
    "TRUSTLINE_WEBHOOK_POLL_MS": 10,
}
API = "/api/v1/webhooks"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(**FAST)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def deliver(app: Flask) -> None:
    Worker(app).run(threading.Event(), until_idle=True, timeout=20)


# -- the API ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["read", "write", "consent"])
def test_only_admin_keys_manage_webhooks(app: Flask, client: FlaskClient, scope: str) -> None:
    key = create_key(connect(database_path(app)), "k", [scope])
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get(API, headers=headers).status_code == 403
    assert client.post(API, json={"url": "https://x.example/"}, headers=headers).status_code == 403
    assert client.get(API).status_code == 401


def test_subscribe_list_patch_rotate_through_the_api(
    client: FlaskClient, api_headers: dict[str, str]
) -> None:
    created = client.post(
        API,
        json={
            "url": "https://crm.example/hooks",
            "events": ["consent.changed"],
            "description": "CRM",
        },
        headers=api_headers,
    )
    assert created.status_code == 201
    sub = created.json
    assert sub["secret"].startswith("whsec_") and sub["events"] == ["consent.changed"]
    listed = client.get(API, headers=api_headers).json["subscriptions"]
    assert [s["id"] for s in listed] == [sub["id"]]
    assert "secret" not in listed[0] and sub["secret"] not in str(listed)
    one = client.get(f"{API}/{sub['id']}", headers=api_headers)
    assert one.status_code == 200 and one.json["deliveries"] == {}
    patched = client.patch(
        f"{API}/{sub['id']}", json={"active": False, "events": "*"}, headers=api_headers
    )
    assert patched.status_code == 200
    assert patched.json["active"] is False and patched.json["events"] == ["*"]
    rotated = client.post(f"{API}/{sub['id']}/rotate", headers=api_headers)
    assert rotated.status_code == 201
    assert rotated.json["secret"].startswith("whsec_") and rotated.json["secret"] != sub["secret"]
    assert rotated.json["previous_secret_until"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "ftp://crm.example/"},
        {"url": "https://crm.example/", "events": ["nope"]},
        {"url": "https://crm.example/", "events": "consent.changed"},
        {"url": "https://crm.example/", "description": 5},
    ],
)
def test_bad_subscriptions_get_400(
    client: FlaskClient, api_headers: dict[str, str], body: dict[str, object]
) -> None:
    resp = client.post(API, json=body, headers=api_headers)
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"


def test_unknown_subscription_or_delivery_gets_404(
    client: FlaskClient, api_headers: dict[str, str]
) -> None:
    assert client.get(f"{API}/7", headers=api_headers).status_code == 404
    assert client.patch(f"{API}/7", json={"active": True}, headers=api_headers).status_code == 404
    assert client.post(f"{API}/7/rotate", headers=api_headers).status_code == 404
    assert client.post(f"{API}/deliveries/7/replay", headers=api_headers).status_code == 404


def test_dead_letters_replay_and_erasures_through_the_api(
    app: Flask, client: FlaskClient, api_headers: dict[str, str], receiver: Receiver
) -> None:
    receiver.script = lambda *_: (500, {})
    client.post(API, json={"url": receiver.url}, headers=api_headers)
    client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=api_headers)
    client.delete("/api/v1/customers/c-1", headers=api_headers)
    deliver(app)
    erasures = client.get(f"{API}/erasures?customer_id=c-1", headers=api_headers).json["erasures"]
    assert len(erasures) == 1 and erasures[0]["propagated"] is False
    dead = client.get(f"{API}/deliveries?status=dead", headers=api_headers).json["deliveries"]
    assert len(dead) == 1 and dead[0]["type"] == "customer.erased" and dead[0]["attempts"] == 2
    assert client.get(f"{API}/deliveries?status=bogus", headers=api_headers).status_code == 400
    receiver.script = None
    replayed = client.post(f"{API}/deliveries/{dead[0]['id']}/replay", headers=api_headers)
    assert replayed.status_code == 200 and replayed.json["status"] == "pending"
    again = client.post(f"{API}/deliveries/{dead[0]['id']}/replay", headers=api_headers)
    assert again.status_code == 409
    deliver(app)
    erasures = client.get(f"{API}/erasures", headers=api_headers).json["erasures"]
    assert erasures[0]["propagated"] is True


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    monkeypatch.setenv("TRUSTLINE_DATABASE", str(tmp_path / "cli.db"))
    for name, value in FAST.items():
        monkeypatch.setenv(name, str(value))
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, ["webhooks", *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_cli_add_prints_the_secret_once_and_list_never_does(cli: Callable[..., str]) -> None:
    out = cli("add", "https://crm.example/hooks", "--events", "consent.changed,dsr.created")
    secret = out.split()[-1]
    assert secret.startswith("whsec_")
    listed = cli("list")
    assert "https://crm.example/hooks" in listed and "consent.changed, dsr.created" in listed
    assert secret not in listed and secret not in cli("list", "--json")
    assert "disabled (maintenance)" in (
        cli("disable", "1", "--reason", "maintenance") and cli("list")
    )
    assert "active" in (cli("enable", "1") and cli("list"))
    rotated = cli("rotate", "1")
    assert rotated.split()[-1].startswith("whsec_") and rotated.split()[-1] != secret


def test_cli_refuses_bad_input_with_a_message(cli: Callable[..., str]) -> None:
    assert "unknown event type" in cli("add", "https://x.example/", "--events", "nope", code=1)
    assert "not found" in cli("disable", "42", code=1)
    assert "give delivery ids" in cli("replay", code=2)


# issue 12: a subscription to a refused address was accepted silently; the refusal showed
# only in its deliveries, retried on the normal back-off.
REFUSED_TARGETS = [
    "http://127.0.0.1:9/hooks",
    "http://localhost:9/hooks",
    "http://[::1]:9/",
    "http://[::ffff:127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://169.254.169.254/latest/meta-data",
    "https://10.1.2.3/",
]


@pytest.mark.parametrize("url", REFUSED_TARGETS)
def test_a_refused_target_is_refused_when_added_through_the_api(
    make_app: Callable[..., Flask], api_headers: dict[str, str], url: str
) -> None:
    client = make_app(**FAST | {"TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS": ""}).test_client()
    resp = client.post(API, json={"url": url}, headers=api_headers)
    assert resp.status_code == 400
    body = resp.json
    assert body is not None and body["error"] == "refused_target"
    assert "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS" in body["detail"]
    assert client.get(API, headers=api_headers).json["subscriptions"] == []


def test_a_refused_target_is_refused_on_a_url_change(
    make_app: Callable[..., Flask], api_headers: dict[str, str]
) -> None:
    client = make_app(**FAST | {"TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS": ""}).test_client()
    sub = client.post(API, json={"url": "https://crm.example/hooks"}, headers=api_headers).json
    assert sub is not None
    resp = client.patch(
        f"{API}/{sub['id']}", json={"url": "http://127.0.0.1:9/"}, headers=api_headers
    )
    assert resp.status_code == 400 and resp.json["error"] == "refused_target"
    assert "loopback" in resp.json["detail"]
    assert client.get(f"{API}/{sub['id']}", headers=api_headers).json["url"] == (
        "https://crm.example/hooks"
    )


def test_the_allow_list_lets_a_loopback_target_be_added(
    client: FlaskClient, api_headers: dict[str, str]
) -> None:
    resp = client.post(API, json={"url": "http://127.0.0.1:9/hooks"}, headers=api_headers)
    assert resp.status_code == 201  # FAST allows 127.0.0.0/8


def test_cli_refuses_a_refused_target_with_the_reason_and_the_setting(
    cli: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS", "")
    out = cli("add", "http://localhost:9/hooks", code=1)
    assert "loopback" in out and "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS" in out
    assert "whsec_" not in out
    assert "localhost" not in cli("list")


def test_cli_worker_deliveries_replay_and_erasures(
    cli: Callable[..., str], receiver: Receiver, tmp_path: Path
) -> None:
    from assistant import create_app
    from assistant.services import erase, upsert_customer

    receiver.script = lambda *_: (500, {})
    cli("add", receiver.url)
    app = create_app()
    db = connect(database_path(app))
    upsert_customer(db, "c-1", actor="t", name="Ada")
    erase(db, "c-1", actor="t")
    cli("worker", "--until-idle", "--timeout", "20")
    dead = cli("deliveries", "--status", "dead")
    assert "customer.erased" in dead and "dead" in dead
    assert "NOT YET PROPAGATED" in cli("erasures", code=1)
    receiver.script = None
    assert "1 delivery queued again" in cli("replay", "--all-dead")
    cli("worker", "--until-idle", "--timeout", "20")
    assert "propagated" in cli("erasures", "c-1")
    detail = cli("deliveries", "--id", "1")
    assert '"attempt_log"' in detail and '"status": "delivered"' in detail
    assert "no inbound messages" in cli("inbox")


# -- the OpenAPI description of these operations ----------------------------------------------


def test_api_answers_match_the_openapi_fragment(
    app: Flask, client: FlaskClient, api_headers: dict[str, str], receiver: Receiver
) -> None:
    import json

    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    root = Path(__file__).parents[1]
    doc = json.loads((root / "assistant/api/openapi.json").read_text(encoding="utf-8"))
    fragment = json.loads(
        (root / "assistant/webhooks/openapi-fragment.json").read_text(encoding="utf-8")
    )
    doc["paths"].update(fragment["paths"])
    doc["components"]["schemas"].update(fragment["components"]["schemas"])
    routes = {
        (rule.rule.removeprefix("/api/v1"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/webhooks")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {
        (
            path.replace("{subscription_id}", "<int:subscription_id>").replace(
                "{delivery_id}", "<int:delivery_id>"
            ),
            method,
        )
        for path, item in fragment["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == documented

    def check(method: str, path: str, url: str, **kwargs: object) -> None:
        resp = getattr(client, method)(url, headers=api_headers, **kwargs)
        declared = doc["paths"][path][method]["responses"][str(resp.status_code)]
        if "$ref" in declared:
            declared = doc["components"]["responses"][declared["$ref"].split("/")[-1]]
        schema = next(iter(declared["content"].values()))["schema"]
        doc["components"]["schemas"]["_answer"] = schema
        registry = Registry().with_resource("urn:doc", DRAFT202012.create_resource(doc))
        validator = Draft202012Validator(
            {"$ref": "urn:doc#/components/schemas/_answer"}, registry=registry
        )
        errors = [e.message for e in validator.iter_errors(resp.json)]
        assert not errors, (method, url, resp.status_code, errors)

    receiver.script = lambda *_: (500, {})
    check("post", "/webhooks", API, json={"url": receiver.url, "events": ["consent.changed"]})
    check("post", "/webhooks", API, json={"url": "ftp://x.example/"})
    check("post", "/webhooks", API, data="not json")
    check("get", "/webhooks", API)
    check("get", "/webhooks/{subscription_id}", f"{API}/1")
    check("get", "/webhooks/{subscription_id}", f"{API}/9")
    check("patch", "/webhooks/{subscription_id}", f"{API}/1", json={"events": "*"})
    check("patch", "/webhooks/{subscription_id}", f"{API}/1", json={"active": "yes"})
    check("post", "/webhooks/{subscription_id}/rotate", f"{API}/1/rotate")
    client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=api_headers)
    client.delete("/api/v1/customers/c-1", headers=api_headers)
    deliver(app)
    check("get", "/webhooks/deliveries", f"{API}/deliveries?status=dead")
    check("get", "/webhooks/deliveries", f"{API}/deliveries?limit=many")
    check("get", "/webhooks/erasures", f"{API}/erasures")
    check("post", "/webhooks/deliveries/{delivery_id}/replay", f"{API}/deliveries/1/replay")
    check("post", "/webhooks/deliveries/{delivery_id}/replay", f"{API}/deliveries/1/replay")
    check("post", "/webhooks/deliveries/{delivery_id}/replay", f"{API}/deliveries/9/replay")
