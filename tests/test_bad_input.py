"""Hostile input. The Python API on text as it really arrives (control bytes, scripts,
emoji, odd sizes); then HTTP requests built to hurt (issue 6): oversized bodies, deeply
nested JSON, bytes that are not UTF-8, numbers that are not numbers, CR/LF in headers,
traversal and NUL bytes in ids, on the API, the inbound webhooks and the sidebar.

Every one must get a clear 4xx, a problem document (RFC 9457) on the API and the inbound
webhooks, write nothing, read no file and echo nothing into a response header.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlite_utils
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from assistant import services
from assistant.sidebar import launch
from assistant.store.sqlite.db import connect
from assistant.webhooks.signing import chatwoot_signature, new_secret, signature_header
from nlp import Extractor, TextTooLongError

CARD = "4111 1111 1111 1111"

# Texts without secrets or special-category data: redaction must leave them untouched.
CLEAN_TEXTS = {
    "control_chars": "cust\x07 prefers\x1b email\x0b\x0c ok\x7f\x1f\x08 thx\x1c",
    "nul_bytes": "prefers\x00 email\x00\x00 no calls\x00",
    "only_nul": "\x00" * 50,
    "c1_controls": "caller\x85said\x9b hi \x90 prefers sms",
    "emoji": "😡😡 parcel late AGAIN 📦 prefers email 👍🏽 👨‍👩‍👧 🇫🇷 ❤️",
    "emoji_only": "😡" * 40,
    "arabic": "العميل يفضل البريد الإلكتروني ولا يريد مكالمات. prefers email",
    "hebrew": "הלקוח מעדיף אימייל, prefers sms",
    "bidi_controls": "\u202eprefers email\u202c \u200fno calls\u200e \u2066x\u2069",
    "combining": "Cafe\u0301 prefe\u0301rs e\u0308mail, n\u0303o calls",
    "zalgo": "t̸̡̛̖e̷̢x̶̨t̴̰ m̵e̴ p̷l̶s̸ " * 3,
    "zero_width": "pre\u200bfers\u200c em\u200dail\ufeff, \u2060no calls",
    "cjk_mixed": "客户更喜欢电子邮件 prefers email 電話はやめて",
    "empty": "",
    "whitespace_only": " \t\n\r\n  \u00a0\u2003\u3000 ",
    "newlines_only": "\n" * 200,
    "punctuation_only": "!!!???...---;;;,,,(((]]]",
    "all_caps": "CUSTOMER FURIOUS, PARCEL LATE AGAIN!!! WANTS A REFUND. PREFERS EMAIL, NO CALLS.",
    "all_caps_special_letters": "İSTANBUL ẞTRASSE ΣΊΣΥΦΟΣ ǅ ﬁ PREFERS EMAIL ONLY",
    "windows_line_endings": "Cust called re late delivery.\r\nPrefers email.\r\n\r\nNo calls.\r\n",
    "old_mac_line_endings": "Late delivery.\rPrefers email.\rNo calls.",
    "one_long_token": "x" * 20_000,
    "markup": "<b>prefers</b> email &amp; <script>alert(1)</script>",
}


@pytest.mark.parametrize("text", CLEAN_TEXTS.values(), ids=CLEAN_TEXTS.keys())
def test_odd_text_is_extracted_without_error(
    extractor: Extractor, contract: Callable[[str, dict[str, Any]], None], text: str
) -> None:
    result = extractor.extract(text)
    contract(text, result.to_dict())
    assert result.text == text
    assert not result.by_kind("sensitive")
    assert result.redacted_text == text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("card\x00", "\x00"),
        ("card\x1b ", "\x07"),
        ("💳", " 😡"),
        ("\u200f", "\u200f"),
        ("بطاقة ", " رفضت"),
        ("כרטיס ", " נדחה"),
        ("Card\r\n", "\r\nthanks"),
        ("CARD ", " DECLINED AGAIN, FURIOUS"),
        ("carte n\u0303 ", " refuse\u0301e"),
    ],
    ids=["nul", "control", "emoji", "rtl_mark", "arabic", "hebrew", "crlf", "caps", "combining"],
)
def test_card_number_is_masked_in_odd_text(
    extractor: Extractor,
    contract: Callable[[str, dict[str, Any]], None],
    before: str,
    after: str,
) -> None:
    text = f"{before}{CARD}{after}"
    result = extractor.extract(text)
    contract(text, result.to_dict())
    assert CARD not in result.redacted_text
    assert "[PAYMENT_CARD]" in result.redacted_text


@pytest.mark.parametrize(
    "text",
    [
        "Customer furious, parcel late again. Prefers email, no calls. Wants a refund.",
        "Speaks French, prefers it. Call after 6pm. Please stop the promo emails.",
        f"Card {CARD} was charged twice, 3rd time calling, wants it fixed.",
    ],
    ids=["complaint", "consent", "card"],
)
def test_all_caps_note_reads_like_its_lower_case_form(extractor: Extractor, text: str) -> None:
    """ALL CAPS notes are common; they must give the same facts at the same offsets."""
    upper, lower = extractor.extract(text.upper()), extractor.extract(text.lower())
    assert [(f.kind, f.attrs, f.evidence.start, f.evidence.end) for f in upper.facts] == [
        (f.kind, f.attrs, f.evidence.start, f.evidence.end) for f in lower.facts
    ]
    assert upper.redacted_text.lower() == lower.redacted_text.lower()


# Found while writing these tests: Extractor.case_fold lower-cases an ALL CAPS note before
# the pipeline runs, and the National Insurance shape in nlp/identifiers.py only matches
# upper-case letters, so "QQ 12 34 56 C" is masked in a normal note but kept in a shouted one.


@pytest.mark.parametrize("nino", ["QQ 12 34 56 C", "AB123456C"])
def test_all_caps_note_masks_national_insurance_numbers(extractor: Extractor, nino: str) -> None:
    mixed = f"Caller gave {nino} for the claim, angry about the delay."
    assert nino not in extractor.extract(mixed).redacted_text  # the shape is known
    shouted = mixed.upper()
    assert nino not in extractor.extract(shouted).redacted_text


def test_windows_line_endings_keep_offsets(extractor: Extractor) -> None:
    unix = "Cust called re late delivery.\nPrefers email.\nCard " + CARD + "\n"
    windows = unix.replace("\n", "\r\n")
    result = extractor.extract(windows)
    for fact in result.facts:
        assert windows[fact.evidence.start : fact.evidence.end] == fact.evidence.text
    assert result.redacted_text.replace("\r\n", "\n") == extractor.extract(unix).redacted_text


def test_long_note_near_the_limit(
    extractor: Extractor, contract: Callable[[str, dict[str, Any]], None]
) -> None:
    """A 90,000 character note (a pasted transcript) keeps its offsets to the very end."""
    filler = "Agent read the order history back to the customer and checked the address. "
    head = "Prefers email. "
    tail = f" Card {CARD} on file. Parcel late again, third time, furious."
    body = (filler * (90_000 // len(filler) + 1))[: 90_000 - len(head) - len(tail)]
    text = head + body + tail
    assert len(text) == 90_000
    result = extractor.extract(text)
    contract(text, result.to_dict())
    assert CARD not in result.redacted_text
    card = next(f for f in result.by_kind("sensitive") if f.get("category") == "payment_card")
    assert card.evidence.start > 89_900


@pytest.mark.parametrize("extra", [1, 10_000])
def test_text_over_the_limit_is_a_clear_error(extractor: Extractor, extra: int) -> None:
    text = "a" * (extractor.max_chars + extra)
    with pytest.raises(TextTooLongError, match=r"TL003.*TRUSTLINE_MAX_TEXT_CHARS"):
        extractor.extract(text)


def test_text_at_the_limit_is_accepted(extractor: Extractor) -> None:
    extractor.check("a" * extractor.max_chars)


# -- hostile HTTP requests (issue 6) -----------------------------------------------------

MAX_BYTES = 300_000  # small enough to exceed cheaply, large enough for 100k nested arrays
LAUNCH_SECRET = "helpdesk-launch-secret-for-tests-" + "0123456789abcdef" * 2
CRM_SECRET = new_secret()
CHATWOOT_SECRET = "cw-webhook-secret-for-tests"
PROBLEM = "application/problem+json"
MARKER = "evil=1"  # what a header injected through a request would carry
# What a file read would show: /etc/passwd, or this project's own source.
LEAKS = ("root:x:0:0", "def create_app")
DEEP_ARRAYS = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def hostile_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(
        TRUSTLINE_MAX_REQUEST_BYTES=MAX_BYTES,
        TRUSTLINE_INBOUND_MAX_BYTES=MAX_BYTES,
        TRUSTLINE_SECRET_KEY="session-key-for-tests-only-" + "k" * 20,
        TRUSTLINE_LAUNCH_SECRETS=f"helpdesk={LAUNCH_SECRET}",
        TRUSTLINE_INBOUND_SECRETS=f"crm={CRM_SECRET}",
        TRUSTLINE_CHATWOOT_SECRET=CHATWOOT_SECRET,
        TRUSTLINE_SSE_MAX_SECONDS=0.3,
    )


@pytest.fixture
def store(hostile_app: Flask) -> Iterator[sqlite_utils.Database]:
    """The app's database, with customer c-1 (known to the CRM as 4711)."""
    db = connect(hostile_app.config["TRUSTLINE_DATABASE"])
    services.upsert_customer(
        db, "c-1", actor="test", name="Ada", identities=[services.Identity("crm", "4711")]
    )
    yield db
    db.conn.close()


