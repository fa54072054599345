"""Personal data on disk and durability (issue 12): what reaches the database files,
what erasure leaves behind, and whether an acknowledged write survives a crash."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from test_webhooks_inbound import CRM_SECRET, send

from assistant.cli import main
from assistant.db import get_db
from assistant.store.sqlite import audit
from assistant.store.sqlite.db import connect, database_path
from assistant.webhooks.worker import Worker

SYNCHRONOUS_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


# -- 4. durability ----------------------------------------------------------------------------


def test_every_handle_syncs_each_commit_so_an_acknowledged_write_survives_power_loss(
    app: Flask,
) -> None:
    # Issue 12, item 4: under WAL, synchronous=NORMAL may lose the last commits on power
    # loss or an OS crash; FULL syncs the WAL at every commit, before the answer.
    with app.app_context():
        assert get_db().execute("PRAGMA synchronous").fetchone()[0] == SYNCHRONOUS_FULL
    handle = connect(database_path(app))
    try:
        assert handle.execute("PRAGMA synchronous").fetchone()[0] == SYNCHRONOUS_FULL
        assert handle.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        handle.conn.close()


# -- 1. free text goes through the notes' redaction ---------------------------------------------

PIN, CARD, IBAN, HEALTH = "4821", "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "diabetes"
SECRETS = (PIN, CARD, CARD.replace(" ", ""), IBAN, IBAN.replace(" ", ""), HEALTH)
PLANTED = f"PIN is {PIN}, card {CARD}, IBAN {IBAN}, diagnosed with {HEALTH}"


def stored_text(db: sqlite_utils.Database) -> str:
    """Every value of every row of every table, as text."""
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = []
    for table in tables:
        for values in db.execute(f"SELECT * FROM [{table}]").fetchall():
            out += [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values
            ]
    return "\n".join(out)


def leaked(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _customer_with_a_fact(client: FlaskClient, headers: dict[str, str]) -> int:
    assert (
        client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=headers).status_code
        == 201
    )
    resp = client.post(
        "/api/v1/customers/c-1/notes",
        json={"text": "Parcel arrived damaged again, very unhappy."},
        headers=headers,
    )
    assert resp.status_code == 201, resp.json
    return int(resp.json["facts"][0]["id"])


def test_consent_evidence_and_removal_reasons_are_redacted_before_they_are_kept(
    app: Flask, client: FlaskClient, api_headers: dict[str, str]
) -> None:
    # Issue 12, item 1: consent evidence went into the append-only ledger and the events
    # as given; a removal reason into facts and the hash-chained audit log.
    fact_id = _customer_with_a_fact(client, api_headers)
    consent = client.post(
        "/api/v1/customers/c-1/consents",
        json={"purpose": "personalization", "status": "granted", "evidence": PLANTED},
        headers=api_headers,
    )
    assert consent.status_code == 201 and not leaked(json.dumps(consent.json))
    assert "[CREDENTIAL]" in consent.json["evidence"]["text"]
    removed = client.delete(
        f"/api/v1/customers/c-1/facts/{fact_id}", json={"reason": PLANTED}, headers=api_headers
    )
    assert removed.status_code == 200 and not leaked(json.dumps(removed.json))
    events = client.get("/api/v1/customers/c-1/events", headers=api_headers).json["events"]
    assert not leaked(json.dumps(events))
    db = connect(database_path(app))
    assert not leaked(stored_text(db))


def test_inbound_consent_evidence_and_contact_names_are_redacted(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(TRUSTLINE_INBOUND_SECRETS=f"crm={CRM_SECRET}")
    client = app.test_client()
    headers = {"Authorization": "Bearer tl_pytest_only_7Qx2"}
    assert (
        client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=headers).status_code
        == 201
    )
    message = {
        "type": "consent.changed",
        "timestamp": "2025-01-01T00:00:00Z",
        "data": {
            "customer_id": "c-1",
            "purpose": "marketing",
            "status": "granted",
            "channel": "email",
            "wording": PLANTED,
        },
    }
    assert send(client, message, msg_id="msg_consent_1").status_code == 202
    db = connect(database_path(app))
    assert json.loads(db.execute("SELECT evidence FROM consents").fetchone()[0])["wording"]
    assert not leaked(stored_text(db))


# -- 2. raw inbound bodies; erasure leaves no byte in any file ---------------------------------


def file_bytes(app: Flask) -> bytes:
    """Every byte of every file in the database's directory (main, -wal, -shm, others)."""
    folder = Path(database_path(app)).parent
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


def found_in(data: bytes, words: tuple[str, ...]) -> list[str]:
    return [w for w in words if w.encode() in data]


def test_a_raw_inbound_body_never_reaches_a_file_unmasked(
    make_app: Callable[..., Flask], api_headers: dict[str, str]
) -> None:
    # Issue 12, item 2: the raw body was recorded before the 2xx and its bytes stayed
    # in the -wal file after processing.
    app = make_app(TRUSTLINE_INBOUND_SECRETS=f"crm={CRM_SECRET}")
    client = app.test_client()
    assert (
        client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=api_headers).status_code
        == 201
    )
    message = {
        "type": "note.created",
        "timestamp": "2025-01-01T00:00:00Z",
        "data": {"customer_id": "c-1", "text": f"Prefers email. {PLANTED}", "author": "ann"},
    }
    # Recorded and answered, not processed yet (as if the process died right after).
    assert send(client, message, msg_id="msg_raw_1", close=False).status_code == 202
    assert found_in(file_bytes(app), SECRETS) == []
    db = connect(database_path(app))
    assert db.execute("SELECT status FROM webhook_inbox").fetchone()[0] == "received"
    # The next message is processed at once; the one left over by the worker (from what
    # was kept: the masked body).
    assert send(client, message, msg_id="msg_raw_2").status_code == 202
    Worker(app, inbox_grace=0).run(threading.Event(), until_idle=True, timeout=20)
    statuses = [r[0] for r in db.execute("SELECT status FROM webhook_inbox ORDER BY id")]
    assert statuses == ["processed", "processed"]
    notes = [r[0] for r in db.execute("SELECT redacted_text FROM notes ORDER BY id")]
    assert len(notes) == 2 and all("[PAYMENT_CARD]" in n for n in notes), notes
    assert found_in(file_bytes(app), SECRETS) == []


