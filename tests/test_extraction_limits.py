"""Bounds on the extraction one request and one caller may queue (issue 12, item 6)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from assistant.auth import create_key
from assistant.db import get_db

URL = "/api/v1/extract"


def _items(count: int, chars: int) -> dict[str, Any]:
    return {"items": [{"id": i, "text": "e" * (chars - 1) + "."} for i in range(count)]}


def test_a_request_may_carry_so_many_characters(
    make_app: Callable[..., Flask], api_headers: dict[str, str]
) -> None:
    client = make_app(TRUSTLINE_MAX_REQUEST_CHARS=100).test_client()
    assert client.post(URL, json=_items(2, 50), headers=api_headers).status_code == 200
    resp = client.post(URL, json=_items(3, 50), headers=api_headers)
    assert resp.status_code == 413
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["error"] == "too_much_text"
    assert "150" in body["detail"] and "TRUSTLINE_MAX_REQUEST_CHARS" in body["detail"]
    long_note = {"text": "e" * 101, "agent": "a1"}
    client.put("/api/v1/customers/c-1", json={}, headers=api_headers)
    resp = client.post("/api/v1/customers/c-1/notes", json=long_note, headers=api_headers)
    assert resp.status_code == 413 and resp.get_json()["error"] == "too_much_text"


def test_a_request_may_carry_so_many_texts(
    make_app: Callable[..., Flask], api_headers: dict[str, str]
) -> None:
    client = make_app(TRUSTLINE_MAX_REQUEST_TEXTS=2).test_client()
    assert client.post(URL, json=_items(2, 5), headers=api_headers).status_code == 200
    resp = client.post(URL, json=_items(3, 5), headers=api_headers)
    assert resp.status_code == 400
    assert "TRUSTLINE_MAX_REQUEST_TEXTS" in resp.get_json()["detail"]


class GatedExtractor:
    """The real extractor, whose first extraction waits until the test lets it go."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.inside = threading.Event()
        self.go = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def extract(self, text: str, **kwargs: Any) -> Any:
        if not self.inside.is_set():
            self.inside.set()
            assert self.go.wait(30), "the test never let the extraction go"
        return self.real.extract(text, **kwargs)


def test_a_caller_may_queue_so_many_characters_at_once(
    make_app: Callable[..., Flask], api_headers: dict[str, str]
) -> None:
    app = make_app(TRUSTLINE_MAX_CALLER_CHARS=150)
    gated = GatedExtractor(app.extensions["trustline.extractor"])
    app.extensions["trustline.extractor"] = gated
    with app.app_context():
        other = {"Authorization": f"Bearer {create_key(get_db(), 'crm-2', ['read'])}"}
    first: list[int] = []

    def send_first(client: FlaskClient) -> None:
        first.append(
            client.post(URL, json={"text": "e" * 99 + "."}, headers=api_headers).status_code
        )

    sender = threading.Thread(target=send_first, args=(app.test_client(),))
    sender.start()
    try:
        assert gated.inside.wait(30)  # 100 characters of this caller are in extraction
        client = app.test_client()
        # The same key, however its header is written: 100 + 100 > 150.
        spelt = {"Authorization": api_headers["Authorization"].replace("Bearer", "bearer ")}
        resp = client.post(URL, json={"text": "e" * 99 + "."}, headers=spelt)
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "1"
        body = resp.get_json()
        assert body["error"] == "extraction_busy"
        assert "TRUSTLINE_MAX_CALLER_CHARS" in body["detail"]
        # Another caller is not held back, nor is a small request within the bound.
        gated.go.set()
        assert client.post(URL, json={"text": "hi."}, headers=other).status_code == 200
    finally:
        gated.go.set()
        sender.join(30)
    assert first == [200]
    # Answered: the characters are given back.
    assert (
        app.test_client().post(URL, json={"text": "e" * 149 + "."}, headers=api_headers).status_code
        == 200
    )
