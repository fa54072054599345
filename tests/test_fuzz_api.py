"""Fuzz the JSON API from its own OpenAPI document with schemathesis (issue 6, hostile input).

Schemathesis reads the document the app serves at /api/v1/openapi.json (built by
assistant/api/openapi.py: the API's own document with the webhooks fragment merged in),
generates requests for every operation, valid ones and invalid ones (wrong types,
missing fields, odd headers, other methods), and sends them to a real app through its
WSGI interface: a temporary SQLite database with seeded customers, facts, a consent
proposal, a webhook subscription and a dead delivery, called with a real API key that
holds every scope. Path ids are the seeded ones half the time, so requests get past the
404s. Every answer must be:

* not a server error (no 5xx, no exception out of the app),
* a status code the document declares for the operation,
* of a content type the document declares for that status,
* a body that validates against the declared schema, with the declared headers.

Bounded and reproducible: EXAMPLES_PER_OPERATION examples per operation, no deadline,
derandomized (the same requests on every run) and no example database.

Bugs this found (fixed): ids beyond SQLite's 64-bit integers in paths (fact, webhook,
delivery ids), in query strings (`after`, `subscription_id`) and in bodies
(`proposal_id`) raised OverflowError, a 500.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from assistant import services
from assistant.api import openapi
from assistant.auth import SCOPES, create_key
from assistant.policy import load_policy
from assistant.store.sqlite.db import connect
from assistant.webhooks import outbox, subscriptions
from nlp import Extractor

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES_PER_OPERATION = 60
CUSTOMERS = ("c-1", "c-2")
NOTES = (
    "Prefers email, no calls. Parcel arrived damaged again, very unhappy.",
    "Interested in hiking boots, size 6. Happy for us to text her about offers.",
)


def fuzzed_document() -> dict[str, Any]:
    """The document as the app serves it (loading it needs no app: it is a file and a
    fragment), without the paths served outside /api/v1: the event stream stays open for
    TRUSTLINE_SSE_MAX_SECONDS, and tests/test_openapi.py checks its answers."""
    doc = openapi.document()
    doc["paths"] = {path: item for path, item in doc["paths"].items() if "servers" not in item}
    return doc


schema = schemathesis.openapi.from_dict(fuzzed_document())


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Half the time, ids of seeded rows (customer c-1, its first fact, subscription 1,
    dead delivery 1), so that requests reach the code behind the 404s."""
    if not path_parameters:
        return st.just(path_parameters)
    real = dict(path_parameters)
    if "customer_id" in real:
        real["customer_id"] = CUSTOMERS[0]
    for name in ("fact_id", "subscription_id", "delivery_id"):
        if name in real:
            real[name] = 1
    return st.sampled_from([path_parameters, real])


@pytest.fixture
def fuzz_app(make_app: Callable[..., Flask], extractor: Extractor) -> tuple[Flask, str]:
    """A real app with seeded rows, and an API key (in the database) with every scope."""
    # No rate limit: the fuzzer sends a few hundred requests a second with one key.
    app = make_app(TRUSTLINE_RATE_LIMIT_PER_MINUTE=0)
    db = connect(app.config["TRUSTLINE_DATABASE"])
    try:
        subscriptions.create(db, "https://crm.example/hooks", ["*"], actor="fuzz")
        policy = load_policy()
        for customer_id in CUSTOMERS:
            services.upsert_customer(
                db,
                customer_id,
                actor="fuzz",
                name="Ada Lovelace",
                identities=[services.Identity("crm", f"crm-{customer_id}")],
            )
            for note in NOTES:
                services.ingest_note(db, extractor, policy, customer_id, note, agent="fuzz")
        outbox.fan_out(db, now=time.time())  # the events become deliveries
        # As if delivery 1 had used up its attempts: a dead letter, which may be replayed.
        db.execute("UPDATE webhook_deliveries SET status = 'dead' WHERE id = 1")
        db.conn.commit()
        key = create_key(db, "fuzz", SCOPES)
    finally:
        db.conn.close()
    return app, key


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    # The app fixture is shared by one operation's examples on purpose (one database).
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_every_answer_matches_the_document(case: Any, fuzz_app: tuple[Flask, str]) -> None:
    app, key = fuzz_app
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)


def test_the_fuzzer_reaches_every_operation() -> None:
    """Each documented operation is fuzzed (so one left out of the document shows in
    tests/test_openapi.py, and one the fuzzer skips shows here)."""
    documented = {
        (method.upper(), path)
        for path, item in fuzzed_document()["paths"].items()
        for method in item
        if method not in ("parameters", "summary", "description")
    }
    fuzzed = {
        (result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()
    }
    assert fuzzed == documented
