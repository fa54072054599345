"""An inbound note is stored through `services.save_note`, the one write path of the API
and the sidebar (extraction outside the transaction), and keeps the inbox's guarantees:
the note, a contact seen first and the message marked processed commit together or not
at all, and a message another worker took is not applied again (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlite_utils
from flask import Flask
from flask.testing import FlaskClient
from test_webhooks_inbound import app as app  # the fixture: an app with inbound secrets
from test_webhooks_inbound import chatwoot, count, message_created, note, send
from test_webhooks_inbound import customer as customer  # the fixture: c-1, crm 4711
from test_webhooks_inbound import db as db  # the fixture: a handle on the app's database

from assistant import services
from assistant.engine import get_extractor, get_policy
from assistant.store.sqlite.db import connect, database_path, row
from assistant.store.sqlite.webhooks import SQLiteWebhookStore
from assistant.webhooks import inbox
from assistant.webhooks.chatwoot import SOURCE as CHATWOOT


def recorded(client: FlaskClient, payload: dict[str, Any], **kwargs: Any) -> int:
    """Record a message without processing it (as if the process died after answering)."""
    assert send(client, payload, close=False, **kwargs).status_code == 202
    return 1


def test_an_inbound_note_goes_through_save_note(
    app: Flask,
    client: FlaskClient,
    db: sqlite_utils.Database,
    customer: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    save_note = services.save_note

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return save_note(*args, **kwargs)

    monkeypatch.setattr(services, "save_note", spy)
    inbox_id = recorded(client, note(conversation_id="conv-9"))
    with app.app_context():
        assert inbox.process(db, get_extractor(), get_policy(), inbox_id) == "processed"
    assert len(calls) == 1 and calls[0]["source"] == "crm"
    stored = row(db, "SELECT id, customer_id, source FROM notes")
    assert stored is not None and stored["customer_id"] == customer
    assert row(
        db, "SELECT status, body, customer_id, note_id, conversation FROM webhook_inbox"
    ) == {
        "status": "processed",
        "body": None,
        "customer_id": customer,
        "note_id": stored["id"],
        "conversation": "conv-9",
    }


def test_a_failure_before_commit_keeps_nothing_and_the_message_is_tried_again(
    app: Flask,
    client: FlaskClient,
    db: sqlite_utils.Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Chatwoot contact seen first: its customer is created with the note.
    finish = SQLiteWebhookStore.finish_inbox

    def broken(self: SQLiteWebhookStore, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(SQLiteWebhookStore, "finish_inbox", broken)
    chatwoot(client, message_created("please stop calling me, email is fine"))
    assert row(db, "SELECT status FROM webhook_inbox") == {"status": "received"}
    assert count(db, "notes") == 0 and count(db, "customers") == 0
    assert count(db, "identities") == 0

    monkeypatch.setattr(SQLiteWebhookStore, "finish_inbox", finish)
    with app.app_context():
        assert inbox.process(db, get_extractor(), get_policy(), 1) == "processed"
        assert inbox.process(db, get_extractor(), get_policy(), 1) == "processed"
    assert count(db, "notes") == 1 and count(db, "customers") == 1
    found = row(db, "SELECT status, customer_id, attempts FROM webhook_inbox")
    assert found == {"status": "processed", "customer_id": f"{CHATWOOT}-14", "attempts": 2}


def test_a_message_another_worker_took_meanwhile_is_not_applied_again(
    app: Flask, client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    inbox_id = recorded(client, note())
    other = connect(database_path(app))

    class Racing:
        """Extracts, while another worker finishes the same message."""

        def __init__(self, extractor: Any) -> None:
            self.extractor = extractor

        def __getattr__(self, name: str) -> Any:
            return getattr(self.extractor, name)

        def extract(self, text: str) -> Any:
            result = self.extractor.extract(text)
            other.execute("UPDATE webhook_inbox SET status = 'processed' WHERE id = ?", [inbox_id])
            return result

    with app.app_context():
        assert inbox.process(db, Racing(get_extractor()), get_policy(), inbox_id) == "processed"
    other.conn.close()
    assert count(db, "notes") == 0


def test_a_note_for_no_known_customer_fails_and_keeps_nothing(
    app: Flask, client: FlaskClient, db: sqlite_utils.Database, customer: str
) -> None:
    inbox_id = recorded(client, note())
    services.erase(db, customer, actor="test")  # gone between receipt and processing
    with app.app_context():
        assert inbox.process(db, get_extractor(), get_policy(), inbox_id) == "failed"
    found = row(db, "SELECT status, body, error, note_id FROM webhook_inbox")
    assert found is not None and found["status"] == "failed" and found["body"] is None
    assert str(found["error"]).startswith("unknown_customer") and found["note_id"] is None
    assert count(db, "notes") == 0
