"""The profile write path end to end, through the JSON API on a real database file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from assistant.auth import create_key
from assistant.store.sqlite.db import connect

CARD = "4111 1111 1111 1111"


def db_bytes(path: str) -> bytes:
    """Every byte SQLite keeps for the database: the file, its WAL and shared memory."""
    return b"".join(
        Path(path + suffix).read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(path + suffix).exists()
    )


@pytest.fixture
def customer(client: FlaskClient, api_headers: dict[str, str]) -> str:
    resp = client.put(
        "/api/v1/customers/c-1",
        json={
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "identities": [{"source": "crm", "external_id": "4711"}],
        },
        headers=api_headers,
    )
    assert resp.status_code == 201, resp.json
    return "c-1"


def note(client: FlaskClient, headers: dict[str, str], text: str, **extra: Any) -> Any:
    resp = client.post(
        "/api/v1/customers/c-1/notes",
        json={"text": text, "agent": "agent-7", **extra},
        headers=headers,
    )
    assert resp.status_code == 201, resp.json
    return resp.json


MARKETING_WORDING = (
    "May we send you our offers and news this way? We ask for each channel (e-mail, text "
    "message, phone, post) separately, and you can stop any of them at any time by replying "
    "STOP or by telling us."
)


def profile(client: FlaskClient, headers: dict[str, str]) -> Any:
    resp = client.get("/api/v1/customers/c-1/profile", headers=headers)
    assert resp.status_code == 200
    return resp.json


def test_customer_is_created_then_updated_with_identities(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    resp = client.put(
        f"/api/v1/customers/{customer}",
        json={
            "phone": "+44 7700 900123",
            "identities": [{"source": "helpdesk", "external_id": "9"}],
        },
        headers=api_headers,
    )
    assert resp.status_code == 200
    assert resp.json["name"] == "Ada Lovelace"
    assert {(i["source"], i["external_id"]) for i in resp.json["identities"]} == {
        ("crm", "4711"),
        ("helpdesk", "9"),
    }
    found = client.get("/api/v1/customers/lookup?source=crm&external_id=4711", headers=api_headers)
    assert found.json == {"customer_id": customer}


def test_an_identity_cannot_belong_to_two_customers(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    resp = client.put(
        "/api/v1/customers/c-2",
        json={"name": "B", "identities": [{"source": "crm", "external_id": "4711"}]},
        headers=api_headers,
    )
    assert resp.status_code == 409
    assert resp.content_type == "application/problem+json"
    assert client.get("/api/v1/customers/c-2/profile", headers=api_headers).status_code == 404


def test_note_stores_only_lawful_facts_and_never_the_raw_text(
    app: Flask, client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    body = note(
        client,
        api_headers,
        f"Cust read out card {CARD}, charged twice for order 5521, v upset. "
        "Prefers email, no calls. Loves vegan skincare. She has asthma.",
    )
    assert CARD not in body["note"]["redacted_text"]
    assert "[PAYMENT_CARD]" in body["note"]["redacted_text"]
    kinds = {(f["kind"], f.get("field") or f.get("category")) for f in body["facts"]}
    assert ("complaint", "billing") in kinds
    assert ("preference", "contact_channel") in kinds
    # interests need personalisation consent, which nobody gave: fail closed
    assert ("preference", "interest") not in kinds
    reasons = {(d["fact_key"], d["outcome"]) for d in body["decisions"]}
    assert ("preference:interest", "blocked") in reasons
    assert ("sensitive:payment_card", "blocked") in reasons
    assert ("sensitive:health", "blocked") in reasons
    # evidence is re-based onto the redacted note
    for fact in body["facts"]:
        ev = fact["provenance"]["evidence"]
        assert body["note"]["redacted_text"][ev["start"] : ev["end"]] == ev["text"]
    stored = db_bytes(app.config["TRUSTLINE_DATABASE"])
    for secret in (CARD, "asthma"):
        assert secret.encode() not in stored


def test_granted_personalisation_lets_interests_in(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    resp = client.post(
        "/api/v1/customers/c-1/consents",
        json={
            "purpose": "personalization",
            "status": "granted",
            "agent": "agent-7",
            "evidence": "Customer agreed on the phone to tailored recommendations.",
        },
        headers=api_headers,
    )
    assert resp.status_code == 201
    body = note(client, api_headers, "Loves vegan skincare and organic tea.")
    assert {f["value"] for f in body["facts"] if f["field"] == "interest"} >= {"vegan skincare"}
    assert profile(client, api_headers)["consents"]["personalization"]["status"] == "granted"


def test_withdrawal_in_a_note_applies_at_once_and_removes_dependent_facts(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    client.post(
        "/api/v1/customers/c-1/consents",
        json={"purpose": "personalization", "status": "granted", "evidence": "said yes"},
        headers=api_headers,
    )
    note(client, api_headers, "Keen on trail running shoes.")
    assert any(f["field"] == "interest" for f in profile(client, api_headers)["preferences"])
    body = note(client, api_headers, "Cust doesn't want personalised offers any more.")
    assert body["decisions"][0]["outcome"] == "recorded"
    view = profile(client, api_headers)
    assert view["consents"]["personalization"]["status"] == "withdrawn"
    assert not any(f["field"] == "interest" for f in view["preferences"])
    events = client.get("/api/v1/customers/c-1/events", headers=api_headers).json["events"]
    types = [e["type"] for e in events]
    assert "consent.changed" in types and "profile.preference.removed" in types


def test_grant_in_a_note_is_only_a_proposal_until_confirmed(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    body = note(client, api_headers, "Happy for us to text her about offers.")
    assert body["consent_proposals"], body
    proposal = body["consent_proposals"][0]
    view = profile(client, api_headers)
    assert view["consents"]["marketing"]["status"] == "never_asked"
    resp = client.post(
        "/api/v1/customers/c-1/consents",
        json={
            "proposal_id": proposal["id"],
            "wording": MARKETING_WORDING,
            "wording_version": "marketing-1",
        },
        headers=api_headers,
    )
    assert resp.status_code == 201
    assert resp.json["evidence"]["wording_version"] == "marketing-1"
    view = profile(client, api_headers)
    assert view["consents"]["marketing"]["channels"].get("sms") == "granted"
    # Issue 15: the purpose says what its channels say, never "never_asked" beside them.
    assert view["consents"]["marketing"]["status"] == "partial"
    assert view["consents"]["marketing"]["summary"] == "Granted for text messages only"


def test_erasure_request_in_a_note_opens_a_dsr_due_in_a_month(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    body = note(client, api_headers, "Wants her account and all her data deleted.")
    (request,) = body["requests"]
    assert request["kind"] == "erase"
    assert request["due_at"] > request["created_at"]
    assert profile(client, api_headers)["requests"][0]["id"] == request["id"]


def test_newer_preference_supersedes_older_without_losing_history(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    first = note(client, api_headers, "Prefers email.")["facts"][0]
    second = note(client, api_headers, "Now prefers SMS updates.")["facts"][0]
    assert second["value"] == "sms"
    channels = {f["value"] for f in profile(client, api_headers)["preferences"]}
    assert channels == {"sms"}
    export = client.get("/api/v1/customers/c-1/export", headers=api_headers).json
    old = next(f for f in export["facts"] if f["id"] == first["id"])
    assert old["superseded_by"] == second["id"]


def test_negative_polarity_replaces_positive(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    note(client, api_headers, "Happy to take calls.")
    note(client, api_headers, "No calls please.")
    prefs = profile(client, api_headers)["preferences"]
    assert [(f["value"], f["polarity"]) for f in prefs] == [("phone", "negative")]


def test_complaint_can_be_resolved_and_a_fact_corrected(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    body = note(client, api_headers, "Parcel marked as delivered but never arrived. Prefers email.")
    complaint = next(f for f in body["facts"] if f["kind"] == "complaint")
    assert complaint["status"] == "open"
    resp = client.patch(
        f"/api/v1/customers/c-1/facts/{complaint['id']}",
        json={"status": "resolved"},
        headers=api_headers,
    )
    assert resp.status_code == 200 and resp.json["status"] == "resolved"
    pref = next(f for f in body["facts"] if f["kind"] == "preference")
    no_reason = client.delete(f"/api/v1/customers/c-1/facts/{pref['id']}", headers=api_headers)
    assert no_reason.status_code == 400
    resp = client.delete(
        f"/api/v1/customers/c-1/facts/{pref['id']}",
        json={"reason": "agent misheard"},
        headers=api_headers,
    )
    assert resp.status_code == 200
    assert not profile(client, api_headers)["preferences"]


def test_idempotency_key_replays_and_rejects_a_different_body(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    headers = {**api_headers, "Idempotency-Key": "n-1"}
    first = client.post(
        "/api/v1/customers/c-1/notes", json={"text": "Prefers email."}, headers=headers
    )
    again = client.post(
        "/api/v1/customers/c-1/notes", json={"text": "Prefers email."}, headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["note"]["id"] == first.json["note"]["id"]
    other = client.post(
        "/api/v1/customers/c-1/notes", json={"text": "Prefers post."}, headers=headers
    )
    assert other.status_code == 422
    export = client.get("/api/v1/customers/c-1/export", headers=api_headers).json
    assert len(export["notes"]) == 1


def test_profile_etag_revalidates(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    first = client.get("/api/v1/customers/c-1/profile", headers=api_headers)
    etag = first.headers["ETag"]
    same = client.get(
        "/api/v1/customers/c-1/profile", headers={**api_headers, "If-None-Match": etag}
    )
    assert same.status_code == 304
    note(client, api_headers, "Prefers email.")
    changed = client.get(
        "/api/v1/customers/c-1/profile", headers={**api_headers, "If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


@pytest.mark.parametrize(
    ("method", "path", "scope_needed"),
    [
        ("put", "/api/v1/customers/c-9", "write"),
        ("post", "/api/v1/customers/c-1/notes", "write"),
        ("post", "/api/v1/customers/c-1/consents", "consent"),
        ("get", "/api/v1/customers/c-1/export", "admin"),
        ("delete", "/api/v1/customers/c-1", "admin"),
    ],
)
def test_scopes_are_enforced(
    app: Flask, client: FlaskClient, customer: str, method: str, path: str, scope_needed: str
) -> None:
    with app.app_context():
        db = connect(app.config["TRUSTLINE_DATABASE"])
        reader = create_key(db, "reader", ["read"])
        db.conn.close()
    resp = getattr(client, method)(
        path, json={"text": "x", "name": "n"}, headers={"Authorization": f"Bearer {reader}"}
    )
    assert resp.status_code == 403
    assert scope_needed in resp.json["detail"]
    ok = client.get("/api/v1/customers/c-1/profile", headers={"Authorization": f"Bearer {reader}"})
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/api/v1/customers/nobody/notes", {"text": "Prefers email."}, 404),
        ("get", "/api/v1/customers/nobody/profile", None, 404),
        ("post", "/api/v1/customers/c-1/notes", {"txt": "x"}, 400),
        (
            "post",
            "/api/v1/customers/c-1/consents",
            {"purpose": "nope", "status": "granted", "evidence": "x"},
            400,
        ),
        ("patch", "/api/v1/customers/c-1/facts/999", {"status": "resolved"}, 404),
    ],
)
def test_bad_requests_are_clear_problems_and_write_nothing(
    client: FlaskClient,
    api_headers: dict[str, str],
    customer: str,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    resp = getattr(client, method)(path, json=body, headers=api_headers)
    assert resp.status_code == status
    assert resp.content_type == "application/problem+json"
    assert resp.json["status"] == status and resp.json["detail"]
    export = client.get("/api/v1/customers/c-1/export", headers=api_headers).json
    assert export["notes"] == [] and export["consents"] == []


def test_malformed_json_is_a_problem(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    resp = client.post(
        "/api/v1/customers/c-1/notes",
        data=b'{"text": "unterminated',
        headers={**api_headers, "Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.json["type"].endswith("/invalid_json")


def test_oversize_note_body_is_refused_before_anything_is_written(
    make_app: Any, api_headers: dict[str, str]
) -> None:
    app = make_app(TRUSTLINE_MAX_REQUEST_BYTES=2_000)
    client = app.test_client()
    client.put("/api/v1/customers/c-1", json={"name": "A"}, headers=api_headers)
    resp = client.post(
        "/api/v1/customers/c-1/notes", json={"text": "x" * 5_000}, headers=api_headers
    )
    assert resp.status_code == 413
    assert resp.content_type == "application/problem+json"
    export = client.get("/api/v1/customers/c-1/export", headers=api_headers).json
    assert export["notes"] == []


def test_consent_cannot_be_granted_for_all_purposes_at_once(
    client: FlaskClient, api_headers: dict[str, str], customer: str
) -> None:
    resp = client.post(
        "/api/v1/customers/c-1/consents",
        json={"purpose": "all", "status": "granted", "evidence": "yes to everything"},
        headers=api_headers,
    )
    assert resp.status_code == 400
    assert resp.json["error"] == "unspecific_consent"


# Issue 12, smaller gaps: a confirmation carries the policy's script; no empty notes.


@pytest.mark.parametrize(
    ("wording", "version", "problem"),
    [
        ("ok?", "marketing-1", "wording_mismatch"),
        (MARKETING_WORDING, "marketing-sms-v9", "unknown_wording_version"),
    ],
)
def test_a_confirmation_must_carry_the_policys_script_for_its_version(
    client: FlaskClient,
    api_headers: dict[str, str],
    customer: str,
    wording: str,
    version: str,
    problem: str,
) -> None:
    proposal = note(client, api_headers, "Happy for us to text her about offers.")[
        "consent_proposals"
    ][0]
    resp = client.post(
        "/api/v1/customers/c-1/consents",
        json={"proposal_id": proposal["id"], "wording": wording, "wording_version": version},
        headers=api_headers,
    )
    assert resp.status_code == 400 and resp.json["error"] == problem, resp.json
    assert version in resp.json["detail"] or "marketing-1" in resp.json["detail"]
    view = profile(client, api_headers)
    assert view["consents"]["marketing"]["channels"].get("sms") is None
    assert [p["id"] for p in view["consent_proposals"]] == [proposal["id"]]  # still pending


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_an_empty_note_is_refused(
    client: FlaskClient, api_headers: dict[str, str], customer: str, text: str
) -> None:
    resp = client.post(
        "/api/v1/customers/c-1/notes", json={"text": text, "agent": "a"}, headers=api_headers
    )
    assert resp.status_code == 400 and resp.json["error"] == "empty_text", resp.json
    assert client.get("/api/v1/customers/c-1/export", headers=api_headers).json["notes"] == []
