"""Chatwoot inbound hardening (issue 12): replays with new delivery ids, identifier
takeover, several accounts, e-mail inbox messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlite_utils
from flask import Flask
from flask.testing import FlaskClient
from test_webhooks_inbound import CHATWOOT_SECRET, chatwoot, count, message_created

from assistant.store.sqlite.db import connect, database_path, row, rows


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(TRUSTLINE_CHATWOOT_SECRET=CHATWOOT_SECRET)


@pytest.fixture
def db(app: Flask) -> sqlite_utils.Database:
    return connect(database_path(app))


def test_an_email_inbox_message_is_a_customer_message(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    # Issue 12, smaller gaps: Chatwoot e-mail inboxes send content_type incoming_email.
    payload = message_created(
        "Please stop calling me, e-mail is fine.", content_type="incoming_email"
    )
    resp = chatwoot(client, payload)
    assert resp.status_code == 202 and resp.json["status"] == "accepted", resp.json
    assert row(db, "SELECT agent, source FROM notes") == {"agent": "customer", "source": "chatwoot"}


def test_a_signed_message_resent_with_new_delivery_ids_is_applied_once(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    # Issue 12, item 7: X-Chatwoot-Delivery is not signed; 4 resends gave 4 notes.
    payload = message_created("Prefers email. Happy to get offers by email.")
    sent = datetime.now(UTC)  # one signed message: one timestamp, however long the calls take
    first = chatwoot(client, payload, delivery="d-1", at=sent)
    assert first.status_code == 202
    for n in range(2, 5):
        again = chatwoot(client, payload, delivery=f"d-{n}", at=sent)
        assert again.status_code == 200 and again.json["status"] == "duplicate", again.json
    assert count(db, "notes") == 1 and count(db, "webhook_inbox") == 1


def _in_account(account: int, contact: int, text: str) -> dict[str, Any]:
    payload = message_created(text, account={"id": account, "name": f"Account {account}"})
    sender = {"id": contact, "name": f"visitor-{contact}", "type": "contact"}
    payload["sender"] = sender
    payload["conversation"] = {
        **payload["conversation"],
        "account_id": account,
        "contact_inbox": {"id": contact, "contact_id": contact, "inbox_id": 1},
        "meta": {"sender": {**sender, "email": None}},
    }
    return payload


def test_conversations_of_two_accounts_never_resolve_each_others_complaints(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    # Issue 12, item 9: conversation ids are per-account display numbers (both are 10).
    text = "My parcel arrived broken and nobody answers, this is the third time!"
    assert chatwoot(client, _in_account(1, 14, text)).status_code == 202
    assert chatwoot(client, _in_account(2, 15, text)).status_code == 202
    resolved = {
        "event": "conversation_status_changed",
        "id": 10,
        "account_id": 2,
        "status": "resolved",
        "meta": {"sender": {"id": 15, "type": "contact"}},
    }
    assert chatwoot(client, resolved).status_code == 202
    status = {
        r["customer_id"]: r["status"]
        for r in rows(db, "SELECT customer_id, status FROM facts WHERE kind = 'complaint'")
    }
    assert status == {"chatwoot-14": "open", "chatwoot-15": "resolved"}
    conversations = {r["conversation"] for r in rows(db, "SELECT conversation FROM webhook_inbox")}
    assert conversations >= {"1:10", "2:10"}


# -- 8. identifier takeover ---------------------------------------------------------------------

API = {"Authorization": "Bearer tl_pytest_only_7Qx2"}
ADA = {"name": "Ada", "email": "ada@example.com", "phone": "+441632960001"}


def _contact_created(identifier: str) -> dict[str, Any]:
    return {
        "event": "contact_created",
        "id": 14,
        "name": "little-haze-776",
        "email": "attacker@example.net",
        "phone_number": "+447700900999",
        "identifier": identifier,
        "account": {"id": 1, "name": "Acme Inc"},
    }


def test_an_unproven_identifier_never_takes_over_a_customer(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    # Issue 12, item 8: a contact_created naming an existing customer's id overwrote her
    # e-mail and phone, and a later message from that contact opened an erasure on her.
    assert client.put("/api/v1/customers/c-1", json=ADA, headers=API).status_code == 201
    assert chatwoot(client, _contact_created("c-1")).status_code == 202
    request = message_created("Please delete all my data.")
    assert chatwoot(client, request).status_code == 202
    ada = row(db, "SELECT name, email, phone FROM customers WHERE id = 'c-1'")
    assert ada == ADA
    assert rows(db, "SELECT * FROM identities WHERE customer_id = 'c-1'") == []
    assert rows(db, "SELECT * FROM dsr WHERE customer_id = 'c-1'") == []
    assert row(db, "SELECT customer_id FROM notes") == {"customer_id": "chatwoot-14"}


def test_an_identifier_the_host_proves_links_the_contact(
    client: FlaskClient, db: sqlite_utils.Database
) -> None:
    # Chatwoot's identity validation (HMAC of the identifier, checked by Chatwoot) marks
    # the contact's inbox hmac_verified; the webhook's signature vouches for the payload.
    assert client.put("/api/v1/customers/c-1", json=ADA, headers=API).status_code == 201
    payload = message_created("Prefers email.")
    conversation = payload["conversation"]
    conversation["meta"]["sender"] = {**conversation["meta"]["sender"], "identifier": "c-1"}
    conversation["contact_inbox"] = {**conversation["contact_inbox"], "hmac_verified": True}
    assert chatwoot(client, payload).status_code == 202
    assert row(db, "SELECT customer_id FROM notes") == {"customer_id": "c-1"}
    assert count(db, "customers") == 1


def test_a_trusted_host_may_vouch_with_the_identifier(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(
        TRUSTLINE_CHATWOOT_SECRET=CHATWOOT_SECRET, TRUSTLINE_CHATWOOT_TRUSTED_IDENTIFIER=True
    )
    client = app.test_client()
    assert client.put("/api/v1/customers/c-1", json=ADA, headers=API).status_code == 201
    assert chatwoot(client, _contact_created("c-1")).status_code == 202
    db = connect(database_path(app))
    assert {"source": "chatwoot", "external_id": "14"} in rows(
        db, "SELECT source, external_id FROM identities WHERE customer_id = 'c-1'"
    )
