"""The customer's own page (issue 15, section 1): link signing, expiry, revocation and
erasure; the page over HTTP; its controls through the profile's write path; the API
and the command that make links; gettext; colour contrast."""

from __future__ import annotations

import gettext
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from flask import Flask, g
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from assistant import services
from assistant.auth import create_key
from assistant.consent import ConsentRecord, ConsentState
from assistant.consent_state import purpose_state
from assistant.customer_page import i18n, links
from assistant.customer_page import page as model
from assistant.customer_page.views import COOKIE, CSP, link_key
from assistant.policy import load_policy
from assistant.store.sqlite import audit
from assistant.store.sqlite.db import connect, row, rows
from nlp import Extractor

ROOT = Path(__file__).parents[1]
KEY = links.signing_key("test-secret-key-" + "k" * 32)
CARD = "4111 1111 1111 1111"
NOTE = f"Prefers email, no calls please. Parcel arrived damaged again, very unhappy. Card {CARD}."
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(TRUSTLINE_SECRET_KEY="customer-page-tests-" + "s" * 32)


@pytest.fixture
def db(app: Flask) -> Iterator[sqlite_utils.Database]:
    handle = connect(app.config["TRUSTLINE_DATABASE"])
    yield handle
    handle.conn.close()


def add_customer(
    db: sqlite_utils.Database, extractor: Extractor, customer_id: str = "c-1", note: str = NOTE
) -> None:
    services.upsert_customer(db, customer_id, actor="test", name="Ada Lovelace")
    if note:
        services.ingest_note(db, extractor, load_policy(), customer_id, note, agent="agent-7")


def grant(db: sqlite_utils.Database, customer_id: str, purpose: str, channel: str | None) -> None:
    services.record_consent(
        db,
        load_policy(),
        customer_id,
        purpose=purpose,
        channel=channel,
        status="granted",
        actor="test",
        source="agent",
        method="verbal",
        evidence={"agent": "test"},
    )


def link_for(app: Flask, db: sqlite_utils.Database, customer_id: str = "c-1", **kw: Any) -> str:
    with app.app_context():
        key = link_key()
    ttl = kw.pop("ttl", timedelta(days=1))
    token, _ = links.create(db, key, customer_id, ttl=ttl, actor="test", **kw)
    return token


def open_page(client: FlaskClient, token: str) -> TestResponse:
    opened = client.get(f"/my/{token}")
    assert opened.status_code == 303 and opened.headers["Location"] == "/my"
    return client.get("/my")


def csrf(resp: TestResponse) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', resp.get_data(as_text=True))
    assert found
    return found.group(1)


