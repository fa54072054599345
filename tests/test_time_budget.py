"""The per-text time budget is a backstop that fails safe (issue 11): a text over it is
refused whole with a clear error, per line in `trustline extract --jsonl`, and nothing of
it is stored."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from assistant.cli import stream_results
from nlp import Extractor, TextTimeBudgetError
from nlp import extractor as extractor_module

NOTE = "Cust prefers email, card 4111 1111 1111 1111, PIN 4821. Parcel late again."


@pytest.fixture
def hurried(extractor: Extractor, monkeypatch: pytest.MonkeyPatch) -> Extractor:
    """The session's pipeline with a budget no text can meet: 1 ms, nothing per character."""
    monkeypatch.setattr(extractor_module, "TIME_BUDGET_MS_PER_1000_CHARS", 0)
    return Extractor(extractor.nlp, time_budget_ms=1)


def test_a_text_over_its_budget_is_refused_with_tl006(hurried: Extractor) -> None:
    with pytest.raises(TextTimeBudgetError, match=r"TL006.*TRUSTLINE_TEXT_TIME_BUDGET_MS"):
        hurried.extract(NOTE)


def test_the_budget_scales_with_the_texts_length(extractor: Extractor) -> None:
    assert extractor.time_budget("x" * 30_000) > extractor.time_budget("x" * 300)
    assert extractor.extract(NOTE).redacted_text.count("[") >= 2  # the default is met


def test_the_cli_gives_an_error_line_per_refused_text(hurried: Extractor) -> None:
    lines = [json.dumps({"id": "a", "text": NOTE}), '{"id": "b", "text": ""}', "not json"]
    out = list(stream_results(hurried, iter(lines), batch_size=8))
    assert [r["id"] for r in out] == ["a", "b", None]
    assert "TL006" in out[0]["error"] and "redacted_text" not in out[0]
    assert out[1]["facts"] == []  # an empty text needs no pipeline
    assert "invalid JSON" in out[2]["error"]


def test_a_note_over_its_budget_gets_422_and_nothing_is_stored(
    make_app: Callable[..., Flask], hurried: Extractor, api_headers: dict[str, str]
) -> None:
    app = make_app()
    client = app.test_client()
    created = client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=api_headers)
    assert created.status_code == 201, created.json
    app.extensions["trustline.extractor"] = hurried
    resp = client.post(
        "/api/v1/customers/c-1/notes", json={"text": NOTE, "agent": "a-1"}, headers=api_headers
    )
    assert resp.status_code == 422
    assert resp.json["error"] == "text_time_budget" and "TL006" in resp.json["detail"]
    with sqlite3.connect(Path(app.config["TRUSTLINE_DATABASE"])) as db:
        assert db.execute("SELECT count(*) FROM notes").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM facts").fetchone() == (0,)
