"""Acceptance (issue 12): planted secrets through every write path reach no file in the
database's directory (main file, -wal, -shm, anything else) and no log line, and after
each kind of erasure nothing of the erased customer (name, e-mail, note words) is left
in any file either."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import api_key_hash
from flask import Flask
from flask.testing import FlaskClient
from test_failures import Serve, call
from test_sidebar import HOST_SECRET, hx, sign_in
from test_webhooks_inbound import CHATWOOT_SECRET, CRM_SECRET, chatwoot, message_created, send

from assistant.cli import main
from assistant.store.sqlite.db import database_path
from assistant.webhooks.signing import chatwoot_signature, signature_header
from nlp import Extractor

# Secrets today's redaction masks: a Luhn card, a PIN read out, an IBAN, an Art. 9 word.
PIN, CARD, IBAN, HEALTH = "4821", "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "diabetes"
SECRETS = (PIN, CARD, CARD.replace(" ", ""), IBAN, IBAN.replace(" ", ""), "WEST 1234", HEALTH)
PLANTED = f"PIN is {PIN}, card {CARD}, IBAN {IBAN}, diagnosed with {HEALTH}"
API = {"Authorization": "Bearer tl_pytest_only_7Qx2"}
# The two customers erased at the end, one through the API, one through the CLI.
ADA = ("Lovelace", "ada.lovelace@example.org", "Zanzibar", "snowboards")
GRACE = ("Hopper", "grace.hopper@example.org", "Kilimanjaro", "harpsichords")


def found(haystack: bytes, words: tuple[str, ...]) -> list[str]:
    return [w for w in words if w.encode() in haystack]


def everything(app: Flask, caplog: pytest.LogCaptureFixture) -> bytes:
    """Every file in the database's directory, and every log record so far."""
    folder = Path(database_path(app)).parent
    files = b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())
    return files + caplog.text.encode()