def text(resp: TestResponse) -> str:
    """The page's visible words, tags stripped and spaces folded."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", resp.get_data(as_text=True), flags=re.S)
    words = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", words.replace("&#39;", "'").replace("&amp;", "&")).strip()


# -- links: signing, expiry, revocation, erasure ---------------------------------------------


def test_a_link_opens_its_customer_and_carries_no_personal_data(
    db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, "ada.lovelace@example.com", note="")
    token, link = links.create(
        db, KEY, "ada.lovelace@example.com", ttl=timedelta(hours=1), actor="test"
    )
    assert links.verify(db, KEY, token).customer_id == "ada.lovelace@example.com"
    assert link.expires_at - services.utcnow() <= timedelta(hours=1)
    # Random bytes and a signature: nothing of the customer, in any decoding.
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{24}", token)
    assert "ada" not in token.lower() and "example" not in token.lower()


def test_only_a_digest_of_the_token_is_stored(
    db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, note="")
    token, _ = links.create(db, KEY, "c-1", ttl=timedelta(hours=1), actor="test")
    dump = "\n".join(db.conn.iterdump())
    random_part, _, signature = token.partition(".")
    assert random_part not in dump and signature not in dump
    assert links.digest(token) in dump


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # one character of the signature
        lambda t: ("A" if t[0] != "A" else "B") + t[1:],  # one of the random part
        lambda t: t.partition(".")[0],  # no signature
        lambda t: t + "x",
        lambda t: "",
        lambda t: "../../etc/passwd",
        lambda t: t.replace(".", ""),
    ],
)
def test_a_forged_token_is_refused(
    db: sqlite_utils.Database, extractor: Extractor, forge: Callable[[str], str]
) -> None:
    add_customer(db, extractor, note="")
    token, _ = links.create(db, KEY, "c-1", ttl=timedelta(hours=1), actor="test")
    with pytest.raises(links.LinkRefused):
        links.verify(db, KEY, forge(token))


def test_a_token_signed_under_another_key_is_refused(
    db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, note="")
    token, _ = links.create(db, KEY, "c-1", ttl=timedelta(hours=1), actor="test")
    with pytest.raises(links.LinkRefused, match="signature"):
        links.verify(db, links.signing_key("another-server-secret-" + "x" * 30), token)


def test_a_link_expires(db: sqlite_utils.Database, extractor: Extractor) -> None:
    add_customer(db, extractor, note="")
    token, link = links.create(db, KEY, "c-1", ttl=timedelta(hours=2), now=T0, actor="test")
    assert links.verify(db, KEY, token, now=T0 + timedelta(hours=1, minutes=59)).id == link.id
    with pytest.raises(links.LinkRefused, match="expired"):
        links.verify(db, KEY, token, now=T0 + timedelta(hours=2))


def test_revoking_ends_every_link_of_the_customer_and_only_hers(
    db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, "c-1", note="")
    add_customer(db, extractor, "c-2", note="")
    first, _ = links.create(db, KEY, "c-1", ttl=timedelta(hours=1), actor="test")
    second, _ = links.create(db, KEY, "c-1", ttl=timedelta(hours=1), actor="test")
    other, _ = links.create(db, KEY, "c-2", ttl=timedelta(hours=1), actor="test")
    assert links.revoke(db, "c-1", actor="test") == 2
    for token in (first, second):
        with pytest.raises(links.LinkRefused, match="revoked"):
            links.verify(db, KEY, token)
    assert links.verify(db, KEY, other).customer_id == "c-2"
    assert links.revoke(db, "c-1", actor="test") == 0
    actions = [r["action"] for r in rows(db, "SELECT action FROM audit_log")]
    assert actions.count("customer_link.created") == 3
    assert actions.count("customer_link.revoked") == 1


def test_erasure_ends_the_links_even_if_the_id_comes_back(
    db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, note="")
    token, _ = links.create(db, KEY, "c-1", ttl=timedelta(days=7), actor="test")
    services.erase(db, "c-1", actor="test")
    assert rows(db, "SELECT * FROM customer_links") == []
    add_customer(db, extractor, note="")  # a new customer under the same id
    with pytest.raises(links.LinkRefused):
        links.verify(db, KEY, token)


def test_a_link_for_an_unknown_customer_is_not_made(db: sqlite_utils.Database) -> None:
    with pytest.raises(services.NotFound):
        links.create(db, KEY, "nobody", ttl=timedelta(hours=1), actor="test")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7d", 7 * 86_400),
        ("12h", 43_200),
        ("30m", 1800),
        ("90s", 90),
        ("3600", 3600),
        (" 2D ", 172_800),
    ],
)
def test_ttl_forms(value: str, seconds: int) -> None:
    assert links.parse_ttl(value, longest=timedelta(days=30)) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["", "0", "0d", "-1d", "7 days", "1w", "31d", "1.5h", "d"])
def test_ttl_refused(value: str) -> None:
    with pytest.raises(ValueError):
        links.parse_ttl(value, longest=timedelta(days=30))


# -- the consent state the page shows --------------------------------------------------------


def record(n: int, purpose: str, channel: str | None, status: str) -> ConsentRecord:
    at = T0 + timedelta(minutes=n)
    return ConsentRecord(
        id=n,
        customer_id="c-1",
        purpose=purpose,
        channel=channel,
        status=status,
        lawful_basis="legitimate_interest" if purpose == "service" else "consent",
        source="agent",
        method="verbal",
        evidence={},
        effective_from=at,
        effective_to=None,
        recorded_at=at,
    )


# (records in order, expected marketing state, expected e-mail, expected sms); the
# summaries the page shows for every combination: tests/test_consent_views.py.
MARKETING = [
    ([], "never_asked", "never_asked", "never_asked"),
    ([(None, "granted")], "granted", "granted", "granted"),
    ([("email", "granted")], "partial", "granted", "never_asked"),
    ([(None, "granted"), ("email", "withdrawn")], "partial", "withdrawn", "granted"),
    ([("email", "granted"), (None, "withdrawn")], "withdrawn", "withdrawn", "withdrawn"),
    ([(None, "withdrawn"), ("sms", "granted")], "partial", "withdrawn", "granted"),
    ([("email", "denied")], "denied", "denied", "never_asked"),
    ([(None, "denied")], "denied", "denied", "denied"),
]


@pytest.mark.parametrize(("records", "whole", "email", "sms"), MARKETING)
def test_purpose_wide_and_channel_records_tell_one_story(
    records: list[tuple[str | None, str]], whole: str, email: str, sms: str
) -> None:
    state = ConsentState(
        tuple(record(n, "marketing", ch, status) for n, (ch, status) in enumerate(records, 1))
    )
    (marketing,) = [
        c
        for c in model.consent_choices(state, load_policy(), T0 + timedelta(hours=1))
        if c.purpose == "marketing"
    ]
    channels = {c.channel: c.status for c in marketing.channels}
    assert (marketing.status, channels["email"], channels["sms"]) == (whole, email, sms)
    assert list(channels) == ["email", "phone", "sms", "post"]
    granted = [c for c in channels.values() if c == "granted"]
    # The purpose's state never contradicts its channels.
    assert (whole == "granted") == (len(granted) == len(channels))
    assert (whole == "partial") == (0 < len(granted) < len(channels))
    # The same state as the domain's, which every other view renders.
    domain_state = purpose_state(
        state, load_policy().purposes["marketing"], T0 + timedelta(hours=1)
    )
    assert (marketing.status, marketing.summary) == (domain_state.status, domain_state.summary)


def test_withdrawing_all_is_no_objection_to_a_legitimate_interest() -> None:
    state = ConsentState(
        (record(1, "personalization", None, "granted"), record(2, "all", None, "withdrawn"))
    )
    shown = {
        c.purpose: c.status
        for c in model.consent_choices(state, load_policy(), T0 + timedelta(hours=1))
    }
    assert shown["personalization"] == "withdrawn"
    assert shown["service"] == "not_needed"
    objected = ConsentState((record(1, "service", None, "withdrawn"),))
    (service,) = [
        c
        for c in model.consent_choices(objected, load_policy(), T0 + timedelta(hours=1))
        if c.purpose == "service"
    ]
    assert (service.status, service.summary) == ("objected", "Objected") and service.objectable


def test_a_channel_with_its_own_record_is_listed() -> None:
    state = ConsentState((record(1, "marketing", "whatsapp", "granted"),))
    (marketing,) = [
        c
        for c in model.consent_choices(state, load_policy(), T0 + timedelta(hours=1))
        if c.purpose == "marketing"
    ]
    assert [c.channel for c in marketing.channels] == ["email", "phone", "sms", "post", "whatsapp"]


@pytest.mark.parametrize(
    ("note", "span", "expected"),
    [
        ("Called today. Prefers email. Bye.", "Prefers email", ("", "Prefers email", ".")),
        ("Prefers email, no calls please", "no calls", ("Prefers email, ", "no calls", " please")),
        ("One. Two words here! Three?", "words", ("Two ", "words", " here!")),
        ("Ends with its stop.", "its stop.", ("Ends with ", "its stop.", "")),
    ],
)
def test_the_sentence_a_fact_was_read_from(
    note: str, span: str, expected: tuple[str, str, str]
) -> None:
    start = note.index(span)
    found = model.sentence(note, start, start + len(span), span)
    assert (found.before, found.marked, found.after) == expected


def test_offsets_outside_the_note_fall_back_to_the_evidence() -> None:
    assert model.sentence("short", 3, 99, "fallback").marked == "fallback"


# -- the page over HTTP ----------------------------------------------------------------------


def test_the_page_shows_each_fact_with_where_it_came_from_and_why(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor)
    grant(db, "c-1", "marketing", "email")
    client = app.test_client()
    resp = open_page(client, link_for(app, db))
    assert resp.status_code == 200
    words = text(resp)
    assert "Hello Ada Lovelace." in words
    assert "You prefer to be contacted by e-mail" in words
    assert "You prefer not to be contacted by phone" in words
    assert "A complaint about a delivery" in words and "Open" in words
    # where it came from: the masked sentence, never the card
    assert "Parcel arrived damaged again, very unhappy." in words
    assert CARD not in resp.get_data(as_text=True)
    # what it is used for and what the customer gets, from the policy
    policy = load_policy()
    assert policy.purposes["service"].benefit in words
    assert policy.purposes["marketing"].benefit in words
    assert "Because we need it to serve you well (our legitimate interest)." in words
    assert "Used for: Serving you when you contact us" in words
    assert "kept until" in words
    # the consent state: e-mail granted, other channels never asked, in the domain's words
    html = resp.get_data(as_text=True)
    assert 'data-purpose="marketing" data-status="partial"' in html
    assert "Offers and news Granted for e-mail only" in words
    assert 'data-channel="email" data-status="granted"' in html
    assert 'data-channel="sms" data-status="never_asked"' in html
    assert resp.headers["Content-Security-Policy"] == CSP
    assert "script-src" not in CSP and "<script" not in html
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Robots-Tag"] == "noindex, nofollow"


def test_opening_the_link_moves_the_token_into_a_strict_cookie(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, note="")
    token = link_for(app, db, ttl=timedelta(hours=3))
    opened = app.test_client().get(f"/my/{token}")
    assert opened.status_code == 303 and opened.headers["Location"] == "/my"
    cookie = opened.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}={token};")
    for attribute in ("Secure", "HttpOnly", "Path=/my", "SameSite=Lax"):
        assert attribute in cookie
    max_age = int(re.search(r"Max-Age=(\d+)", cookie).group(1))  # type: ignore[union-attr]
    assert 3 * 3600 - 60 < max_age <= 3 * 3600


def failures(app: Flask, db: sqlite_utils.Database, extractor: Extractor) -> dict[str, str]:
    """A link of each way of not working, for customer c-1 (erased: c-gone)."""
    add_customer(db, extractor)
    add_customer(db, extractor, "c-gone")
    good = link_for(app, db)
    expired = link_for(app, db, ttl=timedelta(seconds=1), now=T0)
    revoked = link_for(app, db, "c-gone")
    erased = link_for(app, db, "c-gone")
    links.revoke(db, "c-gone", actor="test", link_id=links.verify(db, app_key(app), revoked).id)
    services.erase(db, "c-gone", actor="test")
    return {
        "forged": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "unsigned": "A" * 24 + "." + "B" * 24,
        "expired": expired,
        "revoked": revoked,
        "erased": erased,
        "malformed": "not-a-token",
    }


def app_key(app: Flask) -> bytes:
    with app.app_context():
        return link_key()


def test_every_bad_link_gets_the_same_plain_page(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    bodies = {}
    for why, token in failures(app, db, extractor).items():
        client = app.test_client()
        resp = client.get(f"/my/{token}")
        assert resp.status_code == 401, why
        assert "Set-Cookie" not in resp.headers or f"{COOKIE}=;" in resp.headers["Set-Cookie"]
        bodies[why] = resp.get_data(as_text=True)
        # and as a cookie, on every route
        client.set_cookie(COOKIE, token, path="/my")
        for method, path in (("GET", "/my"), ("GET", "/my/export"), ("POST", "/my/consents")):
            again = client.open(path, method=method, data={"purpose": "marketing"})
            assert again.status_code == 401, (why, path)
            assert again.get_data(as_text=True) == bodies[why]
    assert len(set(bodies.values())) == 1, "a bad link's page differs by reason"
    page = next(iter(bodies.values()))
    assert "This link does not work" in page
    for secret in ("Ada", "c-1", "c-gone", "revoked", "erased", "signature", "link_id"):
        assert secret not in page
    no_cookie = app.test_client().get("/my")
    assert no_cookie.status_code == 401 and no_cookie.get_data(as_text=True) == page


def test_no_token_reaches_the_log(
    app: Flask,
    db: sqlite_utils.Database,
    extractor: Extractor,
    caplog: pytest.LogCaptureFixture,
    api_headers: dict[str, str],
) -> None:
    add_customer(db, extractor)
    caplog.set_level("DEBUG")
    client = app.test_client()
    made = client.post("/api/v1/customers/c-1/links", headers=api_headers).get_json()
    token = made["url"].rsplit("/", 1)[1]
    page = open_page(client, token)
    client.post("/my/requests", data={"csrf_token": csrf(page), "kind": "erase", "confirm": "yes"})
    links.revoke(db, "c-1", actor="test")
    assert client.get("/my").status_code == 401
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert app.test_client().get(f"/my/{forged}").status_code == 401
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "customer page refused" in logged  # the reason is logged...
    for secret in (token, token.partition(".")[0], token.partition(".")[2], csrf(page)):
        assert secret not in logged  # ...never the token


def test_a_link_revoked_while_the_page_is_open_stops_at_once(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor)
    client = app.test_client()
    assert open_page(client, link_for(app, db)).status_code == 200
    links.revoke(db, "c-1", actor="test")
    assert client.get("/my").status_code == 401


def test_withdrawing_on_the_page_goes_through_the_write_path(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, note="Interested in chess sets.")
    grant(db, "c-1", "personalization", None)
    services.ingest_note(
        db, extractor, load_policy(), "c-1", "Interested in chess sets.", agent="a"
    )
    client = app.test_client()
    page = open_page(client, link_for(app, db))
    assert "Something you are interested in: chess set" in text(page)
    before = int(db.execute("SELECT max(id) FROM events").fetchone()[0])
    resp = client.post(
        "/my/consents",
        data={"csrf_token": csrf(page), "purpose": "personalization", "status": "withdrawn"},
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/my?done=consent#consents"
    ledger = services.consent_ledger(db, "c-1")
    last = ledger[-1]
    assert (last["purpose"], last["status"], last["source"], last["method"]) == (
        "personalization",
        "withdrawn",
        "customer",
        "self_service",
    )
    policy = load_policy()
    assert last["evidence"]["shown"] == "Suggestions that suit you: No, stop this"
    assert last["evidence"]["wording"] == policy.purposes["personalization"].wording
    assert last["evidence"]["page"] == "customer-page-1" and last["evidence"]["language"] == "en"
    types = [r["type"] for r in rows(db, "SELECT type FROM events WHERE id > ?", [before])]
    assert "consent.changed" in types and "profile.preference.removed" in types
    actor = row(db, "SELECT actor FROM audit_log WHERE action = 'consent.withdrawn'")
    assert actor is not None and re.fullmatch(r"customer-link:\d+", actor["actor"])
    after = client.get("/my?done=consent")
    assert "Your choice is saved." in text(after)
    assert "chess set" not in text(after)
    assert 'data-purpose="personalization" data-status="withdrawn"' in after.get_data(as_text=True)
    assert audit.verify(db).ok


def test_a_channel_is_withdrawn_alone(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, note="")
    grant(db, "c-1", "marketing", None)
    client = app.test_client()
    page = open_page(client, link_for(app, db))
    form = {"csrf_token": csrf(page), "purpose": "marketing", "status": "withdrawn"}
    assert client.post("/my/consents", data={**form, "channel": "sms"}).status_code == 303
    resp = client.get("/my")
    html = resp.get_data(as_text=True)
    assert 'data-purpose="marketing" data-status="partial"' in html
    assert "Offers and news Granted except text messages" in text(resp)
    assert 'data-channel="sms" data-status="withdrawn"' in html
    assert 'data-channel="email" data-status="granted"' in html


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"purpose": "data_sharing", "status": "granted"}, 403),  # no self-service grant
        ({"purpose": "special_category_care", "status": "granted"}, 403),
        ({"purpose": "service", "status": "granted"}, 403),  # objectable: nothing to grant
        ({"purpose": "marketing", "status": "granted"}, 400),  # per channel: name one
        ({"purpose": "marketing", "status": "granted", "channel": "pigeon"}, 400),
        ({"purpose": "personalization", "status": "granted", "channel": "sms"}, 400),
        ({"purpose": "nope", "status": "withdrawn"}, 400),
        ({"purpose": "marketing", "status": "denied"}, 400),
        ({"purpose": "all", "status": "withdrawn"}, 400),
    ],
)
def test_choices_the_page_does_not_offer_are_refused(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor, form: dict[str, str], status: int
) -> None:
    add_customer(db, extractor, note="")
    client = app.test_client()
    page = open_page(client, link_for(app, db))
    before = len(services.consent_ledger(db, "c-1"))
    resp = client.post("/my/consents", data={**form, "csrf_token": csrf(page)})
    assert resp.status_code == status
    assert len(services.consent_ledger(db, "c-1")) == before


def test_granting_where_the_policy_allows_it(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, note="")
    client = app.test_client()
    page = open_page(client, link_for(app, db))
    form = {"csrf_token": csrf(page), "status": "granted"}
    assert client.post("/my/consents", data={**form, "purpose": "analytics"}).status_code == 303
    resp = client.post("/my/consents", data={**form, "purpose": "marketing", "channel": "post"})
    assert resp.status_code == 303
    state = services.profile(db, load_policy(), "c-1")["consents"]
    assert state["analytics"]["status"] == "granted"
    assert state["marketing"]["channels"] == {"post": "granted"}
    post = services.consent_ledger(db, "c-1")[-1]
    assert post["evidence"]["shown"] == "Offers and news: Allow by post"
    assert post["evidence"]["wording_version"] == "marketing-1"


def test_a_form_without_its_csrf_token_changes_nothing(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, note="")
    grant(db, "c-1", "analytics", None)
    client = app.test_client()
    open_page(client, link_for(app, db))
    for token in ("", "0" * 64):
        resp = client.post(
            "/my/consents",
            data={"csrf_token": token, "purpose": "analytics", "status": "withdrawn"},
        )
        assert resp.status_code == 403
        resp = client.post("/my/requests", data={"csrf_token": token, "kind": "erase"})
        assert resp.status_code == 403
    assert [r["status"] for r in services.consent_ledger(db, "c-1")] == ["granted"]
    assert rows(db, "SELECT * FROM dsr") == []


def test_another_links_csrf_token_does_not_pass(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, "c-1", note="")
    add_customer(db, extractor, "c-2", note="")
    other = csrf(open_page(app.test_client(), link_for(app, db, "c-2")))
    client = app.test_client()
    open_page(client, link_for(app, db, "c-1"))
    resp = client.post("/my/requests", data={"csrf_token": other, "kind": "rectify"})
    assert resp.status_code == 403


def test_asking_for_a_correction_opens_a_request_with_the_text_redacted(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor)
    fact = row(db, "SELECT id FROM facts WHERE field = 'contact_channel' AND polarity = 'positive'")
    assert fact is not None
    client = app.test_client()
    page = open_page(client, link_for(app, db))
    details = f"I prefer text messages. My card is {CARD}"
    resp = client.post(
        "/my/requests",
        data={
            "csrf_token": csrf(page),
            "kind": "rectify",
            "fact_id": fact["id"],
            "details": details,
        },
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/my?done=request#requests"
    (request,) = rows(db, "SELECT * FROM dsr")
    assert (request["kind"], request["channel"], request["fact_id"]) == (
        "rectify",
        "customer_page",
        fact["id"],
    )
    assert CARD not in request["details"] and "[PAYMENT_CARD]" in request["details"]
    assert request["due_at"] > request["created_at"]
    event = row(db, "SELECT data FROM events WHERE type = 'dsr.created'")
    assert event is not None and CARD not in event["data"]
    entry = row(db, "SELECT details FROM audit_log WHERE action = 'dsr.created'")
    assert entry is not None and "PAYMENT_CARD" not in entry["details"]
    assert "details_digest" in json.loads(entry["details"])
    folder = Path(app.config["TRUSTLINE_DATABASE"]).parent
    for path in folder.iterdir():  # the database, its -wal and -shm: no copy of the card
        data = path.read_bytes()
        assert CARD.encode() not in data and CARD.replace(" ", "").encode() not in data, path
    shown = client.get("/my?done=request")
    assert "You asked us to correct this." in text(shown)
    assert "Correct something you hold about me" in text(shown)


def test_a_fact_of_another_customer_cannot_be_named(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, "c-1", note="")
    add_customer(db, extractor, "c-2")
    theirs = row(db, "SELECT id FROM facts WHERE customer_id = 'c-2'")
    assert theirs is not None
    client = app.test_client()
    page = open_page(client, link_for(app, db, "c-1"))
    for fact_id in (str(theirs["id"]), "x", "9" * 30):
        resp = client.post(
            "/my/requests",
            data={"csrf_token": csrf(page), "kind": "rectify", "fact_id": fact_id},
        )
        assert resp.status_code in (400, 404)
    assert rows(db, "SELECT * FROM dsr") == []


def test_a_general_correction_says_what_is_wrong(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, note="")
    client = app.test_client()
    form = {"csrf_token": csrf(open_page(client, link_for(app, db))), "kind": "rectify"}
    assert client.post("/my/requests", data={**form, "details": "  "}).status_code == 400
    assert rows(db, "SELECT * FROM dsr") == []
    wrong = {**form, "details": "My name is spelt Ada, not Adah."}
    assert client.post("/my/requests", data=wrong).status_code == 303
    (request,) = rows(db, "SELECT * FROM dsr")
    assert (request["kind"], request["fact_id"]) == ("rectify", None)
    assert request["details"] == "My name is spelt Ada, not Adah."


def test_erasure_is_asked_for_with_a_tick(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor)
    client = app.test_client()
    token = csrf(open_page(client, link_for(app, db)))
    assert (
        client.post("/my/requests", data={"csrf_token": token, "kind": "erase"}).status_code == 400
    )
    assert rows(db, "SELECT * FROM dsr") == []
    form = {"csrf_token": token, "kind": "erase", "confirm": "yes"}
    assert client.post("/my/requests", data=form).status_code == 303
    assert client.post("/my/requests", data=form).status_code == 303  # pressed twice
    assert [r["kind"] for r in rows(db, "SELECT kind FROM dsr")] == ["erase"]
    assert services.get_customer(db, "c-1")  # a request: the team carries it out


def test_leaving_forgets_the_link_on_this_device_only(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor, note="")
    token = link_for(app, db)
    client = app.test_client()
    page = open_page(client, token)
    left = client.post("/my/leave", data={"csrf_token": csrf(page)})
    assert left.status_code == 200 and "You have left your page" in text(left)
    assert f"{COOKIE}=;" in left.headers["Set-Cookie"]
    assert client.get("/my").status_code == 401
    assert open_page(client, token).status_code == 200  # the link itself still works


def test_the_export_downloads(app: Flask, db: sqlite_utils.Database, extractor: Extractor) -> None:
    add_customer(db, extractor)
    client = app.test_client()
    open_page(client, link_for(app, db))
    resp = client.get("/my/export")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="my-data.json"'
    doc = resp.get_json()
    assert doc["format"] == "trustline-export/1" and doc["customer"]["id"] == "c-1"
    assert CARD not in resp.get_data(as_text=True)


def test_markup_from_a_note_renders_inert(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(
        db, extractor, note='<script>alert(1)</script><img src=x onerror="x()"> prefers sms'
    )
    page = open_page(app.test_client(), link_for(app, db)).get_data(as_text=True)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page


def test_the_page_is_rate_limited(make_app: Callable[..., Flask], extractor: Extractor) -> None:
    app = make_app(
        TRUSTLINE_SECRET_KEY="customer-page-tests-" + "s" * 32,
        TRUSTLINE_RATE_LIMIT_PER_MINUTE=1,
        TRUSTLINE_RATE_LIMIT_BURST=2,
    )
    db = connect(app.config["TRUSTLINE_DATABASE"])
    try:
        add_customer(db, extractor, note="")
        client = app.test_client()
        token = link_for(app, db)
        assert client.get(f"/my/{token}").status_code == 303
        assert client.get("/my").status_code == 200
        limited = client.get("/my")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        # forged tokens share one bucket per address, apart from the link's
        forged = app.test_client()
        assert forged.get("/my/" + "A" * 24 + "." + "B" * 24).status_code == 401
        assert forged.get("/my/" + "C" * 24 + "." + "D" * 24).status_code == 401
        assert forged.get("/my/" + "E" * 24 + "." + "F" * 24).status_code == 429
    finally:
        db.conn.close()


# -- the API and the command that make links --------------------------------------------------


def test_the_api_returns_a_link_that_opens_the_page(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor, api_headers: dict[str, str]
) -> None:
    add_customer(db, extractor, note="")
    client = app.test_client()
    resp = client.post("/api/v1/customers/c-1/links", json={"ttl": "2h"}, headers=api_headers)
    assert resp.status_code == 201
    body = resp.get_json()
    assert set(body) == {"url", "link_id", "expires_at"}
    assert body["url"].startswith("http://localhost/my/")
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=1, minutes=59) < expires - services.utcnow() <= timedelta(hours=2)
    assert resp.headers["Cache-Control"] == "no-store"
    assert open_page(client, body["url"].rsplit("/", 1)[1]).status_code == 200
    default = client.post("/api/v1/customers/c-1/links", headers=api_headers).get_json()
    lifetime = datetime.fromisoformat(default["expires_at"]) - services.utcnow()
    assert timedelta(days=6, hours=23) < lifetime <= timedelta(days=7)


def test_the_api_revokes_every_link_of_the_customer(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor, api_headers: dict[str, str]
) -> None:
    add_customer(db, extractor, note="")
    client = app.test_client()
    made = client.post("/api/v1/customers/c-1/links", headers=api_headers).get_json()
    assert open_page(client, made["url"].rsplit("/", 1)[1]).status_code == 200
    resp = client.delete("/api/v1/customers/c-1/links", headers=api_headers)
    assert resp.status_code == 200 and resp.get_json() == {"revoked": 1}
    assert client.get("/my").status_code == 401
    reader = {"Authorization": f"Bearer {create_key(db, 'reader', ['read'])}"}
    assert client.delete("/api/v1/customers/c-1/links", headers=reader).status_code == 403


def test_the_api_uses_the_configured_base_url(
    make_app: Callable[..., Flask], extractor: Extractor, api_headers: dict[str, str]
) -> None:
    app = make_app(TRUSTLINE_CUSTOMER_PAGE_URL="https://privacy.example.com/")
    db = connect(app.config["TRUSTLINE_DATABASE"])
    try:
        add_customer(db, extractor, note="")
    finally:
        db.conn.close()
    resp = app.test_client().post("/api/v1/customers/c-1/links", headers=api_headers)
    assert resp.get_json()["url"].startswith("https://privacy.example.com/my/")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"ttl": "31d"}, 400, "invalid_ttl"),
        ({"ttl": "soon"}, 400, "invalid_ttl"),
        ({"ttl": 7}, 400, "invalid_request"),
    ],
)
def test_the_api_refuses_bad_lifetimes(
    app: Flask,
    db: sqlite_utils.Database,
    extractor: Extractor,
    api_headers: dict[str, str],
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    add_customer(db, extractor, note="")
    resp = app.test_client().post("/api/v1/customers/c-1/links", json=body, headers=api_headers)
    assert resp.status_code == status and resp.get_json()["error"] == code


@pytest.mark.parametrize(
    "settings",
    [
        {"TRUSTLINE_CUSTOMER_LINK_TTL": "a week"},
        {"TRUSTLINE_CUSTOMER_LINK_MAX_TTL": "1d"},  # shorter than the default life
    ],
)
def test_unusable_lifetime_settings_stop_start_up(
    make_app: Callable[..., Flask], settings: dict[str, str]
) -> None:
    from assistant.customer_page import CustomerPageConfigError

    with pytest.raises(CustomerPageConfigError, match="TL301"):
        make_app(**settings)


def test_the_api_needs_the_consent_scope(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor, api_headers: dict[str, str]
) -> None:
    add_customer(db, extractor, note="")
    client = app.test_client()
    url = "/api/v1/customers/c-1/links"
    assert client.post(url).status_code == 401
    for scope, status in (("read", 403), ("write", 403), ("consent", 201), ("admin", 201)):
        headers = {"Authorization": f"Bearer {create_key(db, scope, [scope])}"}
        assert client.post(url, headers=headers).status_code == status, scope
    assert client.post("/api/v1/customers/nobody/links", headers=api_headers).status_code == 404


def test_the_command_prints_a_working_link_and_revokes(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from assistant.cli import main

    add_customer(db, extractor, note="")
    monkeypatch.setenv("TRUSTLINE_DATABASE", app.config["TRUSTLINE_DATABASE"])
    monkeypatch.setenv("TRUSTLINE_SECRET_KEY", app.config["TRUSTLINE_SECRET_KEY"])
    monkeypatch.setenv("TRUSTLINE_PORT", "5123")
    runner = CliRunner()
    made = runner.invoke(main, ["customer", "link", "c-1", "--ttl", "1h"])
    assert made.exit_code == 0, made.output
    url = made.stdout.strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:5123/my/[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{24}", url)
    assert "valid until" in made.stderr
    client = app.test_client()
    assert open_page(client, url.rsplit("/", 1)[1]).status_code == 200
    too_long = runner.invoke(main, ["customer", "link", "c-1", "--ttl", "400d"])
    assert too_long.exit_code == 2 and "--ttl" in too_long.output
    unknown = runner.invoke(main, ["customer", "link", "nobody"])
    assert unknown.exit_code == 1 and "not found" in unknown.output
    revoked = runner.invoke(main, ["customer", "link", "c-1", "--revoke"])
    assert revoked.exit_code == 0 and "revoked 1 link" in revoked.stdout
    assert client.get("/my").status_code == 401


# -- strings, contrast ------------------------------------------------------------------------


class Marked(gettext.NullTranslations):
    """A 'translation' that brackets every message: shows what went through gettext."""

    def gettext(self, message: str) -> str:
        return "⟦" + message + "⟧"

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return "⟦" + (singular if n == 1 else plural) + "⟧"


def test_the_pages_words_go_through_gettext(
    app: Flask, db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add_customer(db, extractor)
    grant(db, "c-1", "marketing", "email")

    @app.before_request
    def translate() -> None:
        g.customer_page_translations = Marked()

    client = app.test_client()
    words = text(open_page(client, link_for(app, db)))
    for message in (
        "Your information",
        "Your choices",
        "What we know about you",
        "Used for: ",
        "What you get:",
        "Your requests",
        "Download my data",
        "Ask for erasure",
        "Stop by ⟦e-mail⟧⟧",
        "You prefer to be contacted by ⟦e-mail⟧⟧",
        "e-mail",
        "Not asked",
    ):
        assert "⟦" + message in words, message
    # A purpose's summary is the domain's state, the same in every view (issue 15, one
    # consent truth), said in the page's language: its phrases and channel names are
    # message ids too.
    assert "⟦Granted for %(channels)s only⟧" not in words
    assert "⟦Granted for ⟦e-mail⟧ only⟧" in words
    refused = text(app.test_client().get("/my"))
    assert "⟦This link does not work⟧" in refused


def test_the_language_follows_the_browser_among_the_catalogs(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "fr-CA, fr;q=0.9, en;q=0.5"}):
        assert i18n.language() == "en"  # no French catalog yet: English
    assert i18n.languages()[0] == "en"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


TEXT_PAIRS = [
    ("fg", "bg"),
    ("fg", "surface"),
    ("muted", "bg"),
    ("muted", "surface"),
    ("accent", "bg"),
    ("accent", "surface"),
    ("accent-fg", "accent"),
    ("ok-fg", "ok-bg"),
    ("no-fg", "no-bg"),
    ("idle-fg", "idle-bg"),
    ("mark-fg", "mark-bg"),
    ("danger-fg", "danger"),
]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_colour_pairs_meet_wcag_aa(theme: str) -> None:
    css = (ROOT / "static" / "customer" / "customer.css").read_text(encoding="utf-8")
    light, _, rest = css.partition("@media (prefers-color-scheme: dark)")
    block = light if theme == "light" else rest.split("}\n}", 1)[0]
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6});", block))
    for fg, bg in TEXT_PAIRS:
        ratio = _contrast(colours[fg], colours[bg])
        assert ratio >= 4.5, f"{theme}: --{fg} on --{bg} is {ratio:.2f}:1"


def test_the_dsr_migration_keeps_earlier_requests(tmp_path: Path) -> None:
    from assistant.store.sqlite.migrations import migrations

    db = connect(tmp_path / "old.db")
    try:
        migrations.apply(db, stop_before="m008_dsr_rectify")
        with db.conn:
            db.execute(
                "INSERT INTO customers (id, created_at, updated_at) VALUES ('c-1', 'x', 'x')"
            )
            db.execute(
                "INSERT INTO dsr (customer_id, kind, created_at, due_at) "
                "VALUES ('c-1', 'erase', '2026-01-01', '2026-01-31')"
            )
        migrations.apply(db)
        (kept,) = rows(db, "SELECT * FROM dsr")
        assert (kept["kind"], kept["status"], kept["channel"], kept["due_at"]) == (
            "erase",
            "open",
            "note",
            "2026-01-31",
        )
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.conn.close()
