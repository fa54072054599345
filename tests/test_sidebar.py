"""The agent sidebar through Flask's test client: launch, session, CSRF, every partial,
roles, the composer's preview and save, consent capture, corrections and the event
stream (issue 4). The browser half is tests/test_sidebar_browser.py."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient

from assistant import services
from assistant.auth import create_key
from assistant.consent import ConsentRecord, ConsentState
from assistant.policy import load_policy
from assistant.sidebar import composer, launch
from assistant.sidebar.config import (
    SidebarConfigError,
    load_or_create_secret_key,
    parse_frame_ancestors,
    parse_host_origins,
    parse_launch_secrets,
)
from assistant.sidebar.demo import CUSTOMERS, seed
from assistant.sidebar.panels import profile_panel
from assistant.sidebar.session import Agent
from assistant.sidebar.stream import SLOTS, SentFacts, _panel, stream_limit
from assistant.store.sqlite.db import connect, row, rows
from nlp import Evidence, ExtractionResult, Extractor, Fact

HOST_SECRET = "helpdesk-secret-for-tests-only-" + "0123456789abcdef" * 3  # 64+: HS512 too
CRM_SECRET = "crm-secret-for-tests-only-9876543210abcdef"
AUDIENCE = "trustline-sidebar"
HOST_ORIGIN = "https://helpdesk.example"
CARD = "4111 1111 1111 1111"
# sms: stored (service); chess sets: needs consent (personalization); card: masked;
# health: blocked (special category, never stored by the shipped policy).
MIXED = f"Prefers sms. Interested in chess sets. Card {CARD}. She is diabetic."
ROOT = Path(__file__).parents[1]


# -- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(
        TRUSTLINE_SECRET_KEY="session-key-for-tests-only-" + "k" * 20,
        TRUSTLINE_LAUNCH_SECRETS=f"helpdesk={HOST_SECRET},crm={CRM_SECRET}",
        TRUSTLINE_HOST_ORIGINS=HOST_ORIGIN,
        TRUSTLINE_FRAME_ANCESTORS=f"'self' {HOST_ORIGIN}",
        TRUSTLINE_SSE_MAX_SECONDS=0.6,
        TRUSTLINE_SSE_POLL_MS=20,
        TRUSTLINE_SSE_HEARTBEAT_SECONDS=0.3,
    )


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    handle = connect(app.config["TRUSTLINE_DATABASE"])
    yield handle
    handle.conn.close()


@pytest.fixture
def customer(app: Flask, db: Any, extractor: Extractor) -> str:
    """Ada: known to the helpdesk as 4711, personalization granted, two notes."""
    policy = load_policy()
    services.upsert_customer(
        db,
        "c-1",
        actor="test",
        name="Ada Lovelace",
        identities=[services.Identity("helpdesk", "4711"), services.Identity("crm", "A-1")],
    )
    services.record_consent(
        db,
        policy,
        "c-1",
        purpose="personalization",
        status="granted",
        actor="test",
        source="agent",
        method="verbal",
        evidence={"agent": "test"},
    )
    services.record_consent(
        db,
        policy,
        "c-1",
        purpose="analytics",
        status="withdrawn",
        actor="test",
        source="agent",
        method="verbal",
        evidence={"agent": "test"},
    )
    for text in (
        "Prefers email. Interested in hiking boots, size 6.",
        "Parcel arrived late, very unhappy.",
        "Charged twice for her order, billing issue.",
    ):
        services.ingest_note(db, extractor, policy, "c-1", text, agent="agent-7")
    return "c-1"


def token(**overrides: Any) -> str:
    claims: dict[str, Any] = {
        "issuer": "helpdesk",
        "audience": AUDIENCE,
        "agent_id": "agent-7",
        "name": "Grace Agent",
        "role": "agent",
        "customer": "4711",
    }
    secret = overrides.pop("secret", HOST_SECRET)
    claims.update(overrides)
    return launch.sign(secret, **claims)


def sign_in(client: FlaskClient, **claims: Any) -> str:
    """Launch the sidebar; returns the session's CSRF token (as the page carries it)."""
    resp = client.get("/sidebar/launch?token=" + token(**claims))
    assert resp.status_code == 303, resp.get_data(as_text=True)
    page = client.get("/sidebar")
    assert page.status_code == 200
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', page.get_data(as_text=True))
    assert found
    return found.group(1)


def hx(csrf: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"HX-Request": "true", **extra}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return headers


def html(resp: Any) -> str:
    text: str = resp.get_data(as_text=True)
    return text


def count(db: Any, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def chip_keys(fragment: str) -> dict[str, str]:
    """{chip label: fingerprint} from a preview fragment."""
    found = re.findall(
        r'name="keep" value="([0-9a-f]+)".*?<span class="chip-label">([^<]+)</span>', fragment, re.S
    )
    return {label: key for key, label in found}


def withdraw(db: Any, purpose: str, customer_id: str = "c-1") -> None:
    services.record_consent(
        db,
        load_policy(),
        customer_id,
        purpose=purpose,
        status="withdrawn",
        actor="test",
        source="agent",
        method="verbal",
        evidence={"agent": "test"},
    )


def fact_ids(db: Any, customer_id: str = "c-1") -> dict[str, int]:
    found = rows(
        db,
        "SELECT id, kind, field, value, category FROM facts WHERE customer_id = ? "
        "AND removed_at IS NULL AND superseded_by IS NULL",
        [customer_id],
    )
    return {f"{f['kind']}:{f['field'] or f['category']}:{f['value']}": f["id"] for f in found}


# -- launch and session ------------------------------------------------------------------


def test_launch_sets_a_third_party_iframe_session_and_redirects(client: FlaskClient) -> None:
    resp = client.get("/sidebar/launch?token=" + token())
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/sidebar"
    cookie = resp.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned"):
        assert attribute in cookie
    assert resp.headers["Referrer-Policy"] == "no-referrer"  # the URL carries the token


@pytest.mark.parametrize(
    ("why", "claims"),
    [
        ("expired", {"now": time.time() - 600}),
        ("wrong audience", {"audience": "someone-else"}),
        ("unknown issuer", {"issuer": "intruder"}),
        ("signed with another host's secret", {"secret": CRM_SECRET}),
        ("lives too long", {"lifetime": 3600}),
        ("unknown role", {"role": "admin"}),
    ],
)
def test_bad_launch_tokens_are_refused(
    client: FlaskClient, why: str, claims: dict[str, Any]
) -> None:
    resp = client.get("/sidebar/launch?token=" + token(**claims))
    assert resp.status_code == 401, why
    assert "cannot be used" in html(resp)
    assert "Set-Cookie" not in resp.headers
    assert client.get("/sidebar").status_code == 401


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-a-jwt",
        jwt.encode({"iss": "helpdesk", "sub": "x"}, key=None, algorithm="none"),
        jwt.encode(
            {"iss": "helpdesk", "aud": AUDIENCE, "sub": "a", "role": "agent", "iat": 0, "exp": 9e9},
            HOST_SECRET,
            algorithm="HS512",
        ),
    ],
    ids=["missing", "garbage", "alg-none", "other-algorithm"],
)
def test_malformed_launch_tokens_are_refused(client: FlaskClient, bad: str) -> None:
    assert client.get("/sidebar/launch?token=" + bad).status_code == 401


