"""Inbound webhooks (issue 5): POST /webhooks/in/<source> for a CRM speaking Standard
Webhooks and for Chatwoot. Forged, stale, replayed, duplicate, malformed, unknown and
oversized requests; every message type; recovery of a message recorded but never
processed. Chatwoot fixtures follow the fields of Chatwoot's webhook documentation."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlite_utils
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from assistant.store.sqlite.db import connect, database_path, row, rows
from assistant.webhooks.signing import chatwoot_signature, new_secret, signature_header
from assistant.webhooks.worker import Worker

CRM_SECRET = new_secret()
CHATWOOT_SECRET = "cw-webhook-secret-8f2a"
TEXT = "Prefers email, no calls please. Card 4111 1111 1111 1111."


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(
        TRUSTLINE_INBOUND_SECRETS=f"crm={CRM_SECRET}",
        TRUSTLINE_CHATWOOT_SECRET=CHATWOOT_SECRET,
        TRUSTLINE_INBOUND_MAX_BYTES=20_000,
    )


@pytest.fixture
def db(app: Flask) -> sqlite_utils.Database:
    return connect(database_path(app))


@pytest.fixture
def customer(client: FlaskClient, api_headers: dict[str, str]) -> str:
    body = {"name": "Ada", "identities": [{"source": "crm", "external_id": "4711"}]}
    assert client.put("/api/v1/customers/c-1", json=body, headers=api_headers).status_code == 201
    return "c-1"


def send(
    client: FlaskClient,
    payload: Any,
    *,
    msg_id: str = "msg_in_1",
    secret: str = CRM_SECRET,
    at: datetime | None = None,
    raw: bytes | None = None,
    source: str = "crm",
    close: bool = True,
) -> TestResponse:
    """POST a signed message; closing the response runs the work scheduled after it."""
    body = raw if raw is not None else json.dumps(payload).encode()
    stamp = at or datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature_header(
            msg_id, stamp, body.decode(errors="replace"), [secret]
        ),
    }
    resp = client.post(f"/webhooks/in/{source}", data=body, headers=headers)
    if close:
        resp.close()
    return resp


def note(text: str = TEXT, **data: Any) -> dict[str, Any]:
    return {
        "type": "note.created",
        "timestamp": "2025-01-01T00:00:00Z",
        "data": {"external_id": "4711", "text": text, "author": "ann", **data},
    }


def count(db: sqlite_utils.Database, table: str) -> int:
    found = row(db, f"SELECT count(*) AS n FROM {table}")
    return int(found["n"]) if found else 0


# -- a CRM speaking Standard Webhooks ----------------------------------------------------------


def test_a_note_is_accepted_at_once_then_extracted_checked_and_stored(
    client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    resp = send(client, note())
    assert resp.status_code == 202 and resp.json == {"status": "accepted", "id": 1}
    stored = rows(db, "SELECT * FROM notes")
    assert len(stored) == 1
    assert stored[0]["source"] == "crm" and stored[0]["agent"] == "ann"
    assert "4111" not in stored[0]["redacted_text"]
    facts = rows(db, "SELECT field, value FROM facts WHERE customer_id = 'c-1'")
    assert {"field": "contact_channel", "value": "email"} in facts
    inbox = row(db, "SELECT * FROM webhook_inbox")
    assert inbox is not None and inbox["status"] == "processed"
    assert inbox["body"] is None  # the raw message is gone once processed
    assert inbox["customer_id"] == "c-1" and inbox["note_id"] == stored[0]["id"]


def test_a_duplicate_gets_200_and_stores_nothing_new(
    client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    assert send(client, note()).status_code == 202
    before = (
        count(db, "notes"),
        count(db, "facts"),
        count(db, "webhook_inbox"),
        count(db, "events"),
    )
    again = send(client, note())  # the same webhook-id, signed anew
    assert again.status_code == 200
    assert again.json["status"] == "duplicate" and again.json["first_copy"] == "processed"
    assert (
        count(db, "notes"),
        count(db, "facts"),
        count(db, "webhook_inbox"),
        count(db, "events"),
    ) == before


def test_forged_requests_get_401_and_store_nothing(
    client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    resp = send(client, note(), secret=new_secret())
    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"
    assert count(db, "webhook_inbox") == 0 and count(db, "notes") == 0


def test_stale_requests_get_401_even_when_signed(
    client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    resp = send(client, note(), at=datetime.now(UTC) - timedelta(minutes=10))
    assert resp.status_code == 401
    assert count(db, "webhook_inbox") == 0


def test_a_replay_with_a_fresh_timestamp_is_refused(
    client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    # A captured request whose timestamp is moved forward no longer matches its signature.
    old = datetime.now(UTC) - timedelta(minutes=10)
    body = json.dumps(note()).encode()
    headers = {
        "webhook-id": "msg_captured",
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": signature_header("msg_captured", old, body.decode(), [CRM_SECRET]),
    }
    assert client.post("/webhooks/in/crm", data=body, headers=headers).status_code == 401
    assert count(db, "webhook_inbox") == 0


def test_malformed_json_gets_400_and_stores_nothing(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    resp = send(client, None, raw=b'{"type": "note.created", "data": ')
    assert resp.status_code == 400 and resp.json["error"] == "invalid_json"
    assert count(db, "webhook_inbox") == 0


def test_an_unknown_source_gets_404(client: FlaskClient) -> None:
    assert send(client, note(), source="salesforce").status_code == 404


def test_chatwoot_is_unknown_when_it_has_no_secret(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    assert (
        client.post("/webhooks/in/chatwoot", json={"event": "message_created"}).status_code == 404
    )


def test_bodies_over_the_limit_get_413(client: FlaskClient, db: sqlite_utils.Database) -> None:
    resp = send(client, note("x" * 30_000))
    assert resp.status_code == 413
    assert count(db, "webhook_inbox") == 0


def test_invalid_messages_and_unknown_customers_get_422(
    client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    assert (
        send(client, {"type": "note.created", "data": {"external_id": "4711"}}).status_code == 422
    )
    unknown = send(client, note(external_id="9999"), msg_id="msg_in_2")
    assert unknown.status_code == 422 and unknown.json["error"] == "unknown_customer"
    consent = {
        "type": "consent.changed",
        "data": {"external_id": "4711", "purpose": "telepathy", "status": "granted"},
    }
    assert send(client, consent, msg_id="msg_in_3").status_code == 422
    assert count(db, "webhook_inbox") == 0


def test_unknown_types_are_acknowledged_and_ignored_without_keeping_the_body(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    resp = send(client, {"type": "deal.won", "data": {"amount": 5}})
    assert resp.status_code == 202 and resp.json["status"] == "ignored"
    inbox = row(db, "SELECT * FROM webhook_inbox")
    assert inbox is not None and inbox["status"] == "ignored" and inbox["body"] is None


def test_a_customer_message_is_stored_as_the_customers_own_words(
    client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    msg = {
        "type": "message.received",
        "data": {"customer_id": "c-1", "text": "please use sms, not email"},
    }
    assert send(client, msg).status_code == 202
    stored = row(db, "SELECT agent, source FROM notes")
    assert stored == {"agent": "customer", "source": "crm"}


def test_identity_link_and_unlink(
    client: FlaskClient, db: sqlite_utils.Database, customer: str, api_headers: dict[str, str]
) -> None:
    link = {"type": "identity.linked", "data": {"customer_id": "c-1", "external_id": "5000"}}
    assert send(client, link).status_code == 202
    lookup = "/api/v1/customers/lookup?source=crm&external_id=5000"
    assert client.get(lookup, headers=api_headers).json == {"customer_id": "c-1"}
    taken = {"type": "identity.linked", "data": {"customer_id": "c-2", "external_id": "5000"}}
    conflict = send(client, taken, msg_id="msg_in_3")
    assert conflict.status_code == 409 and conflict.json["error"] == "identity_conflict"
    unlink = {"type": "identity.unlinked", "data": {"customer_id": "c-1", "external_id": "5000"}}
    assert send(client, unlink, msg_id="msg_in_2").status_code == 202
    assert client.get(lookup, headers=api_headers).status_code == 404


def test_a_consent_change_from_the_crms_preference_centre(
    client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    msg = {
        "type": "consent.changed",
        "data": {
            "external_id": "4711",
            "purpose": "marketing",
            "status": "granted",
            "channel": "email",
            "wording": "Email me offers",
        },
    }
    assert send(client, msg, msg_id="msg_pc_1").status_code == 202
    ledger = rows(db, "SELECT * FROM consents WHERE customer_id = 'c-1'")
    assert len(ledger) == 1
    record = ledger[0]
    assert (record["purpose"], record["status"], record["channel"]) == (
        "marketing",
        "granted",
        "email",
    )
    assert (record["source"], record["method"]) == ("crm", "preference_centre")
    evidence = json.loads(record["evidence"])
    assert evidence["webhook_id"] == "msg_pc_1" and evidence["wording"] == "Email me offers"


def test_a_message_recorded_but_never_processed_is_taken_up_by_the_worker(
    app: Flask, client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    # The response is never closed: as if the process died right after answering.
    assert send(client, note(), close=False).status_code == 202
    waiting = row(db, "SELECT status, body FROM webhook_inbox")
    assert waiting is not None and waiting["status"] == "received" and waiting["body"]
    assert count(db, "notes") == 0
    Worker(app, inbox_grace=0).run(threading.Event(), until_idle=True, timeout=20)
    done = row(db, "SELECT status, body FROM webhook_inbox")
    assert done == {"status": "processed", "body": None}
    assert count(db, "notes") == 1


def test_processing_twice_applies_once(
    app: Flask, client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    from assistant.engine import get_extractor, get_policy
    from assistant.webhooks import inbox

    send(client, note(), close=False)
    with app.app_context():
        assert inbox.process(db, get_extractor(), get_policy(), 1) == "processed"
        assert inbox.process(db, get_extractor(), get_policy(), 1) == "processed"
    assert count(db, "notes") == 1


def test_neither_secrets_nor_bodies_are_logged(
    client: FlaskClient, customer: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    send(client, note())
    send(client, note(), secret=new_secret(), msg_id="msg_forged")
    send(client, {"x": 1}, raw=b"{not json", msg_id="msg_bad")
    assert caplog.records
    for secret_or_body in (
        CRM_SECRET,
        CRM_SECRET.removeprefix("whsec_"),
        "4111",
        "Prefers email",
        "not json",
    ):
        assert secret_or_body not in caplog.text


# -- Chatwoot -------------------------------------------------------------------------------


def chatwoot(
    client: FlaskClient,
    payload: dict[str, Any],
    *,
    delivery: str = "d-1",
    secret: str = CHATWOOT_SECRET,
    at: datetime | None = None,
) -> TestResponse:
    body = json.dumps(payload).encode()
    stamp = str(int((at or datetime.now(UTC)).timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-Chatwoot-Signature": chatwoot_signature(secret, stamp, body),
        "X-Chatwoot-Timestamp": stamp,
        "X-Chatwoot-Delivery": delivery,
    }
    resp = client.post("/webhooks/in/chatwoot", data=body, headers=headers)
    resp.close()
    return resp


CONTACT = {
    "id": 14,
    "name": "little-haze-776",
    "email": "jane@acme.inc",
    "phone_number": "+447700900123",
    "identifier": None,
    "additional_attributes": {},
    "custom_attributes": {},
    "thumbnail": "",
    "type": "contact",
}


def message_created(content: str, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event": "message_created",
        "id": 118,
        "content": content,
        "created_at": "2021-07-23T18:02:48.000Z",
        "message_type": "incoming",
        "content_type": "text",
        "private": False,
        "content_attributes": {},
        "source_id": None,
        "sender": {"id": 14, "name": "little-haze-776", "avatar": "", "type": "contact"},
        "inbox": {"id": 1, "name": "Acme Support"},
        "conversation": {
            "additional_attributes": {},
            "can_reply": True,
            "channel": "Channel::WebWidget",
            "id": 10,
            "inbox_id": 1,
            "contact_inbox": {"id": 12, "contact_id": 14, "inbox_id": 1, "source_id": "405f1d30"},
            "messages": [],
            "meta": {"sender": CONTACT, "assignee": {"id": 1, "name": "John", "type": "user"}},
            "status": "open",
            "unread_count": 1,
            "timestamp": 1627063369,
        },
        "account": {"id": 1, "name": "Acme Inc"},
    }
    payload.update(changes)
    return payload


AGENT = {"id": 1, "name": "John", "email": "john@acme.inc", "type": "user"}


def test_chatwoot_incoming_message_is_customer_text_for_a_new_contact(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    resp = chatwoot(client, message_created("please stop calling me, email is fine"))
    assert resp.status_code == 202
    customer = row(db, "SELECT * FROM customers")
    assert customer is not None and customer["id"] == "chatwoot-14"
    assert row(db, "SELECT source, external_id FROM identities") == {
        "source": "chatwoot",
        "external_id": "14",
    }
    assert row(db, "SELECT agent, source FROM notes") == {"agent": "customer", "source": "chatwoot"}


def test_chatwoot_private_note_is_an_agent_note(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    payload = message_created(
        "cust prefers sms", message_type="outgoing", private=True, sender=AGENT
    )
    assert chatwoot(client, payload).status_code == 202
    assert row(db, "SELECT agent, customer_id FROM notes") == {
        "agent": "chatwoot-agent-1",
        "customer_id": "chatwoot-14",
    }


def test_chatwoot_outgoing_replies_are_ignored(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    payload = message_created("Sure, I will email you.", message_type="outgoing", sender=AGENT)
    resp = chatwoot(client, payload)
    assert resp.status_code == 202 and resp.json["status"] == "ignored"
    assert count(db, "notes") == 0 and count(db, "customers") == 0


def test_chatwoot_contact_updated_maps_the_contact_with_email_and_phone(
    make_app: Callable[..., Flask], api_headers: dict[str, str]
) -> None:
    # The host vouches for identifiers (issue 12: without it, an identifier needs proof).
    app = make_app(
        TRUSTLINE_CHATWOOT_SECRET=CHATWOOT_SECRET, TRUSTLINE_CHATWOOT_TRUSTED_IDENTIFIER=True
    )
    client, db = app.test_client(), connect(database_path(app))
    body = {"name": "Ada", "identities": [{"source": "crm", "external_id": "4711"}]}
    assert client.put("/api/v1/customers/c-1", json=body, headers=api_headers).status_code == 201
    payload = {
        **CONTACT,
        "identifier": "c-1",  # the business vouches: this contact is Trustline's c-1
        "account": {"id": 1, "name": "Acme Inc"},
        "changed_attributes": [
            {"email": {"previous_value": None, "current_value": "jane@acme.inc"}}
        ],
        "event": "contact_updated",
    }
    assert chatwoot(client, payload).status_code == 202
    found = row(db, "SELECT name, email, phone FROM customers WHERE id = 'c-1'")
    assert found == {"name": "Ada", "email": "jane@acme.inc", "phone": "+447700900123"}
    assert {"source": "chatwoot", "external_id": "14"} in rows(
        db, "SELECT source, external_id FROM identities WHERE customer_id = 'c-1'"
    )
    # Later messages of that contact land on c-1.
    chatwoot(client, message_created("Prefers email."), delivery="d-2")
    assert row(db, "SELECT customer_id FROM notes") == {"customer_id": "c-1"}


def test_chatwoot_resolving_a_conversation_resolves_its_complaints(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    text = "My parcel arrived broken and nobody answers, this is the third time!"
    chatwoot(client, message_created(text))
    complaints = rows(db, "SELECT status FROM facts WHERE kind = 'complaint'")
    assert complaints and {c["status"] for c in complaints} == {"open"}
    status = {
        "event": "conversation_status_changed",
        "id": 10,
        "account_id": 1,
        "status": "resolved",
        "meta": {"sender": CONTACT},
        "changed_attributes": [{"status": {"previous_value": "open", "current_value": "resolved"}}],
    }
    assert chatwoot(client, status, delivery="d-2").status_code == 202
    assert {c["status"] for c in rows(db, "SELECT status FROM facts WHERE kind = 'complaint'")} == {
        "resolved"
    }


def test_chatwoot_forged_stale_and_duplicate(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    payload = message_created("Prefers email.")
    assert chatwoot(client, payload, secret="not-the-secret").status_code == 401
    assert chatwoot(client, payload, at=datetime.now(UTC) - timedelta(minutes=6)).status_code == 401
    assert count(db, "webhook_inbox") == 0
    # The same signed message twice: one timestamp (the seconds may tick between calls).
    sent = datetime.now(UTC)
    assert chatwoot(client, payload, delivery="d-9", at=sent).status_code == 202
    again = chatwoot(client, payload, delivery="d-9", at=sent)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    assert count(db, "notes") == 1 and count(db, "webhook_inbox") == 1


def test_chatwoot_malformed_json_gets_400(client: FlaskClient) -> None:
    body = b'{"event": "message_created",'
    stamp = str(int(time.time()))
    headers = {
        "X-Chatwoot-Signature": chatwoot_signature(CHATWOOT_SECRET, stamp, body),
        "X-Chatwoot-Timestamp": stamp,
        "X-Chatwoot-Delivery": "d-1",
    }
    assert client.post("/webhooks/in/chatwoot", data=body, headers=headers).status_code == 400