PERSON = ("Lovelace", "ada.lovelace@example.org", "+441632960123")
NOTE_WORDS = ("snowboards", "Zanzibar")


def _erasable_customer(client: FlaskClient, headers: dict[str, str]) -> None:
    body = {
        "name": "Ada Lovelace",
        "email": PERSON[1],
        "phone": PERSON[2],
        "identities": [{"source": "crm", "external_id": "cust-lovelace"}],
    }
    assert client.put("/api/v1/customers/c-9", json=body, headers=headers).status_code == 201
    text = "Parcel to Zanzibar arrived damaged again, very unhappy. Asked about snowboards."
    resp = client.post("/api/v1/customers/c-9/notes", json={"text": text}, headers=headers)
    assert resp.status_code == 201, resp.json


def test_api_erasure_leaves_no_byte_of_the_customer_in_any_file(
    app: Flask, client: FlaskClient, api_headers: dict[str, str]
) -> None:
    _erasable_customer(client, api_headers)
    assert found_in(file_bytes(app), PERSON + NOTE_WORDS)  # the check sees them first
    assert client.delete("/api/v1/customers/c-9", headers=api_headers).status_code == 200
    assert found_in(file_bytes(app), PERSON + NOTE_WORDS) == []


# -- 3. erasure in the append-only audit log --------------------------------------------------


def test_after_erasure_the_audit_log_and_inbox_hold_nothing_that_names_her(
    make_app: Callable[..., Flask], api_headers: dict[str, str]
) -> None:
    # Issue 12, item 3: audit_log kept the customer id in clear in 7 entries and a reason
    # naming her; webhook_inbox kept the conversation and delivery ids.
    app = make_app(TRUSTLINE_INBOUND_SECRETS=f"crm={CRM_SECRET}")
    client = app.test_client()
    _erasable_customer(client, api_headers)
    message = {
        "type": "message.received",
        "timestamp": "2025-01-01T00:00:00Z",
        "data": {
            "customer_id": "c-9",
            "text": "The parcel to Zanzibar is late again, I am very unhappy.",
            "conversation_id": "conv-lovelace-4242",
        },
    }
    assert send(client, message, msg_id="msg_lovelace_77").status_code == 202
    complaint = client.get("/api/v1/customers/c-9/profile", headers=api_headers).json["complaints"][
        0
    ]
    reason = {"reason": "Ada Lovelace says this was her neighbour's parcel"}
    path = f"/api/v1/customers/c-9/facts/{complaint['id']}"
    assert client.delete(path, json=reason, headers=api_headers).status_code == 200
    db = connect(database_path(app))
    with app.app_context():
        pseudonym = audit.subject_of(get_db(), "c-9")
    trail = [r[0] for r in db.execute("SELECT subject FROM audit_log")]
    assert pseudonym is not None and trail.count(pseudonym) >= 4  # linkable while she exists

    assert client.delete("/api/v1/customers/c-9", headers=api_headers).status_code == 200
    names = ("c-9", "Lovelace", "neighbour", "conv-lovelace-4242", "msg_lovelace_77")
    log = "\n".join(str(v) for r in db.execute("SELECT * FROM audit_log") for v in r)
    assert [n for n in names if n in log] == []
    inbox = "\n".join(str(v) for r in db.execute("SELECT * FROM webhook_inbox") for v in r)
    assert [n for n in names if n in inbox] == []
    with app.app_context():
        assert audit.subject_of(get_db(), "c-9") is None  # her key is gone: unlinkable
        assert audit.verify(get_db()).ok  # and the chain still verifies
    # A replay of the message within the tolerance window is still a duplicate.
    again = send(client, message, msg_id="msg_lovelace_77")
    assert again.status_code == 200 and again.json["status"] == "duplicate"


def test_webhook_descriptions_and_key_names_are_redacted(
    app: Flask,
    client: FlaskClient,
    api_headers: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue 12, item 1: "names of things" an operator writes are free text too.
    resp = client.post(
        "/api/v1/webhooks",
        json={"url": "https://crm.example/hooks", "description": PLANTED},
        headers=api_headers,
    )
    assert resp.status_code == 201, resp.json
    assert not leaked(json.dumps(resp.json)) and "[PAYMENT_CARD]" in resp.json["description"]
    assert not leaked(stored_text(connect(database_path(app))))
    cli_db = tmp_path / "cli.db"
    monkeypatch.setenv("TRUSTLINE_DATABASE", str(cli_db))
    created = CliRunner().invoke(main, ["keys", "create", PLANTED, "--scope", "read"])
    assert created.exit_code == 0, created.output
    assert not leaked(created.output)
    assert not leaked(stored_text(connect(str(cli_db))))