def test_without_a_session_the_sidebar_answers_401(client: FlaskClient, customer: str) -> None:
    assert client.get("/sidebar").status_code == 401
    resp = client.get("/sidebar", headers=hx())
    assert resp.status_code == 401
    assert resp.headers["HX-Retarget"] == "#flash"  # htmx shows the message in place
    post = client.post(f"/sidebar/customers/{customer}/notes", data={"text": "Prefers sms."})
    assert post.status_code == 401


POSTS = [
    ("/sidebar/customers/c-1/preview", {"text": "Prefers sms."}),
    ("/sidebar/customers/c-1/notes", {"text": "Prefers sms."}),
    ("/sidebar/customers/c-1/consents", {"purpose": "marketing", "status": "granted"}),
    ("/sidebar/customers/c-1/proposals/1/confirm", {}),
    ("/sidebar/customers/c-1/facts/1/remove", {"reason": "wrong"}),
    ("/sidebar/customers/c-1/facts/1/correct", {"value": "phone"}),
    ("/sidebar/customers/c-1/facts/3/status", {"status": "resolved"}),
    ("/sidebar/customers", {"external_id": "99", "name": "New"}),
]


@pytest.mark.parametrize(("path", "form"), POSTS, ids=[p for p, _ in POSTS])
@pytest.mark.parametrize("sent", [None, "forged-token"], ids=["missing", "wrong"])
def test_state_changing_requests_need_the_csrf_token(
    client: FlaskClient, db: Any, customer: str, path: str, form: dict[str, str], sent: str | None
) -> None:
    sign_in(client, role="supervisor")
    before = count(db, "events"), count(db, "audit_log")
    data = dict(form) if sent is None else {**form, "csrf_token": sent}
    resp = client.post(path, data=data, headers=hx())
    assert resp.status_code == 403
    assert "CSRF" in html(resp)
    assert (count(db, "events"), count(db, "audit_log")) == before


def test_csrf_token_is_accepted_as_header_or_form_field(client: FlaskClient, customer: str) -> None:
    csrf = sign_in(client)
    path = f"/sidebar/customers/{customer}/preview"
    assert client.post(path, data={"text": "Prefers sms."}, headers=hx(csrf)).status_code == 200
    form = {"text": "Prefers sms.", "csrf_token": csrf}
    assert client.post(path, data=form, headers=hx()).status_code == 200


def test_a_new_launch_gets_a_new_csrf_token(client: FlaskClient, customer: str) -> None:
    first = sign_in(client)
    second = sign_in(client)
    assert first != second
    resp = client.post(f"/sidebar/customers/{customer}/preview", data={}, headers=hx(first))
    assert resp.status_code == 403


# -- security headers --------------------------------------------------------------------


def test_sidebar_pages_carry_a_strict_csp_with_the_configured_frame_ancestors(
    client: FlaskClient, customer: str
) -> None:
    csrf = sign_in(client)
    for resp in (
        client.get("/sidebar"),
        client.get("/sidebar", headers=hx()),
        client.post(f"/sidebar/customers/{customer}/preview", data={}, headers=hx(csrf)),
        client.get("/sidebar/launch?token=bad"),
    ):
        csp = resp.headers["Content-Security-Policy"]
        assert f"frame-ancestors 'self' {HOST_ORIGIN}" in csp
        assert "script-src 'self';" in csp and "style-src 'self';" in csp
        assert "default-src 'self'" in csp and "unsafe" not in csp
        assert "X-Frame-Options" not in resp.headers


def test_pages_have_no_inline_script_style_or_handlers(client: FlaskClient, customer: str) -> None:
    csrf = sign_in(client, role="supervisor")
    page = html(client.get("/sidebar"))
    preview = html(
        client.post(
            f"/sidebar/customers/{customer}/preview", data={"text": MIXED}, headers=hx(csrf)
        )
    )
    for text in (page, preview):
        assert not re.search(r"<script(?![^>]*\ssrc=)", text)  # every script is a file
        assert not re.search(r"\sstyle=", text)
        assert not re.search(r"\son[a-z]+=", text)
        assert "hx-on" not in text and "js:" not in text
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', page)
    assert config and json.loads(config.group(1))["allowEval"] is False


@pytest.mark.parametrize(
    "bad",
    ["'self'; script-src *", "https://a.example,'unsafe-inline' x;y"],
)
def test_frame_ancestors_setting_cannot_inject_directives(bad: str) -> None:
    with pytest.raises(SidebarConfigError, match="TL202"):
        parse_frame_ancestors(bad)


def test_frame_ancestors_accepts_sources() -> None:
    value = "'self' https://app.chatwoot.com https://*.example.com http://localhost:*"
    assert parse_frame_ancestors(value) == value
    assert parse_frame_ancestors("") == "'none'"


# -- the page and its partials ----------------------------------------------------------


def test_page_shows_the_customer_at_a_glance(client: FlaskClient, customer: str) -> None:
    sign_in(client)
    page = html(client.get("/sidebar"))
    assert "Ada Lovelace" in page
    # Raw identities only on demand (issue 15): inside a closed <details>.
    ids = page[page.index('<details class="identities">') :]
    ids = ids[: ids.index("</details>")]
    assert "helpdesk</span> <code>4711</code>" in ids and "crm</span> <code>A-1</code>" in ids
    consent = page[page.index('data-purpose="personalization"') :]
    assert "Granted" in consent[: consent.index("</li>")]
    analytics = page[page.index('data-purpose="analytics"') :]
    assert "Withdrawn" in analytics[: analytics.index("</li>")]
    marketing = page[page.index('data-purpose="marketing"') :]
    assert "Never asked" in marketing[: marketing.index("</li>")]
    # open complaints come before preferences
    assert page.index("Complaint: delivery") < page.index("Preferences")
    assert page.index("Complaint: billing") < page.index("Contact: e-mail")
    assert "Size: 6 (boots)" in page


def test_why_popover_shows_evidence_agent_date_and_lawful_basis(
    client: FlaskClient, customer: str
) -> None:
    sign_in(client)
    page = html(client.get("/sidebar"))
    why = page[page.index('popovertarget="why-1"') :]
    popover = why[why.index('id="why-1"') : why.index("</dl>")]
    assert "Prefers email." in popover
    # Issue 15: the agent's name (from their sidebar session), not their id.
    assert "Grace Agent" in popover and "agent-7" not in popover
    assert datetime.now(UTC).strftime("%Y") in popover
    assert "legitimate interest, Art. 6(1)(f)" in popover