@pytest.fixture
def web(hostile_app: Flask, store: sqlite_utils.Database) -> FlaskClient:
    return hostile_app.test_client()


@pytest.fixture
def agent(hostile_app: Flask, store: sqlite_utils.Database) -> tuple[FlaskClient, str]:
    """A client with an agent's sidebar session, and the session's CSRF token."""
    client = hostile_app.test_client()
    token = launch.sign(
        LAUNCH_SECRET, issuer="helpdesk", audience="trustline-sidebar", agent_id="a-1", role="agent"
    )
    assert client.get(f"/sidebar/launch?token={token}").status_code == 303
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/sidebar").get_data(as_text=True))
    assert found
    return client, found.group(1)


def written(db: sqlite_utils.Database) -> tuple[int, ...]:
    """Row counts every write changes: a refused request must leave them as they were."""
    tables = ("customers", "notes", "facts", "events", "audit_log", "webhook_inbox")
    return tuple(int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables)


def assert_problem(resp: TestResponse, status: int, code: str | None = None) -> None:
    """A problem document (RFC 9457) with `status` (and the stable `code`)."""
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, text[:300]
    assert resp.mimetype == PROBLEM, text[:300]
    body = json.loads(text)
    assert body["status"] == status and body["title"] and body["detail"]
    if code is not None:
        assert body["type"].endswith("/" + code) and body["error"] == code


