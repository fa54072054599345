"""No planted secret reaches a stored fact or a published event (issue 11): every fact
value, attribute and event payload is built from the redacted text, whatever note the
secret is planted in and however it is written."""

from __future__ import annotations

import itertools
import re
import sqlite3
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FILLERS = (
    "Cust called about the late parcel, third time this month.",
    "Prefers email over phone, no calls before 10am.",
    "Interested in the new winter jackets.",
    "Asked to stop the marketing texts.",
    "Charged twice for order 88412, wants a refund.",
    "",
)
CONDITIONS = ("diabetes", "epilepsy", "asthma", "multiple sclerosis", "sertraline 50mg")
SEPARATORS = (" ", "-", ".", "", "\u2013", "  ", "/")


def luhn_complete(prefix: str) -> str:
    for d in "0123456789":
        digits = prefix + d
        total = sum(
            (int(c) * 2 - 9 if int(c) * 2 > 9 else int(c) * 2) if i % 2 else int(c)
            for i, c in enumerate(reversed(digits))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


@st.composite
def planted(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A sentence that carries a secret, and the secret's words that must not survive."""
    kind = draw(st.sampled_from(["card", "password", "pin", "iban", "health", "interest"]))
    if kind == "card":
        digits = luhn_complete("4" + draw(st.text("0123456789", min_size=14, max_size=14)))
        sep = draw(st.sampled_from(SEPARATORS))
        groups = [digits[i : i + 4] for i in range(0, 16, 4)]
        return f"card number {sep.join(groups)} for the payment", groups
    if kind in ("password", "interest"):
        word = draw(st.from_regex(r"[A-Z][a-z]{3,6}[0-9]{2,3}[#!]?", fullmatch=True))
        if kind == "interest":
            return f"Interested in password {word} recovery", [word]
        return f"her password is {word}", [word]
    if kind == "pin":
        pin = draw(st.from_regex(r"[1-9][0-9]{3}", fullmatch=True))
        return f"read out her PIN {pin} by mistake", [pin]
    if kind == "iban":
        return "refund to IBAN GB82 WEST 1234 5698 7654 32", ["WEST", "5698", "7654"]
    condition = draw(st.sampled_from(CONDITIONS))
    return f"mentioned she was diagnosed with {condition}", condition.split()


def survivors(words: list[str], haystack: str) -> list[str]:
    return [
        w
        for w in words
        if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", haystack, re.IGNORECASE) is not None
    ]


def test_no_planted_secret_reaches_a_fact_or_an_event(
    app: Flask, client: FlaskClient, api_headers: dict[str, str]
) -> None:
    ids = itertools.count()
    database = Path(app.config["TRUSTLINE_DATABASE"])

    @SETTINGS
    @given(planted(), st.sampled_from(FILLERS), st.sampled_from(FILLERS))
    def check(secret: tuple[str, list[str]], before: str, after: str) -> None:
        sentence, words = secret
        customer = f"c-{next(ids)}"
        resp = client.put(
            f"/api/v1/customers/{customer}", json={"name": "Test"}, headers=api_headers
        )
        assert resp.status_code in (200, 201), resp.json
        text = f"{before} {sentence}. {after}".strip()
        resp = client.post(
            f"/api/v1/customers/{customer}/notes",
            json={"text": text, "agent": "agent-7"},
            headers=api_headers,
        )
        assert resp.status_code == 201, resp.json
        published = client.get(f"/api/v1/customers/{customer}/events", headers=api_headers)
        profile = client.get(f"/api/v1/customers/{customer}/profile", headers=api_headers)
        with sqlite3.connect(database) as db:
            stored = " ".join(
                str(cell)
                for table in ("facts", "events")
                for row in db.execute(f"SELECT * FROM {table}")
                for cell in row
            )
        for where in (resp.get_data(as_text=True), published.get_data(as_text=True),
                      profile.get_data(as_text=True), stored):  # fmt: skip
            assert survivors(words, where) == [], (text, where[:400])

    check()