def test_one_url_serves_the_page_or_its_fragments(client: FlaskClient, customer: str) -> None:
    sign_in(client)
    full = html(client.get("/sidebar?customer=c-1"))
    assert full.startswith("<!doctype html>") and 'id="composer"' in full
    main = client.get("/sidebar?customer=c-1", headers=hx(**{"HX-Target": "main"}))
    assert "<html" not in html(main) and html(main).lstrip().startswith('<main id="main"')
    assert main.headers["HX-Replace-Url"] == "/sidebar?customer=c-1"
    profile = html(client.get("/sidebar?customer=c-1", headers=hx(**{"HX-Target": "profile"})))
    assert "Complaint: delivery" in profile and "data-version" in profile
    assert 'id="composer"' not in profile and "<main" not in profile
    # The composer comes first, right under the customer's name (issue 15).
    assert full.index("Ada Lovelace") < full.index('id="composer"') < full.index('id="profile"')


def test_the_host_hint_selects_a_customer_through_the_identity_mapping(
    client: FlaskClient, customer: str
) -> None:
    sign_in(client, customer=None)
    assert "No customer selected" in html(client.get("/sidebar"))
    found = html(client.get("/sidebar?external_id=4711", headers=hx()))
    assert "Ada Lovelace" in found
    # A-1 is Ada's id in the CRM, not in this host: the hint only selects within the
    # launch's identity source.
    other = html(client.get("/sidebar?external_id=A-1", headers=hx()))
    assert "Unknown customer" in other and "Ada Lovelace" not in other


def test_the_launch_source_claim_picks_the_identity_namespace(
    client: FlaskClient, customer: str
) -> None:
    sign_in(client, source="crm", customer="A-1")
    assert "Ada Lovelace" in html(client.get("/sidebar"))


def test_unknown_customer_can_be_created_only_by_allowed_roles(
    client: FlaskClient, db: Any, customer: str
) -> None:
    csrf = sign_in(client, role="agent", customer="9000")
    page = html(client.get("/sidebar"))
    assert "Unknown customer" in page and "9000" in page
    assert "Create customer" not in page and "Ask a supervisor" in page
    form = {"external_id": "9000", "name": "New Person"}
    assert client.post("/sidebar/customers", data=form, headers=hx(csrf)).status_code == 403

    csrf = sign_in(client, role="supervisor", customer="9000")
    assert "Create customer" in html(client.get("/sidebar"))
    created = client.post("/sidebar/customers", data=form, headers=hx(csrf))
    assert created.status_code == 200
    assert "New Person" in html(created) and 'id="composer"' in html(created)
    new_id = services.resolve_identity(db, "helpdesk", "9000")
    assert new_id and created.headers["HX-Replace-Url"] == f"/sidebar?customer={new_id}"
    assert "New Person" in html(client.get("/sidebar"))  # the launch hint resolves now


def test_a_customer_that_does_not_exist_is_404(client: FlaskClient, customer: str) -> None:
    sign_in(client)
    assert client.get("/sidebar?customer=nobody").status_code == 404
    resp = client.post("/sidebar/customers/nobody/preview", data={}, headers=hx(sign_in(client)))
    assert resp.status_code == 404


def test_requests_and_due_dates_are_shown_to_supervisors_only(
    client: FlaskClient, db: Any, extractor: Extractor, customer: str
) -> None:
    stored = services.ingest_note(
        db, extractor, load_policy(), customer, "She asked us to delete all her data.", agent="a"
    )
    due = datetime.fromisoformat(stored["requests"][0]["due_at"]).strftime("%-d %b %Y")
    sign_in(client, role="supervisor")
    page = html(client.get("/sidebar"))
    assert "Data-subject requests" in page and "Erasure (Art. 17)" in page
    assert f"due {due}" in page
    sign_in(client, role="agent")
    page = html(client.get("/sidebar"))
    assert "Data-subject requests" not in page and "Erasure" not in page and due not in page


# -- the composer ------------------------------------------------------------------------


def test_preview_shows_what_saving_would_do_and_writes_nothing(
    client: FlaskClient, db: Any, customer: str
) -> None:
    csrf = sign_in(client)
    withdraw(db, "personalization")
    before = {t: count(db, t) for t in ("notes", "facts", "decisions", "events", "audit_log")}
    resp = client.post(
        f"/sidebar/customers/{customer}/preview", data={"text": MIXED}, headers=hx(csrf)
    )
    fragment = html(resp)
    assert resp.status_code == 200 and "<html" not in fragment
    found = re.findall(r'data-outcome="(\w+)">.*?chip-label">([^<]+)<', fragment, re.S)
    assert {label: outcome for outcome, label in found} == {
        "Contact: text messages": "stored",
        "Interest: chess sets": "needs_consent",
        "Card number": "masked",
        "Health": "blocked",
    }
    assert "needs consent · personalization" in fragment
    assert "blocked · special category" in fragment
    assert "Prefers sms. Interested in chess sets. Card [PAYMENT_CARD]. She is [HEALTH]." in (
        fragment
    )
    assert CARD not in fragment and "diabetic" not in fragment
    after = {t: count(db, t) for t in before}
    assert after == before


def test_needs_consent_chip_shows_the_versioned_script(
    client: FlaskClient, db: Any, customer: str
) -> None:
    csrf = sign_in(client)
    withdraw(db, "personalization")
    fragment = html(
        client.post(
            f"/sidebar/customers/{customer}/preview",
            data={"text": "Interested in chess sets, pays by paypal."},
            headers=hx(csrf),
        )
    )
    assert fragment.count("needs consent · personalization") == 2
    wording, version = load_policy().wording("personalization")
    assert fragment.count(wording) == 1  # one script per purpose, not per chip
    assert f"Script version {version}" in fragment
    assert "Customer agrees: record consent" in fragment


def test_preview_keeps_the_agents_unticks(client: FlaskClient, customer: str) -> None:
    csrf = sign_in(client)
    path = f"/sidebar/customers/{customer}/preview"
    first = html(client.post(path, data={"text": MIXED}, headers=hx(csrf)))
    keys = chip_keys(first)
    form = {"text": MIXED, "shown": list(keys.values()), "keep": [keys["Interest: chess sets"]]}
    again = html(client.post(path, data=form, headers=hx(csrf)))
    sms = again[again.index(f'id="keep-{keys["Contact: text messages"]}"') :]
    assert not sms[: sms.index(">")].count("checked")
    assert "unticked, not saved" in again
    card = again[again.index(f'id="keep-{keys["Card number"]}"') :]
    assert "checked disabled" in card[: card.index(">")]  # sensitive: never unticked