def assert_not_reflected(resp: TestResponse) -> None:
    """No response header carries a line break or what was smuggled into the request."""
    for name, value in resp.headers.items():
        assert "\r" not in value and "\n" not in value, (name, value)
        assert MARKER not in value, (name, value)


def assert_nothing_leaked(resp: TestResponse) -> None:
    text = resp.get_data(as_text=True)
    assert not any(leak in text for leak in LEAKS)


def crm_headers(body: bytes, msg_id: str = "msg_hostile") -> dict[str, str]:
    """Standard Webhooks headers signing `body` with the CRM's secret."""
    stamp = datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature_header(msg_id, stamp, body.decode(), [CRM_SECRET]),
    }


def chatwoot_headers(body: bytes) -> dict[str, str]:
    """Chatwoot signs the raw bytes, so a body that is not UTF-8 can be signed too."""
    stamp = str(int(datetime.now(UTC).timestamp()))
    return {
        "Content-Type": "application/json",
        "X-Chatwoot-Timestamp": stamp,
        "X-Chatwoot-Signature": chatwoot_signature(CHATWOOT_SECRET, stamp, body),
    }


# JSON bodies for each API route that reads one (c-1 exists; fact 1 may not).
API_BODIES = [
    ("POST", "/api/v1/extract"),
    ("PUT", "/api/v1/customers/c-1"),
    ("POST", "/api/v1/customers/c-1/notes"),
    ("POST", "/api/v1/customers/c-1/consents"),
    ("PATCH", "/api/v1/customers/c-1/facts/1"),
    ("POST", "/api/v1/webhooks"),
]
API_IDS = [f"{m} {u}" for m, u in API_BODIES]


