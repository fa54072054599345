"""Shared fixtures: one Extractor per session, the Flask app around it, and ../shared."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from assistant import create_app
from assistant.settings import extractor_options
from nlp import Extractor

API_KEY = "tl_pytest_only_7Qx2"
SHARED_DIR = Path(__file__).parents[1].parent / "shared"

# The extraction contract (v1), written out here rather than read from nlp.facts, so a
# change to the product's own constants cannot quietly widen what the tests accept.
CHANNELS = {"email", "phone", "sms", "post", "chat", "whatsapp", "app"}
PREFERENCE_VALUES: dict[str, set[str] | None] = {
    "contact_channel": CHANNELS,
    "contact_time": {"morning", "afternoon", "evening", "weekday", "weekend"},
    "language": None,  # ISO 639-1, checked by shape
    "interest": None,  # free noun phrase, checked by shape
    "delivery": {"home", "store_pickup", "locker", "express", "eco"},
    "payment": {"card", "paypal", "invoice", "bank_transfer", "cash", "installments", "gift_card"},
    "size": None,  # as written, upper-cased
}
COMPLAINT_CATEGORIES = {
    "billing",
    "delivery",
    "product_quality",
    "service",
    "returns_refunds",
    "website_app",
    "privacy",
    "pricing",
    "other",
}
CONSENT_ACTIONS = {"grant", "withdraw", "erase", "access"}
CONSENT_PURPOSES = {"marketing", "personalization", "analytics", "data_sharing", "all"}
SENSITIVE_CATEGORIES = {
    "health",
    "religion",
    "ethnicity",
    "political",
    "sexual_orientation",
    "union",
    "biometric",
    "genetic",
    "payment_card",
    "bank_account",
    "national_id",
    "credential",
}
ISO_639_1 = re.compile(r"[a-z]{2}")


def shared_dir() -> Path | None:
    """../shared beside the project root: CI and developers have it, a user's machine not."""
    return SHARED_DIR if SHARED_DIR.is_dir() else None


def api_key_hash(key: str = API_KEY) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_fact(text: str, fact: dict[str, Any]) -> None:
    kind = fact["kind"]
    ev = fact["evidence"]
    assert set(ev) >= {"start", "end", "text"}, fact
    start, end = ev["start"], ev["end"]
    assert type(start) is int and type(end) is int, fact
    assert 0 <= start <= end <= len(text), fact
    assert ev["text"] == text[start:end], fact
    conf = fact["confidence"]
    assert isinstance(conf, int | float) and not isinstance(conf, bool), fact
    assert math.isfinite(conf) and 0.0 <= conf <= 1.0, fact

    if kind == "preference":
        field, value = fact["field"], fact["value"]
        assert field in PREFERENCE_VALUES, fact
        assert fact["polarity"] in {"positive", "negative"}, fact
        assert isinstance(value, str) and value.strip(), fact
        allowed = PREFERENCE_VALUES[field]
        if allowed is not None:
            assert value in allowed, fact
        elif field == "language":
            assert ISO_639_1.fullmatch(value), fact
        elif field == "interest":
            assert value == value.lower(), fact
        elif field == "size":
            assert value == value.upper(), fact
        assert isinstance(fact.get("detail", ""), str), fact
    elif kind == "complaint":
        assert fact["category"] in COMPLAINT_CATEGORIES, fact
        assert fact["severity"] in {"low", "medium", "high"}, fact
        assert type(fact["repeat"]) is bool, fact
        assert fact["status"] in {"open", "resolved"}, fact
        assert isinstance(fact.get("subject", ""), str), fact
    elif kind == "consent":
        assert fact["action"] in CONSENT_ACTIONS, fact
        assert fact["purpose"] in CONSENT_PURPOSES, fact
        if fact["action"] in {"erase", "access"}:
            assert fact["purpose"] == "all", fact
        assert fact.get("channel") in CHANNELS | {None}, fact
    elif kind == "sensitive":
        assert fact["category"] in SENSITIVE_CATEGORIES, fact
    else:
        pytest.fail(f"unknown fact kind {kind!r}: {fact}")


def masked(text: str, facts: list[dict[str, Any]]) -> str:
    """`text` with every sensitive evidence span replaced by [CATEGORY], per the contract."""
    spans = sorted(
        (f["evidence"]["start"], f["evidence"]["end"], f["category"])
        for f in facts
        if f["kind"] == "sensitive"
    )
    out, pos = [], 0
    for start, end, category in spans:
        assert start >= pos, f"sensitive spans overlap: {spans}"
        out += [text[pos:start], f"[{category.upper()}]"]
        pos = end
    return "".join([*out, text[pos:]])


def assert_contract(text: str, result: dict[str, Any]) -> None:
    """Assert that `result` (a result object of the contract) is valid for input `text`."""
    assert "error" not in result, result
    assert isinstance(result["redacted_text"], str), result
    assert isinstance(result["facts"], list), result
    for fact in result["facts"]:
        _check_fact(text, fact)
    # Every sensitive span is masked as [CATEGORY]; nothing else is.
    assert result["redacted_text"] == masked(text, result["facts"])


@pytest.fixture(scope="session")
def extractor() -> Extractor:
    """The real pipeline, built once: loading takes seconds."""
    return Extractor.load(**extractor_options())


@pytest.fixture(scope="session")
def contract() -> Callable[[str, dict[str, Any]], None]:
    """`contract(text, result_dict)` asserts the result obeys the extraction contract."""
    return assert_contract


@pytest.fixture
def make_app(extractor: Extractor, tmp_path: Path) -> Callable[..., Flask]:
    """Build a test app with extra config, sharing the session's extractor; each test
    gets its own database file."""

    def make(**config: Any) -> Flask:
        app = create_app(
            test_config={
                "TESTING": True,
                "TRUSTLINE_API_KEY_HASHES": api_key_hash(),
                "TRUSTLINE_DATABASE": str(tmp_path / "trustline.db"),
                **config,
            }
        )
        app.extensions["trustline.extractor"] = extractor
        return app

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def api_key() -> str:
    """The API key the test apps accept (only its sha256 is in their config)."""
    return API_KEY


@pytest.fixture
def api_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: the project must run without ../shared."""
    root = shared_dir()
    if root is None or not (root / "data").is_dir():
        reason = f"needs ../shared/data at {SHARED_DIR / 'data'}, which is absent"
        pytest.skip(reason)  # allowed: ../shared absent on a user machine
    return root / "data"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a database on a throwaway PostgreSQL cluster started for this session
    (tests/pgcluster.py), stopped and removed at its end; skips without the binaries."""
    from tests import pgcluster

    try:
        pgcluster.binaries()
    except pgcluster.NoPostgres as exc:
        pytest.skip(str(exc))  # allowed: postgresql absent on a user machine
    with pgcluster.cluster() as started:
        yield started.url()