def test_save_stores_only_the_ticked_facts_and_always_masks(
    client: FlaskClient, db: Any, customer: str
) -> None:
    csrf = sign_in(client)
    text = f"Prefers sms. Parcel arrived late, very unhappy. Card {CARD}."
    keys = chip_keys(
        html(
            client.post(
                f"/sidebar/customers/{customer}/preview", data={"text": text}, headers=hx(csrf)
            )
        )
    )
    shown = list(keys.values())
    keep = [keys["Complaint: delivery (medium)"]]  # untick sms; try to untick the card too
    resp = client.post(
        f"/sidebar/customers/{customer}/notes",
        data={"text": text, "shown": shown, "keep": keep},
        headers=hx(csrf),
    )
    assert resp.status_code == 200
    saved = html(resp)
    assert "Saved: 1 stored · 1 masked" in saved and "1 unticked" in saved
    assert 'hx-swap-oob="innerHTML"' in saved  # the profile refreshes at once
    note = rows(db, "SELECT * FROM notes ORDER BY id DESC LIMIT 1")[0]
    assert (
        note["redacted_text"]
        == "Prefers sms. Parcel arrived late, very unhappy. Card [PAYMENT_CARD]."
    )
    assert note["source"] == "sidebar" and note["agent"] == "agent-7"
    facts = rows(db, "SELECT kind, field, value FROM facts WHERE note_id = ?", [note["id"]])
    assert [(f["kind"], f["value"]) for f in facts] == [("complaint", None)]
    audit = rows(db, "SELECT * FROM audit_log WHERE action = 'note.facts_unticked'")
    assert json.loads(audit[0]["details"])["unticked"] == ["preference:contact_channel"]
    assert CARD not in json.dumps(rows(db, "SELECT * FROM audit_log"))


def test_saving_goes_through_the_write_path(client: FlaskClient, db: Any, customer: str) -> None:
    csrf = sign_in(client)
    resp = client.post(
        f"/sidebar/customers/{customer}/notes",
        data={"text": "Now prefers phone calls."},
        headers=hx(csrf),
    )
    assert resp.status_code == 200
    decisions = rows(db, "SELECT * FROM decisions ORDER BY id DESC LIMIT 1")
    assert decisions[0]["outcome"] == "stored" and decisions[0]["reason"] == "legitimate_interest"
    events = [e["type"] for e in rows(db, "SELECT type FROM events ORDER BY id")]
    assert events[-2:] == ["profile.preference.removed", "profile.preference.added"]  # superseded
    assert "Contact: phone calls" in html(resp) and "Contact: e-mail" not in html(resp)


def test_an_empty_note_is_refused(client: FlaskClient, customer: str) -> None:
    csrf = sign_in(client)
    resp = client.post(
        f"/sidebar/customers/{customer}/notes", data={"text": "  "}, headers=hx(csrf)
    )
    assert resp.status_code == 400 and resp.headers["HX-Retarget"] == "#flash"