# - oversized bodies: 413, before anything is parsed or written


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "no-content-length"])
@pytest.mark.parametrize(("method", "url"), API_BODIES, ids=API_IDS)
def test_api_bodies_over_the_limit_get_413(
    web: FlaskClient,
    store: sqlite_utils.Database,
    api_headers: dict[str, str],
    method: str,
    url: str,
    streamed: bool,
) -> None:
    data = json.dumps({"text": "a" * (MAX_BYTES + 1)}).encode()
    before = written(store)
    # Without a Content-Length (a chunked upload) the limit must hold while reading.
    body: dict[str, Any] = {"input_stream": io.BytesIO(data)} if streamed else {"data": data}
    resp = web.open(
        url, method=method, content_type="application/json", headers=api_headers, **body
    )
    assert_problem(resp, 413, "payload_too_large")
    assert written(store) == before


@pytest.mark.parametrize("source", ["crm", "chatwoot"])
def test_inbound_webhook_bodies_over_the_limit_get_413(
    web: FlaskClient, store: sqlite_utils.Database, source: str
) -> None:
    before = written(store)
    resp = web.post(f"/webhooks/in/{source}", data=b"x" * (MAX_BYTES + 1))
    assert_problem(resp, 413, "payload_too_large")
    assert written(store) == before