def cli(*args: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def api(client: FlaskClient, method: str, path: str, expect: int, **body: Any) -> Any:
    resp = client.open(f"/api/v1{path}", method=method, json=body or None, headers=API)
    assert resp.status_code == expect, resp.get_data(as_text=True)
    return resp.json


@pytest.fixture
def app(
    make_app: Callable[..., Flask], extractor: Extractor, monkeypatch: pytest.MonkeyPatch
) -> Flask:
    app = make_app(
        TRUSTLINE_INBOUND_SECRETS=f"crm={CRM_SECRET}",
        TRUSTLINE_CHATWOOT_SECRET=CHATWOOT_SECRET,
        TRUSTLINE_SECRET_KEY="session-key-for-tests-only-" + "k" * 20,
        TRUSTLINE_LAUNCH_SECRETS=f"helpdesk={HOST_SECRET}",
        TRUSTLINE_INBOUND_MAX_BYTES=50_000,
    )
    # The CLI builds its own app from the environment, on the same database.
    monkeypatch.setenv("TRUSTLINE_DATABASE", str(database_path(app)))
    monkeypatch.setenv("TRUSTLINE_API_KEY_HASHES", api_key_hash())
    monkeypatch.setattr(Extractor, "load", classmethod(lambda cls, *a, **k: extractor))
    return app


def test_planted_secrets_reach_no_file_and_no_log_and_erasure_leaves_nothing(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = app.test_client()

    # -- API: customer, note, consent evidence, removal reason
    ada = {
        "name": f"Ada {ADA[0]} (card {CARD})",
        "email": ADA[1],
        "identities": [{"source": "helpdesk", "external_id": "4711"}],
    }
    api(client, "PUT", "/customers/c-api", 201, **ada)
    text = f"Parcel to {ADA[2]} arrived damaged again, very unhappy. {PLANTED}. Likes {ADA[3]}."
    stored = api(client, "POST", "/customers/c-api/notes", 201, text=text)
    api(
        client,
        "POST",
        "/customers/c-api/consents",
        201,
        purpose="personalization",
        status="granted",
        evidence=PLANTED,
    )
    complaint = stored["facts"][0]["id"]
    api(client, "DELETE", f"/customers/c-api/facts/{complaint}", 200, reason=PLANTED)

    # -- sidebar: a note, a removal reason, a new customer's name
    csrf = sign_in(client, role="supervisor")
    saved = client.post(
        "/sidebar/customers/c-api/notes",
        data={"text": f"Parcel late again, very unhappy. {PLANTED}"},
        headers=hx(csrf),
    )
    assert saved.status_code == 200
    facts = api(client, "GET", "/customers/c-api/profile", 200)["complaints"]
    removed = client.post(
        f"/sidebar/customers/c-api/facts/{facts[0]['id']}/remove",
        data={"reason": PLANTED},
        headers=hx(csrf),
    )
    assert removed.status_code == 200
    made = client.post(
        "/sidebar/customers",
        data={"external_id": "9999", "name": f"New One {CARD}"},
        headers={"X-CSRF-Token": csrf},
    )
    assert made.status_code == 303

    # -- Standard Webhooks inbound: an agent's note, a customer message, a consent change
    for n, (kind, data) in enumerate(
        [
            ("note.created", {"text": f"Prefers email. {PLANTED}", "author": f"agent {CARD}"}),
            ("message.received", {"text": f"Still waiting, unhappy. {PLANTED}"}),
            (
                "consent.changed",
                {
                    "purpose": "marketing",
                    "status": "granted",
                    "channel": "email",
                    "wording": PLANTED,
                },
            ),
        ]
    ):
        message = {
            "type": kind,
            "timestamp": "2025-01-01T00:00:00Z",
            "data": {"customer_id": "c-api", **data},
        }
        assert send(client, message, msg_id=f"msg_scan_{n}").status_code == 202

    # -- Chatwoot inbound: a customer message, a private note, an e-mail, a contact
    assert chatwoot(client, message_created(f"Prefers email. {PLANTED}")).status_code == 202
    note = message_created(
        f"cust {PLANTED}", message_type="outgoing", private=True, sender={"id": 1, "type": "user"}
    )
    assert chatwoot(client, note).status_code == 202
    mail = message_created(f"Hello, {PLANTED}", content_type="incoming_email", id=119)
    assert chatwoot(client, mail).status_code == 202
    contact = {
        "event": "contact_updated",
        "id": 14,
        "name": f"Visitor {CARD}",
        "email": "visitor@example.net",
        "account": {"id": 1},
    }
    assert chatwoot(client, contact).status_code == 202

    # -- CLI: a customer, a note, consent evidence
    cli("customer", "add", "c-cli", "--name", f"Grace {GRACE[0]} {CARD}", "--email", GRACE[1])
    cli(
        "ingest",
        "c-cli",
        "--agent",
        "cli-agent",
        stdin=f"Parcel to {GRACE[2]} arrived broken, very unhappy. {PLANTED}. {GRACE[3]}.",
    )
    cli(
        "consent",
        "grant",
        "c-cli",
        "--purpose",
        "personalization",
        "--agent",
        "cli-agent",
        "--evidence",
        PLANTED,
    )

    seen = everything(app, caplog)
    assert found(seen, ADA + GRACE)  # the scan does see what is there
    assert found(seen, SECRETS) == []

    # -- each kind of erasure
    api(client, "DELETE", "/customers/c-api", 200)
    cli("erase", "c-cli", "--yes")
    seen = everything(app, caplog)
    assert found(seen, SECRETS) == []
    files = everything(app, caplog)[: -len(caplog.text.encode()) or None]
    assert found(files, ADA + GRACE) == [], json.dumps(found(files, ADA + GRACE))


def test_a_running_server_logs_no_secret_and_its_erasure_leaves_no_byte(tmp_path: Path) -> None:
    """The same through `trustline serve` (gunicorn workers, the webhook process): its
    log and the files beside its database."""
    key = "tl_scan_server_key_51"
    folder = tmp_path / "data"
    folder.mkdir()
    srv = Serve(
        folder / "trustline.db",
        tmp_path / "serve.log",
        key,
        TRUSTLINE_INBOUND_SECRETS=f"crm={CRM_SECRET}",
        TRUSTLINE_CHATWOOT_SECRET=CHATWOOT_SECRET,
    )
    try:
        ada = {"name": f"Ada {ADA[0]}", "email": ADA[1]}
        assert srv.call("PUT", "/api/v1/customers/c-srv", ada).status == 201
        text = f"Parcel to {ADA[2]} damaged again, very unhappy. {PLANTED}. Likes {ADA[3]}."
        assert srv.call("POST", "/api/v1/customers/c-srv/notes", {"text": text}).status == 201
        consent = {"purpose": "personalization", "status": "granted", "evidence": PLANTED}
        assert srv.call("POST", "/api/v1/customers/c-srv/consents", consent).status == 201
        message = {
            "type": "note.created",
            "timestamp": "2025-01-01T00:00:00Z",
            "data": {"customer_id": "c-srv", "text": f"Prefers email. {PLANTED}"},
        }
        body = json.dumps(message)
        now = datetime.now(UTC)
        signed = {
            "Content-Type": "application/json",
            "webhook-id": "msg_srv_1",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature_header("msg_srv_1", now, body, [CRM_SECRET]),
        }
        assert call(srv.port, "POST", "/webhooks/in/crm", body, key=None, **signed).status == 202
        raw = json.dumps(message_created(f"Prefers email. {PLANTED}")).encode()
        stamp = str(int(now.timestamp()))
        cw = {
            "Content-Type": "application/json",
            "X-Chatwoot-Timestamp": stamp,
            "X-Chatwoot-Signature": chatwoot_signature(CHATWOOT_SECRET, stamp, raw),
        }
        answer = call(srv.port, "POST", "/webhooks/in/chatwoot", raw.decode(), key=None, **cw)
        assert answer.status == 202
        for _ in range(300):  # processed right after the answers; bounded wait
            notes = json.loads(srv.call("GET", "/api/v1/customers/c-srv/export").body)["notes"]
            found_cw = srv.call("GET", "/api/v1/customers/lookup?source=chatwoot&external_id=14")
            if len(notes) == 2 and found_cw.status == 200:
                break
            time.sleep(0.1)
        assert len(notes) == 2 and found_cw.status == 200

        def files() -> bytes:
            return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())

        assert found(files(), ADA)
        assert found(files() + srv.log_path.read_bytes(), SECRETS) == []
        assert srv.call("DELETE", "/api/v1/customers/c-srv").status == 200
        assert found(files(), ADA) == []
        assert found(files() + srv.log_path.read_bytes(), SECRETS) == []
    finally:
        srv.kill()