def test_too_long_notes_are_explained_not_processed(client: FlaskClient, customer: str) -> None:
    csrf = sign_in(client)
    limit = client.application.config["TRUSTLINE_MAX_TEXT_CHARS"]
    long = "Prefers sms. " * (limit // 10)
    preview = client.post(
        f"/sidebar/customers/{customer}/preview", data={"text": long}, headers=hx(csrf)
    )
    assert preview.status_code == 200 and "TL003" in html(preview)
    save = client.post(
        f"/sidebar/customers/{customer}/notes", data={"text": long}, headers=hx(csrf)
    )
    assert save.status_code == 400 and save.headers["HX-Retarget"] == "#flash"
    huge = client.post(
        f"/sidebar/customers/{customer}/notes", data={"text": "x" * 2_100_000}, headers=hx(csrf)
    )
    assert huge.status_code == 413 and huge.headers["HX-Retarget"] == "#flash"


def test_a_note_over_the_request_bound_is_refused_and_not_stored(
    client: FlaskClient, db: Any, customer: str
) -> None:
    # issue 12, item 6: the sidebar's notes and previews queue extraction too
    client.application.config["TRUSTLINE_MAX_REQUEST_CHARS"] = 20
    csrf = sign_in(client)
    notes = rows(db, "SELECT COUNT(*) AS n FROM notes")[0]["n"]
    for action in ("preview", "notes"):
        resp = client.post(
            f"/sidebar/customers/{customer}/{action}",
            data={"text": "Now prefers phone calls."},
            headers=hx(csrf),
        )
        assert resp.status_code == 413 and resp.headers["HX-Retarget"] == "#flash"
        # issue 15: said to the agent, not to the operator
        assert "too long to save" in html(resp) and "Shorten it or split it" in html(resp)
        assert "TRUSTLINE_MAX_REQUEST_CHARS" not in html(resp)
    assert rows(db, "SELECT COUNT(*) AS n FROM notes")[0]["n"] == notes


def test_markup_in_notes_renders_inert(client: FlaskClient, customer: str) -> None:
    csrf = sign_in(client)
    text = 'Prefers sms. <script>alert(1)</script> <img src=x onerror="alert(2)"> likes chess sets'
    preview = html(
        client.post(f"/sidebar/customers/{customer}/preview", data={"text": text}, headers=hx(csrf))
    )
    client.post(f"/sidebar/customers/{customer}/notes", data={"text": text}, headers=hx(csrf))
    page = html(client.get("/sidebar"))
    for out in (preview, page):
        assert "<img src=x" not in out and "<script>alert" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview
    assert "&gt; likes chess sets" in page  # the interest's evidence, escaped


def test_no_js_forms_post_then_redirect(client: FlaskClient, db: Any, customer: str) -> None:
    csrf = sign_in(client)
    withdraw(db, "personalization")
    resp = client.post(
        f"/sidebar/customers/{customer}/notes", data={"text": "Prefers sms.", "csrf_token": csrf}
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/sidebar?customer=c-1"
    check = client.post(
        f"/sidebar/customers/{customer}/preview", data={"text": MIXED, "csrf_token": csrf}
    )
    assert check.status_code == 200 and "<!doctype html>" in html(check)
    assert "needs consent · personalization" in html(check) and MIXED in html(check)


# -- consent ----------------------------------------------------------------------------


def test_consent_from_a_chip_records_the_script_and_keeps_the_note(
    client: FlaskClient, db: Any, customer: str
) -> None:
    csrf = sign_in(client)
    text = "Wants to hear about offers by post. Interested in chess sets."
    resp = client.post(
        f"/sidebar/customers/{customer}/consents",
        data={"purpose": "data_sharing", "text": text},
        headers=hx(csrf, **{"HX-Target": "preview"}),
    )
    assert resp.status_code == 200
    record = rows(db, "SELECT * FROM consents ORDER BY id DESC LIMIT 1")[0]
    wording, version = load_policy().wording("data_sharing")
    assert (record["purpose"], record["status"]) == ("data_sharing", "granted")
    assert (record["source"], record["method"]) == ("agent", "verbal")
    assert json.loads(record["evidence"]) == {
        "agent": "agent-7",
        "wording": wording,
        "wording_version": version,
    }
    fragment = html(resp)
    assert "Interest: chess sets" in fragment  # the preview again, for the same text
    profile = fragment[fragment.index('hx-swap-oob="innerHTML"') :]
    sharing = profile[profile.index('data-purpose="data_sharing"') :]
    assert "Granted" in sharing[: sharing.index("</li>")]


def test_a_granted_consent_turns_the_chip_to_stored(client: FlaskClient, customer: str) -> None:
    csrf = sign_in(client)
    path = f"/sidebar/customers/{customer}/consents"
    client.post(path, data={"purpose": "personalization", "status": "withdrawn"}, headers=hx(csrf))
    text = "Interested in chess sets."
    preview = f"/sidebar/customers/{customer}/preview"
    assert "needs consent" in html(client.post(preview, data={"text": text}, headers=hx(csrf)))
    after = html(
        client.post(path, data={"purpose": "personalization", "text": text}, headers=hx(csrf))
    )
    assert "stored · personalization" in after and "needs consent" not in after


def test_withdrawal_is_one_click_and_takes_dependent_facts_out(
    client: FlaskClient, db: Any, customer: str
) -> None:
    csrf = sign_in(client)
    assert "Size: 6 (boots)" in html(client.get("/sidebar"))
    resp = client.post(
        f"/sidebar/customers/{customer}/consents",
        data={"purpose": "personalization", "status": "withdrawn"},
        headers=hx(csrf, **{"HX-Target": "profile"}),
    )
    panel = html(resp)
    personalization = panel[panel.index('data-purpose="personalization"') :]
    assert "Withdrawn" in personalization[: personalization.index("</li>")]
    assert "Size: 6 (boots)" not in panel
    assert rows(db, "SELECT status FROM consents ORDER BY id DESC LIMIT 1")[0]["status"] == (
        "withdrawn"
    )


def test_marketing_consent_can_name_a_channel(client: FlaskClient, db: Any, customer: str) -> None:
    csrf = sign_in(client)
    path = f"/sidebar/customers/{customer}/consents"
    client.post(path, data={"purpose": "marketing", "channel": "sms"}, headers=hx(csrf))
    panel = html(client.get("/sidebar", headers=hx(**{"HX-Target": "profile"})))
    assert "Granted for text messages only" in panel and "Withdraw text messages" in panel
    # "We ask for each channel separately": a grant without a channel is refused.
    wide = client.post(path, data={"purpose": "marketing"}, headers=hx(csrf))
    assert wide.status_code == 400 and "channel" in html(wide)
    bad = client.post(path, data={"purpose": "marketing", "channel": "pigeon"}, headers=hx(csrf))
    assert bad.status_code == 400
    unknown = client.post(path, data={"purpose": "mind_reading"}, headers=hx(csrf))
    assert unknown.status_code == 400


def test_a_proposal_from_a_note_is_confirmed_with_the_script(
    client: FlaskClient, db: Any, extractor: Extractor, customer: str
) -> None:
    services.ingest_note(
        db,
        extractor,
        load_policy(),
        customer,
        "She agreed to get our newsletter by email.",
        agent="a",
    )
    proposal = rows(db, "SELECT id FROM consent_proposals")[0]["id"]
    csrf = sign_in(client)
    page = html(client.get("/sidebar"))
    assert "Consent to confirm" in page and "She agreed to get our newsletter by email." in page
    resp = client.post(
        f"/sidebar/customers/{customer}/proposals/{proposal}/confirm", headers=hx(csrf)
    )
    assert resp.status_code == 200 and "Consent to confirm" not in html(resp)
    record = rows(db, "SELECT * FROM consents ORDER BY id DESC LIMIT 1")[0]
    assert (record["purpose"], record["channel"], record["status"]) == (
        "marketing",
        "email",
        "granted",
    )
    assert json.loads(record["evidence"])["wording_version"] == "marketing-1"
    again = client.post(
        f"/sidebar/customers/{customer}/proposals/{proposal}/confirm", headers=hx(csrf)
    )
    assert again.status_code == 409


# -- corrections -------------------------------------------------------------------------


def test_removing_a_fact_needs_a_reason_kept_in_the_audit_log(
    client: FlaskClient, db: Any, customer: str
) -> None:
    csrf = sign_in(client)
    fact = fact_ids(db)["preference:size:6"]
    path = f"/sidebar/customers/{customer}/facts/{fact}/remove"
    refused = client.post(path, data={"reason": " "}, headers=hx(csrf))
    assert refused.status_code == 400 and "say why" in html(refused).lower()
    resp = client.post(path, data={"reason": "she said 7, not 6"}, headers=hx(csrf))
    assert resp.status_code == 200 and "Removed: Size: 6 (boots)." in html(resp)
    facts = html(resp)[html(resp).index('id="preferences-title"') :]
    assert "Size: 6 (boots)" not in facts
    entry = rows(db, "SELECT * FROM audit_log WHERE action = 'fact.removed'")[0]
    # The reason stays with the fact (erasable); the append-only log keeps a keyed digest.
    assert rows(db, "SELECT removed_reason FROM facts WHERE id = ?", [fact]) == [
        {"removed_reason": "she said 7, not 6"}
    ]
    assert json.loads(entry["details"])["reason_digest"]
    assert "she said" not in entry["details"]
    assert entry["actor"] == "agent-7"


def test_a_complaint_is_marked_resolved(client: FlaskClient, db: Any, customer: str) -> None:
    csrf = sign_in(client)
    fact = fact_ids(db)["complaint:delivery:None"]
    resp = client.post(
        f"/sidebar/customers/{customer}/facts/{fact}/status",
        data={"status": "resolved"},
        headers=hx(csrf),
    )
    panel = html(resp)
    assert "1 open" in panel  # billing is still open
    delivery = panel[panel.index(f'data-fact-id="{fact}"') :]
    assert "resolved" in delivery[: delivery.index("</li>")]
    panel = panel[panel.index('id="complaints-title"') :]  # after "Resolved: ..."
    assert panel.index("Complaint: billing") < panel.index("Complaint: delivery")  # open first


# -- demo --------------------------------------------------------------------------------


def test_demo_desktop_frames_a_signed_sidebar(
    make_app: Callable[..., Flask], extractor: Extractor
) -> None:
    app = make_app(TRUSTLINE_SECRET_KEY="demo-key-" + "d" * 40, TRUSTLINE_DEMO=True)
    with app.app_context():
        from assistant.db import get_db

        assert seed(get_db(), extractor, load_policy()) == [c.id for c in CUSTOMERS]
        assert seed(get_db(), extractor, load_policy()) == []  # idempotent
    client = app.test_client()
    desktop = client.get("/")
    page = html(desktop)
    assert "frame-ancestors 'none'" in desktop.headers["Content-Security-Policy"]
    assert all(c.name in page for c in CUSTOMERS)
    src = re.search(r'<iframe id="trustline"[^>]* src="([^"]+)"', page)
    assert src
    sidebar = client.get(src.group(1).replace("&amp;", "&"), follow_redirects=True)
    assert "Ada Lovelace" in html(sidebar) and "Sam (demo agent)" in html(sidebar)
    # the demo desktop's own origin may send it host context
    assert 'name="trustline-host-origins" content="http://localhost"' in html(sidebar)


def test_demo_sessions_see_demo_customers_only(
    make_app: Callable[..., Flask], extractor: Extractor
) -> None:
    app = make_app(TRUSTLINE_SECRET_KEY="demo-key-" + "d" * 40, TRUSTLINE_DEMO=True)
    client = app.test_client()
    db = connect(app.config["TRUSTLINE_DATABASE"])
    try:
        services.upsert_customer(db, "real-1", actor="t", name="Real Person")
    finally:
        db.conn.close()
    src = re.search(r'src="(/sidebar/launch[^"]+)"', html(client.get("/")))
    assert src
    client.get(src.group(1).replace("&amp;", "&"))
    assert client.get("/sidebar?customer=real-1").status_code == 404
    assert client.get("/customers/real-1/stream").status_code == 404


def test_anonymous_demo_visitors_cannot_take_the_stream_slots(
    make_app: Callable[..., Flask], extractor: Extractor
) -> None:
    # issue 12, item 13: three anonymous demo sessions took 421 of 448 stream slots, and
    # API streams then got 503. Every demo visitor is the same demo agent.
    app = make_app(
        TRUSTLINE_SECRET_KEY="demo-key-" + "d" * 40, TRUSTLINE_DEMO=True, TRUSTLINE_MAX_STREAMS=224
    )
    with app.app_context():
        from assistant.db import get_db

        seed(get_db(), extractor, load_policy())
        reader = create_key(get_db(), "integration", ["read"])
    path = f"/customers/{CUSTOMERS[0].id}/stream"
    held, refused = [], 0
    try:
        for _ in range(3):
            visitor = app.test_client()
            src = re.search(r'src="(/sidebar/launch[^"]+)"', html(visitor.get("/")))
            assert src
            visitor.get(src.group(1).replace("&amp;", "&"))
            for _ in range(50):
                resp = visitor.get(path, buffered=False)
                if resp.status_code == 200:
                    held.append(resp)
                else:
                    assert resp.status_code == 503
                    refused += 1
        assert len(held) == app.config["TRUSTLINE_MAX_STREAMS_PER_AGENT"]
        assert refused == 150 - len(held)
        api = app.test_client().get(
            path, headers={"Authorization": f"Bearer {reader}"}, buffered=False
        )
        held.append(api)
        assert api.status_code == 200
    finally:
        for resp in reversed(held):
            resp.close()


def test_without_the_demo_the_root_explains_how_to_launch(client: FlaskClient) -> None:
    page = html(client.get("/"))
    assert "Trustline is running" in page and "/sidebar/launch" in page


# -- the event stream --------------------------------------------------------------------


def sse_messages(body: str) -> list[dict[str, str]]:
    """The messages of an SSE body: {"id", "event", "data"}; comments as {"comment"}."""
    out = []
    for block in body.split("\n\n"):
        message: dict[str, str] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                message["comment"] = line[1:].strip()
            elif ": " in line:
                field, _, value = line.partition(": ")
                message[field] = message[field] + "\n" + value if field in message else value
        if message:
            out.append(message)
    return out


@pytest.fixture
def reader(app: Flask, db: Any) -> str:
    """An API key with the read scope only."""
    return create_key(db, "integration", ["read"])


def test_stream_needs_a_session_or_a_read_key(
    client: FlaskClient, db: Any, customer: str, reader: str
) -> None:
    path = f"/customers/{customer}/stream"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    writer = create_key(db, "writer", ["write"])
    assert client.get(path, headers={"Authorization": f"Bearer {writer}"}).status_code == 403
    resp = client.get(path, headers={"Authorization": f"Bearer {reader}"})
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    sign_in(client)
    assert client.get(path).status_code == 200
    assert client.get("/customers/nobody/stream").status_code == 404


def test_stream_sends_every_event_with_its_id_and_resumes(
    client: FlaskClient, db: Any, customer: str, reader: str
) -> None:
    auth = {"Authorization": f"Bearer {reader}"}
    expected = rows(db, "SELECT id, type FROM events WHERE customer_id = ? ORDER BY id", [customer])
    body = html(client.get(f"/customers/{customer}/stream?after=0", headers=auth))
    messages = [m for m in sse_messages(body) if "data" in m]
    assert [(int(m["id"]), m["event"]) for m in messages] == [
        (e["id"], e["type"]) for e in expected
    ]
    assert json.loads(messages[0]["data"])["customer_id"] == customer
    resume = {**auth, "Last-Event-ID": str(expected[1]["id"])}
    later = [
        m
        for m in sse_messages(html(client.get(f"/customers/{customer}/stream", headers=resume)))
        if "data" in m
    ]
    assert [int(m["id"]) for m in later] == [e["id"] for e in expected[2:]]


def test_streams_beyond_the_limit_get_503_and_a_closed_stream_frees_its_slot(
    app: Flask, client: FlaskClient, customer: str, reader: str
) -> None:
    """Each open stream holds a server thread: past TRUSTLINE_MAX_STREAMS a new one is
    refused at once (the browser retries after Retry-After) rather than queued behind
    threads that notes and pages need."""
    before = SLOTS.open  # streams of earlier tests whose responses were never closed
    app.config["TRUSTLINE_MAX_STREAMS"] = before + 2
    path, auth = f"/customers/{customer}/stream", {"Authorization": f"Bearer {reader}"}
    held = [client.get(path, headers=auth, buffered=False) for _ in range(2)]
    assert [r.status_code for r in held] == [200, 200]
    refused = client.get(path, headers=auth)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert refused.json is not None and refused.json["error"] == "too_many_streams"
    sign_in(client)
    assert client.get(path).status_code == 503  # sidebar sessions count too
    held.pop().close()  # the client went away: its slot is free again
    again = client.get(path, headers=auth, buffered=False)
    assert again.status_code == 200
    for resp in [again, *held]:  # last opened first: each holds its request context
        resp.close()
    assert SLOTS.open == before


def test_one_agent_holds_a_bounded_number_of_streams_with_all_its_sessions(
    app: Flask, customer: str, reader: str
) -> None:
    # issue 12, item 13: three anonymous demo sessions took 421 of 448 stream slots
    app.config["TRUSTLINE_MAX_STREAMS_PER_AGENT"] = 3
    path = f"/customers/{customer}/stream"
    first, second, other = app.test_client(), app.test_client(), app.test_client()
    sign_in(first, agent_id="agent-streams")
    sign_in(second, agent_id="agent-streams")  # another session of the same agent
    sign_in(other, agent_id="agent-other")
    held = [first.get(path, buffered=False) for _ in range(2)]
    held.append(second.get(path, buffered=False))
    try:
        assert [r.status_code for r in held] == [200] * 3
        refused = second.get(path)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
        assert refused.json is not None and refused.json["error"] == "too_many_streams"
        assert "TRUSTLINE_MAX_STREAMS_PER_AGENT" in refused.json["detail"]
        extra = other.get(path, buffered=False)  # another agent is not held back
        held.append(extra)
        assert extra.status_code == 200, extra.get_data(as_text=True)
        key = first.get(path, headers={"Authorization": f"Bearer {reader}"}, buffered=False)
        held.append(key)
        assert key.status_code == 200
    finally:
        for resp in reversed(held):
            resp.close()
    again = first.get(path, buffered=False)  # closed streams give their slots back
    assert again.status_code == 200
    again.close()


def test_sidebar_sessions_leave_slots_kept_for_api_keys(
    app: Flask, customer: str, reader: str
) -> None:
    before_open, before_sessions = SLOTS.open, SLOTS.sessions
    limit = before_open + 8
    app.config.update(
        TRUSTLINE_MAX_STREAMS=limit,
        TRUSTLINE_STREAMS_KEPT_FOR_KEYS_PERCENT=50,
        TRUSTLINE_MAX_STREAMS_PER_AGENT=0,
    )
    kept = -(-limit // 2)
    path, auth = f"/customers/{customer}/stream", {"Authorization": f"Bearer {reader}"}
    agent = app.test_client()
    sign_in(agent, agent_id="agent-crowd")
    held = []
    try:
        refused = None
        for _ in range(limit):  # bounded: sessions are refused before the process is full
            resp = agent.get(path, buffered=False)
            if resp.status_code != 200:
                refused = resp
                break
            held.append(resp)
        sessions = len(held)
        assert sessions == max(0, limit - kept - before_sessions)
        assert refused is not None and refused.status_code == 503
        assert "TRUSTLINE_STREAMS_KEPT_FOR_KEYS_PERCENT" in refused.get_data(as_text=True)
        keys = 0
        for _ in range(limit):
            resp = agent.get(path, headers=auth, buffered=False)
            if resp.status_code != 200:
                assert "TRUSTLINE_MAX_STREAMS" in resp.get_data(as_text=True)
                break
            held.append(resp)
            keys += 1
        assert keys == limit - before_open - sessions
        assert keys + (before_open - before_sessions) >= kept  # all API-key streams here
    finally:
        for resp in reversed(held):
            resp.close()
    assert SLOTS.open == before_open


def test_a_live_update_sends_facts_sent_before_as_stand_ins(
    app: Flask, db: Any, customer: str, extractor: Extractor
) -> None:
    """On one stream, a fact's popover and correction form go out in full once; after
    that, empty stand-ins with the same ids that the page swaps for its own copies
    (hx-preserve; the browser test checks the page side). Each panel is what the page's
    own template makes of the same facts, though the stream reuses unchanged items."""
    viewer = Agent("agent-7", "Grace", "agent", "helpdesk", "helpdesk", None, None)
    path = app.config["TRUSTLINE_DATABASE"]
    sent = SentFacts()

    def update() -> tuple[str, str]:
        """(the stream's panel, the template's panel given what the stream sent)"""
        known = frozenset(sent.known)
        got = _panel(path, viewer, customer, sent)
        panel = profile_panel(db, load_policy(), viewer, customer)
        return got, render_template("sidebar/_profile.html", panel=panel, known=known)

    with app.test_request_context("/sidebar"):
        first, want = update()
        assert first == want
        services.ingest_note(db, extractor, load_policy(), customer, "Best after 6pm.", agent="a")
        second, want = update()
        assert second == want
        complaint = row(db, "SELECT id FROM facts WHERE kind = 'complaint' ORDER BY id LIMIT 1")
        assert complaint is not None
        services.set_complaint_status(db, customer, complaint["id"], "resolved", actor="a")
        third, want = update()
        assert third == want  # the changed complaint is rendered again, not reused
        assert "Reopen" in third and "Reopen" not in second
    ids = [r["id"] for r in rows(db, "SELECT id FROM facts WHERE customer_id = ?", [customer])]
    new = max(ids)
    for fact_id in ids:
        assert f'id="why-{fact_id}"' in first or fact_id == new
        assert f'id="why-{fact_id}"' in second and f'id="fix-{fact_id}"' in second
    assert first.count("Why Trustline shows this") == len(ids) - 1
    assert second.count("Why Trustline shows this") == 1  # only the new fact, in full
    assert f'<div id="why-{new}" class="popover" popover hx-preserve aria-labelledby' in second
    assert "Parcel arrived late" in first and "Parcel arrived late" not in second
    assert len(second) < len(first)  # one fact more, yet shorter
    assert sent.known == set(ids)


def test_the_stream_limit_keeps_threads_for_other_requests() -> None:
    assert stream_limit({}) == 0  # no limit outside `trustline serve`
    assert stream_limit({"TRUSTLINE_SERVE_THREADS": 256}) == 224
    assert stream_limit({"TRUSTLINE_SERVE_THREADS": 8}) == 4
    assert stream_limit({"TRUSTLINE_SERVE_THREADS": 256, "TRUSTLINE_MAX_STREAMS": 1000}) == 1000


def test_stream_sends_heartbeats_and_a_retry_hint(
    client: FlaskClient, customer: str, reader: str
) -> None:
    body = html(
        client.get(f"/customers/{customer}/stream", headers={"Authorization": f"Bearer {reader}"})
    )
    assert body.startswith("retry: ")
    assert any(m.get("comment") == "heartbeat" for m in sse_messages(body))
    assert not [m for m in sse_messages(body) if "data" in m]  # live only: nothing new


def test_stream_sees_changes_committed_by_another_process(
    app: Flask, client: FlaskClient, customer: str, reader: str
) -> None:
    def other_process() -> None:
        time.sleep(0.2)
        db = connect(app.config["TRUSTLINE_DATABASE"])  # its own connection, like a worker
        try:
            services.record_consent(
                db,
                load_policy(),
                customer,
                purpose="marketing",
                channel="email",
                status="granted",
                actor="crm-webhook",
                source="crm",
                method="import",
                evidence={"import": "batch 7"},
            )
        finally:
            db.conn.close()

    writer = threading.Thread(target=other_process)
    writer.start()
    body = html(
        client.get(f"/customers/{customer}/stream", headers={"Authorization": f"Bearer {reader}"})
    )
    writer.join()
    events = [m for m in sse_messages(body) if m.get("event") == "consent.changed"]
    assert len(events) == 1
    assert json.loads(events[0]["data"])["actor"] == "crm-webhook"


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_sidebar_stream_sends_the_profile_panel_for_the_agents_role(
    client: FlaskClient, db: Any, extractor: Extractor, customer: str, role: str
) -> None:
    sign_in(client, role=role)
    services.ingest_note(
        db, extractor, load_policy(), customer, "She asked us to delete all her data.", agent="a"
    )
    body = html(client.get(f"/customers/{customer}/stream?after=0"))
    messages = sse_messages(body)
    panels = [m for m in messages if m.get("event") == "profile"]
    assert len(panels) == 1  # one panel for the whole batch
    latest = max(e["id"] for e in rows(db, "SELECT id FROM events"))
    assert int(panels[0]["id"]) == latest
    # the page skips a panel that is not newer than the one it shows
    assert f'data-version="{latest}"' in panels[0]["data"]
    assert "Complaint: delivery" in panels[0]["data"]
    assert ("Erasure (Art. 17)" in panels[0]["data"]) is (role == "supervisor")
    assert not [m for m in messages if m.get("event") == "dsr.created"]  # no raw JSON


def test_sidebar_stream_closes_after_erasure(
    app: Flask, client: FlaskClient, customer: str
) -> None:
    sign_in(client)

    def dpo() -> None:
        time.sleep(0.2)
        db = connect(app.config["TRUSTLINE_DATABASE"])
        try:
            services.erase(db, customer, actor="dpo")
        finally:
            db.conn.close()

    eraser = threading.Thread(target=dpo)
    eraser.start()
    body = html(client.get(f"/customers/{customer}/stream"))
    eraser.join()
    messages = sse_messages(body)
    assert messages[-1].get("event") == "closed"
    panels = [m for m in messages if m.get("event") == "profile"]
    assert "Customer erased" in panels[0]["data"] and "Ada" not in panels[0]["data"]


def test_bad_last_event_id_is_400(client: FlaskClient, customer: str, reader: str) -> None:
    headers = {"Authorization": f"Bearer {reader}", "Last-Event-ID": "abc"}
    assert client.get(f"/customers/{customer}/stream", headers=headers).status_code == 400


# -- pure parts: the composer's decisions, settings --------------------------------------


def _fact(kind: str, start: int, end: int, text: str, **attrs: Any) -> Fact:
    return Fact(kind, Evidence(start, end, text[start:end]), 0.9, attrs)  # type: ignore[arg-type]


def _granted(purpose: str) -> ConsentRecord:
    now = datetime.now(UTC)
    return ConsentRecord(
        id=1,
        customer_id="c",
        purpose=purpose,
        channel=None,
        status="granted",
        lawful_basis="consent",
        source="agent",
        method="verbal",
        evidence={},
        effective_from=now,
        effective_to=None,
        recorded_at=now,
    )


def test_preview_applies_a_withdrawal_said_earlier_in_the_same_note() -> None:
    text = "No more personalised offers. Likes chess."
    withdraw = _fact("consent", 0, 28, text, action="withdraw", purpose="personalization")
    interest = _fact(
        "preference", 29, 41, text, field="interest", value="chess", polarity="positive"
    )
    result = ExtractionResult(text, text, (withdraw, interest))
    state = ConsentState((_granted("personalization"),))
    now = datetime.now(UTC)
    chips = composer.preview(result, state, load_policy(), now, customer_id="c")
    assert [c.outcome for c in chips] == ["consent", "needs_consent"]
    assert chips[1].reason == "consent_withdrawn"
    # unticked, the withdrawal is not saved, so it does not apply either
    dropped = {composer.fingerprint(withdraw)}
    chips = composer.preview(result, state, load_policy(), now, customer_id="c", dropped=dropped)
    assert [c.outcome for c in chips] == ["consent", "stored"] and not chips[0].kept


def test_keep_never_drops_sensitive_facts() -> None:
    text = f"Card {CARD}, prefers sms"
    card = _fact("sensitive", 5, 24, text, category="payment_card")
    sms = _fact(
        "preference", 26, 37, text, field="contact_channel", value="sms", polarity="positive"
    )
    result = ExtractionResult(text, "Card [PAYMENT_CARD], prefers sms", (card, sms))
    everything = {composer.fingerprint(card), composer.fingerprint(sms)}
    kept, left_out = composer.keep(result, everything)
    assert kept.facts == (card,) and left_out == [sms]
    assert kept.redacted_text == result.redacted_text and kept.id is None
    assert composer.dropped_keys(shown=["a", "b"], ticked=["b"]) == {"a"}


def test_launch_secrets_are_per_host_and_long_enough() -> None:
    assert parse_launch_secrets(f"a={HOST_SECRET}, b = {CRM_SECRET}") == {
        "a": HOST_SECRET,
        "b": CRM_SECRET,
    }
    assert parse_launch_secrets(f"a={HOST_SECRET}==") == {"a": HOST_SECRET + "=="}
    for bad in ("a=short", f"{HOST_SECRET}", f"a={HOST_SECRET},a={CRM_SECRET}"):
        with pytest.raises(SidebarConfigError, match="TL201"):
            parse_launch_secrets(bad)


def test_short_launch_secrets_stop_start_up(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(SidebarConfigError, match="TL201"):
        make_app(TRUSTLINE_LAUNCH_SECRETS="helpdesk=too-short")


def test_host_origins_must_be_origins() -> None:
    assert parse_host_origins("https://a.example, http://localhost:8080/") == (
        "https://a.example",
        "http://localhost:8080",
    )
    with pytest.raises(SidebarConfigError, match="TL203"):
        parse_host_origins("https://a.example/path")
    with pytest.raises(SidebarConfigError, match="TL203"):
        parse_host_origins("*")


def test_session_key_is_generated_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "instance" / "secret_key"
    key = load_or_create_secret_key(path)
    assert len(key) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret_key(path) == key
    path.chmod(0o644)
    assert load_or_create_secret_key(path) == key and path.stat().st_mode & 0o777 == 0o600


# -- styles ------------------------------------------------------------------------------


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
    ("accent-fg", "accent"),
    ("ok-fg", "ok-bg"),
    ("ok-fg", "surface"),
    ("warn-fg", "warn-bg"),
    ("warn-fg", "surface"),
    ("bad-fg", "bad-bg"),
    ("bad-fg", "surface"),
    ("info-fg", "info-bg"),
    ("info-fg", "surface"),
    ("mask-fg", "mask-bg"),
]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_sidebar_colours_meet_wcag_aa(theme: str) -> None:
    css = (ROOT / "static" / "sidebar" / "sidebar.css").read_text(encoding="utf-8")
    selector = ":root {" if theme == "light" else ':root[data-theme="dark"] {'
    block = css[css.index(selector) : css.index("}", css.index(selector))]
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6});", block))
    for fg, bg in TEXT_PAIRS:
        ratio = _contrast(colours[fg], colours[bg])
        assert ratio >= 4.5, f"{theme}: --{fg} on --{bg} is {ratio:.2f}:1"