def test_sidebar_forms_over_the_limit_get_413(
    agent: tuple[FlaskClient, str], store: sqlite_utils.Database
) -> None:
    client, csrf = agent
    before = written(store)
    resp = client.post(
        "/sidebar/customers/c-1/notes",
        data={"text": "Prefers sms. " * (MAX_BYTES // 10)},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status_code == 413
    assert "exceeds" in resp.get_data(as_text=True)
    assert written(store) == before


# - JSON that is not JSON we accept: a clear 400, never a RecursionError or a 500

NOT_OUR_JSON = {
    "nested_arrays": DEEP_ARRAYS.encode(),
    "nested_objects": ('{"a":' * 40_000 + "1" + "}" * 40_000).encode(),
    "unterminated_nesting": ("[" * 100_000).encode(),
    "nested_in_a_field": ('{"text": "hi", "id": ' + "[" * 200 + "]" * 200 + "}").encode(),
    "invalid_utf8": b'{"text": "caf\xe9"}',
    "truncated_utf8": b'{"text": "\xc3"}',
    "overlong_utf8": b'{"text": "\xc0\xaf\xc0\xaf"}',
    "utf16": '{"text": "hi"}'.encode("utf-16"),
    "nan": b'{"text": "hi", "id": NaN}',
    "infinity": b'{"text": "hi", "id": -Infinity}',
    "float_overflow": b'{"text": "hi", "id": 1e999}',
    "huge_integer": b'{"text": "hi", "id": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("raw", NOT_OUR_JSON.values(), ids=NOT_OUR_JSON.keys())
@pytest.mark.parametrize(("method", "url"), API_BODIES, ids=API_IDS)
def test_api_refuses_json_it_cannot_take_with_a_clear_400(
    web: FlaskClient,
    store: sqlite_utils.Database,
    api_headers: dict[str, str],
    method: str,
    url: str,
    raw: bytes,
) -> None:
    before = written(store)
    resp = web.open(
        url, method=method, data=raw, content_type="application/json", headers=api_headers
    )
    assert_problem(resp, 400, "invalid_json")
    assert written(store) == before


@pytest.mark.parametrize("raw", NOT_OUR_JSON.values(), ids=NOT_OUR_JSON.keys())
def test_signed_chatwoot_webhook_refuses_json_it_cannot_take(
    web: FlaskClient, store: sqlite_utils.Database, raw: bytes
) -> None:
    before = written(store)
    resp = web.post("/webhooks/in/chatwoot", data=raw, headers=chatwoot_headers(raw))
    assert_problem(resp, 400, "invalid_json")
    assert written(store) == before


@pytest.mark.parametrize(
    "raw",
    [v for k, v in NOT_OUR_JSON.items() if "utf" not in k],
    ids=[k for k in NOT_OUR_JSON if "utf" not in k],
)
def test_signed_crm_webhook_refuses_json_it_cannot_take(
    web: FlaskClient, store: sqlite_utils.Database, raw: bytes
) -> None:
    before = written(store)
    resp = web.post("/webhooks/in/crm", data=raw, headers=crm_headers(raw))
    assert_problem(resp, 400, "invalid_json")
    assert written(store) == before


def test_crm_webhook_that_is_not_utf8_cannot_even_be_signed(
    web: FlaskClient, store: sqlite_utils.Database
) -> None:
    # Standard Webhooks signs text: bytes that are not UTF-8 fail verification first.
    raw = NOT_OUR_JSON["invalid_utf8"]
    headers = crm_headers(b'{"text": "cafe"}')
    resp = web.post("/webhooks/in/crm", data=raw, headers=headers)
    assert_problem(resp, 401, "invalid_signature")


@pytest.mark.parametrize(
    "stamp", ["1" * 5000, "\u00b2", "\u00b9\u00b2\u00b3", "", "1e10", "-5"], ids=repr
)
@pytest.mark.parametrize("source", ["crm", "chatwoot"])
def test_webhook_timestamps_that_are_not_numbers_get_401(
    web: FlaskClient, source: str, stamp: str
) -> None:
    # Found by these tests: 5,000 digits or a superscript digit passed isdigit() and
    # then made int() raise: a 500 before any signature was checked.
    headers = (
        {"X-Chatwoot-Timestamp": stamp, "X-Chatwoot-Signature": "sha256=00"}
        if source == "chatwoot"
        else {"webhook-id": "m1", "webhook-timestamp": stamp, "webhook-signature": "v1,AAAA"}
    )
    resp = web.post(f"/webhooks/in/{source}", data=b"{}", headers=headers)
    assert_problem(resp, 401, "invalid_signature")


@pytest.mark.parametrize(
    "form",
    [b"text=caf%E9+%FF%FE", b"text=caf\xe9 \xff\xfe", b"text=%00%00prefers+sms%00"],
    ids=["percent-encoded", "raw-bytes", "nul"],
)
def test_sidebar_forms_with_bytes_that_are_not_utf8_are_handled(
    agent: tuple[FlaskClient, str], form: bytes
) -> None:
    client, csrf = agent
    resp = client.post(
        "/sidebar/customers/c-1/preview",
        data=form,
        content_type="application/x-www-form-urlencoded",
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert resp.status_code == 200  # read with replacement characters, previewed


# - CR/LF in headers: never reflected into a response header, never a 500


def test_idempotency_key_with_a_line_break_is_refused_and_not_echoed(
    web: FlaskClient, store: sqlite_utils.Database, api_headers: dict[str, str]
) -> None:
    before = written(store)
    resp = web.post(
        "/api/v1/customers/c-1/notes",
        json={"text": "Prefers sms."},
        headers=api_headers,
        # Werkzeug's client refuses line breaks in headers; a broken proxy might not.
        environ_overrides={"HTTP_IDEMPOTENCY_KEY": f"k-1\r\nSet-Cookie: {MARKER}"},
    )
    assert_problem(resp, 400, "invalid_request")
    assert_not_reflected(resp)
    assert written(store) == before


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("HTTP_AUTHORIZATION", f"Bearer x\r\nSet-Cookie: {MARKER}"),
        ("HTTP_AUTHORIZATION", f"Bearer \x00\r\n\r\n{MARKER}"),
        ("HTTP_IF_NONE_MATCH", f'"x"\r\nSet-Cookie: {MARKER}'),
    ],
    ids=["authorization", "authorization-nul", "if-none-match"],
)
def test_api_headers_with_line_breaks_are_not_reflected(
    web: FlaskClient, api_headers: dict[str, str], header: str, value: str
) -> None:
    resp = web.get("/api/v1/customers/c-1/profile", environ_overrides={header: value})
    assert resp.status_code in (200, 401)
    assert resp.mimetype in ("application/json", PROBLEM)
    assert_not_reflected(resp)


def test_stream_resume_id_with_a_line_break_is_a_400_problem(
    web: FlaskClient, api_headers: dict[str, str]
) -> None:
    resp = web.get(
        "/customers/c-1/stream",
        headers=api_headers,
        environ_overrides={"HTTP_LAST_EVENT_ID": f"1\r\nSet-Cookie: {MARKER}"},
    )
    assert_problem(resp, 400, "invalid_request")
    assert_not_reflected(resp)


@pytest.mark.parametrize(
    "query",
    [
        f"external_id=4711%0D%0ASet-Cookie:%20{MARKER}",
        f"customer=c-1%0D%0ASet-Cookie:%20{MARKER}",
        f"theme=dark%0D%0ASet-Cookie:%20{MARKER}",
    ],
    ids=["external_id", "customer", "theme"],
)
def test_sidebar_echoes_no_line_break_into_its_headers(
    agent: tuple[FlaskClient, str], query: str
) -> None:
    client, _ = agent
    # To htmx the sidebar answers with HX-Replace-Url, built from the request.
    resp = client.get(f"/sidebar?{query}", headers={"HX-Request": "true"})
    assert resp.status_code in (200, 404)
    assert_not_reflected(resp)


def test_launch_token_with_a_line_break_is_refused_and_not_echoed(web: FlaskClient) -> None:
    resp = web.get(f"/sidebar/launch?token=a.b.c%0D%0ASet-Cookie:%20{MARKER}")
    assert resp.status_code == 401
    assert_not_reflected(resp)
    assert "Set-Cookie" not in resp.headers


# - traversal and NUL bytes in ids: 4xx, never a file read, never a 500

TRAVERSALS = [
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%5C..%5Cetc%5Cpasswd",
    "%2e%2e",
    "a%00b",
    "%00",
    "..%00",
    "%E2%80%AE..%2Fx",
]


@pytest.mark.parametrize("bad", TRAVERSALS)
@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/api/v1/customers/{}/profile"),
        ("GET", "/api/v1/customers/{}/export"),
        ("GET", "/api/v1/customers/{}/events"),
        ("POST", "/api/v1/customers/{}/notes"),
        ("DELETE", "/api/v1/customers/{}"),
        ("PATCH", "/api/v1/customers/c-1/facts/{}"),
        ("GET", "/api/v1/webhooks/{}"),
        ("GET", "/api/v1/customers/lookup?source=crm&external_id={}"),
        ("GET", "/customers/{}/stream"),
    ],
)
def test_api_ids_with_traversal_or_nul_get_a_4xx_problem(
    web: FlaskClient,
    store: sqlite_utils.Database,
    api_headers: dict[str, str],
    method: str,
    template: str,
    bad: str,
) -> None:
    before = written(store)
    resp = web.open(template.format(bad), method=method, json={"text": "hi"}, headers=api_headers)
    assert resp.status_code in (400, 404, 405), resp.get_data(as_text=True)[:300]
    assert_nothing_leaked(resp)
    assert written(store) == before
    if not template.startswith("/customers/"):  # the stream's unrouted paths are pages
        assert_problem(resp, resp.status_code)


@pytest.mark.parametrize("bad", ["a%00b", "%00", "%0D%0A", "%2e%2e", "%2e", "x%7F"])
def test_new_customer_ids_with_nul_line_breaks_or_dot_segments_get_400(
    web: FlaskClient, store: sqlite_utils.Database, api_headers: dict[str, str], bad: str
) -> None:
    # Found by these tests: PUT created customers named "a\x00b", "\r\n" or "..", which
    # clients and proxies cannot address again (they rewrite dot segments).
    before = written(store)
    resp = web.put(f"/api/v1/customers/{bad}", json={"name": "x"}, headers=api_headers)
    assert_problem(resp, 400, "invalid_customer_id")
    assert written(store) == before


@pytest.mark.parametrize(
    "source",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        "%00",
        "crm%00",
        "crm%0D%0A",
    ],
)
def test_inbound_sources_with_traversal_or_nul_get_a_404_problem(
    web: FlaskClient, store: sqlite_utils.Database, source: str
) -> None:
    before = written(store)
    resp = web.post(f"/webhooks/in/{source}", data=b"{}")
    assert_nothing_leaked(resp)
    assert written(store) == before
    assert_problem(resp, 404)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/sidebar?customer=..%2F..%2Fetc%2Fpasswd"),
        ("GET", "/sidebar?customer=%00"),
        ("GET", "/sidebar?external_id=..%2F..%2Fetc%2Fpasswd"),
        ("POST", "/sidebar/customers/..%2F..%2Fetc%2Fpasswd/preview"),
        ("POST", "/sidebar/customers/%00/preview"),
        ("POST", "/sidebar/customers/%2e%2e/notes"),
        ("POST", "/sidebar/customers/c-1/facts/..%2F1/remove"),
        ("POST", "/sidebar/customers/c-1/facts/99999999999999999999/status"),
        ("POST", "/sidebar/customers/c-1/proposals/%00/confirm"),
        ("GET", "/customers/%00/stream"),
    ],
)
def test_sidebar_ids_with_traversal_or_nul_get_a_4xx(
    agent: tuple[FlaskClient, str], store: sqlite_utils.Database, method: str, url: str
) -> None:
    client, csrf = agent
    before = written(store)
    resp = client.open(
        url, method=method, data={"text": "Prefers sms."}, headers={"X-CSRF-Token": csrf}
    )
    resp.close()
    # A host id nobody maps gives the empty state (200, no customer data); ids get 404.
    assert resp.status_code == (200 if "external_id" in url else 404)
    assert_nothing_leaked(resp)
    assert written(store) == before


