"""The JSON API as a caller sees it: status codes, JSON bodies, never an HTML page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from nlp import Extractor

URL = "/api/v1/extract"
CARD = "4111 1111 1111 1111"


def assert_json_error(resp: TestResponse, status: int, code: str | None = None) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]
    assert resp.mimetype == "application/problem+json"  # RFC 9457
    body = resp.get_json(force=True)
    assert isinstance(body, dict) and body["error"] and body["message"], body
    assert body["status"] == status and body["detail"] == body["message"]
    if code is not None:
        assert body["error"] == code


def test_healthz(client: FlaskClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-key", "Bearer {key}x", "Basic {key}", "Bearer ", "{key}"],
    ids=["none", "wrong", "longer_key", "basic_scheme", "empty_bearer", "no_scheme"],
)
def test_extract_rejects_missing_or_wrong_key(
    client: FlaskClient, api_key: str, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header.format(key=api_key)}
    resp = client.post(URL, json={"text": "prefers email"}, headers=headers)
    assert_json_error(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_extract_accepts_lower_case_scheme(client: FlaskClient, api_key: str) -> None:
    resp = client.post(URL, json={"text": "x"}, headers={"Authorization": f"bearer {api_key}"})
    assert resp.status_code == 200


def test_extract_with_key_returns_the_contract(
    client: FlaskClient,
    api_headers: dict[str, str],
    contract: Callable[[str, dict[str, Any]], None],
) -> None:
    text = f"Cust prefers email, no calls pls. Card {CARD} declined again, 3rd time."
    resp = client.post(URL, json={"id": "n-1", "text": text}, headers=api_headers)
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["id"] == "n-1"
    contract(text, body)
    assert CARD not in body["redacted_text"]
    assert "[PAYMENT_CARD]" in body["redacted_text"]


def test_extract_matches_python_api(
    client: FlaskClient, api_headers: dict[str, str], extractor: Extractor
) -> None:
    text = "Speaks French, prefers it. Wants a call back after 6pm. Parcel late again."
    resp = client.post(URL, json={"text": text}, headers=api_headers)
    assert resp.get_json() == extractor.extract(text).to_dict()


def test_extract_batch_keeps_ids_and_order(
    client: FlaskClient,
    api_headers: dict[str, str],
    contract: Callable[[str, dict[str, Any]], None],
) -> None:
    items: list[dict[str, Any]] = [
        {"id": "a", "text": "Prefers email."},
        {"id": 7, "text": f"Card {CARD} charged twice."},
        {"text": "No id here, text me please."},
        {"id": "d", "text": "Wants store pickup."},
    ]
    resp = client.post(URL, json={"items": items}, headers=api_headers)
    assert resp.status_code == 200
    results = resp.get_json()["results"]
    assert [r.get("id") for r in results] == ["a", 7, None, "d"]
    for item, result in zip(items, results, strict=True):
        contract(item["text"], result)
    assert CARD not in results[1]["redacted_text"]


# Found while writing these tests: the trained complaint classifier
# (trustline_textcat) raises IndexError in thinc's ngrams when one nlp.pipe batch mixes
# an empty text with non-empty ones; a single empty text works.


def test_extract_batch_with_an_empty_text(client: FlaskClient, api_headers: dict[str, str]) -> None:
    items = [{"id": 1, "text": "Prefers email."}, {"id": 2, "text": ""}]
    resp = client.post(URL, json={"items": items}, headers=api_headers)
    assert resp.status_code == 200
    assert resp.get_json()["results"][1] == {"id": 2, "redacted_text": "", "facts": []}


@pytest.mark.parametrize(
    "body",
    [
        {"items": "not a list"},
        {"items": [{"id": 1}]},
        {"items": [{"id": 1, "text": 5}]},
        {"items": ["just text"]},
        {"items": [{"text": "x"}] * 257},
        {"text": 42},
        {"text": None},
        {"id": "no-text"},
    ],
    ids=[
        "items_str",
        "item_no_text",
        "item_int_text",
        "item_str",
        "too_many",
        "int_text",
        "null_text",
        "no_text",
    ],
)
def test_extract_rejects_bad_request_objects(
    client: FlaskClient, api_headers: dict[str, str], body: dict[str, Any]
) -> None:
    resp = client.post(URL, json=body, headers=api_headers)
    assert_json_error(resp, 400, "invalid_request")


@pytest.mark.parametrize(
    "data",
    [b'{"text": ', b"{'text': 'single quotes'}", b"", b'{"text": "x"} trailing', b"\xff"],
    ids=["truncated", "single_quotes", "empty", "trailing", "not_utf8"],
)
def test_extract_malformed_json_is_400_json(
    client: FlaskClient, api_headers: dict[str, str], data: bytes
) -> None:
    resp = client.post(URL, data=data, content_type="application/json", headers=api_headers)
    assert_json_error(resp, 400, "invalid_json")


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"null", b"42"])
def test_extract_non_object_json_is_400(
    client: FlaskClient, api_headers: dict[str, str], body: bytes
) -> None:
    resp = client.post(URL, data=body, content_type="application/json", headers=api_headers)
    assert_json_error(resp, 400, "invalid_request")


def test_extract_binary_body_is_400(client: FlaskClient, api_headers: dict[str, str]) -> None:
    data = bytes(range(256)) * 4  # NUL bytes, invalid UTF-8 sequences
    resp = client.post(URL, data=data, content_type="application/json", headers=api_headers)
    assert_json_error(resp, 400, "invalid_json")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_extract_needs_json_content_type(
    client: FlaskClient, api_headers: dict[str, str], content_type: str | None
) -> None:
    resp = client.post(
        URL, data=b'{"text": "prefers email"}', content_type=content_type, headers=api_headers
    )
    assert_json_error(resp, 415, "unsupported_media_type")


@pytest.fixture
def small_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(TRUSTLINE_MAX_REQUEST_BYTES=1_000)


def test_body_over_max_content_length_is_413(small_app: Flask, api_headers: dict[str, str]) -> None:
    client = small_app.test_client()
    text = "prefers email " * 100  # about 1.4 kB of JSON
    resp = client.post(URL, json={"text": text}, headers=api_headers)
    assert_json_error(resp, 413, "payload_too_large")
    # just under the limit still works
    resp = client.post(URL, json={"text": text[:900]}, headers=api_headers)
    assert resp.status_code == 200


def test_text_over_max_chars_is_413(
    client: FlaskClient, api_headers: dict[str, str], extractor: Extractor
) -> None:
    text = "a" * (extractor.max_chars + 1)
    resp = client.post(URL, json={"text": text}, headers=api_headers)
    assert_json_error(resp, 413, "text_too_long")
    assert "TRUSTLINE_MAX_TEXT_CHARS" in resp.get_json()["message"]


def test_batch_item_over_max_chars_names_the_item(
    client: FlaskClient, api_headers: dict[str, str], extractor: Extractor
) -> None:
    items = [{"text": "ok"}, {"text": "a" * (extractor.max_chars + 1)}]
    resp = client.post(URL, json={"items": items}, headers=api_headers)
    assert_json_error(resp, 413, "text_too_long")
    assert "items[1]" in resp.get_json()["message"]


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)> prefers email',
        "</script><script>alert(document.cookie)</script>",
    ],
)
def test_markup_in_text_comes_back_as_json(
    client: FlaskClient, api_headers: dict[str, str], text: str
) -> None:
    resp = client.post(URL, json={"id": text, "text": text}, headers=api_headers)
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert "text/html" not in resp.headers["Content-Type"]
    body = resp.get_json()
    assert body["redacted_text"] == text
    assert body["id"] == text


# Found while writing these tests: the blueprint's JSON error handler never sees routing
# errors (Flask routes those to app-level handlers), so a wrong method or path under
# /api/v1 gets Flask's HTML page; the 405 entry in api.http_error is dead code.


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", URL, 405), ("put", URL, 405), ("post", "/api/v1/nope", 404)],
)
def test_api_routing_errors_are_json(
    client: FlaskClient, api_headers: dict[str, str], method: str, path: str, status: int
) -> None:
    resp = getattr(client, method)(path, headers=api_headers)
    assert_json_error(resp, status)


# Found while writing these tests: "\ud800" is valid JSON, but spaCy cannot hash a lone
# surrogate; the request fails with UnicodeEncodeError (a 500 outside TESTING).


def test_lone_surrogate_is_a_client_error(client: FlaskClient, api_headers: dict[str, str]) -> None:
    body = b'{"text": "bad \\ud800 text"}'
    resp = client.post(URL, data=body, content_type="application/json", headers=api_headers)
    assert resp.status_code == 400
    assert resp.mimetype == "application/problem+json"