@pytest.mark.parametrize(
    "path",
    [
        "/static/../assistant/__init__.py",
        "/static/..%2F..%2Fetc%2Fpasswd",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/sidebar/..%5C..%5C..%5Cassistant%5C__init__.py",
        "/static/sidebar/sidebar.css%00.js",
        "/static/%00",
        "/static//etc/passwd",
    ],
)
def test_static_files_never_leave_the_static_folder(web: FlaskClient, path: str) -> None:
    resp = web.get(path, follow_redirects=True)
    resp.close()
    assert resp.status_code == 404
    assert_nothing_leaked(resp)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/customers/c-1/facts/99999999999999999999",
        "/api/v1/webhooks/9223372036854775808",
        "/api/v1/webhooks/deliveries/18446744073709551616/replay",
    ],
)
def test_ids_beyond_64_bits_are_404_not_500(
    web: FlaskClient, api_headers: dict[str, str], url: str
) -> None:
    # Found by the fuzzer (tests/test_fuzz_api.py): SQLite raised OverflowError.
    method = "POST" if url.endswith("/replay") else "PATCH"
    resp = web.open(url, method=method, json={"status": "resolved"}, headers=api_headers)
    assert_problem(resp, 404, "not_found")


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/customers/c-1/events?after=99999999999999999999", None),
        ("/api/v1/customers/c-1/events?after=-99999999999999999999", None),
        ("/api/v1/webhooks/deliveries?subscription_id=99999999999999999999", None),
        (
            "/api/v1/customers/c-1/consents",
            {"proposal_id": 2**63, "wording": "w", "wording_version": "1"},
        ),
    ],
)
def test_numbers_beyond_64_bits_in_queries_and_bodies_are_400(
    web: FlaskClient, api_headers: dict[str, str], url: str, body: Any
) -> None:
    method = "GET" if body is None else "POST"
    resp = web.open(url, method=method, json=body, headers=api_headers)
    assert_problem(resp, 400, "invalid_request")


@pytest.mark.parametrize(
    "resume",
    [
        {"query_string": "after=99999999999999999999"},
        {"headers": {"Last-Event-ID": "-" + "9" * 20}},
    ],
    ids=["after", "last-event-id"],
)
def test_stream_resume_ids_beyond_64_bits_are_a_400_problem(
    web: FlaskClient, api_headers: dict[str, str], resume: dict[str, Any]
) -> None:
    headers = {**api_headers, **resume.get("headers", {})}
    query = resume.get("query_string")
    resp = web.get("/customers/c-1/stream", headers=headers, query_string=query)
    assert_problem(resp, 400, "invalid_request")
