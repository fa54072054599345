"""One consent truth, rendered the same everywhere (issue 15): for every combination of
purpose-wide and channel records in tests/consent_cases.py, the sidebar (in Chromium),
the customer's own page, the API and `trustline profile` say what
assistant/consent_state.py says.

Adding a view is adding a reader to READERS: a function (views, customer id) -> the
marketing summary as that view shows it.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from selenium.webdriver.remote.webdriver import WebDriver

from assistant import services
from assistant.cli import main
from assistant.consent_state import purpose_state
from assistant.customer_page import links
from assistant.customer_page.views import link_key
from assistant.policy import load_policy
from assistant.store.sqlite.db import connect
from tests.conftest import API_KEY
from tests.consent_cases import COMBINATIONS, NAMED, PURPOSE, Case, Record, timed
from tests.test_sidebar_browser import (  # noqa: F401  (module fixtures: one server, one browser)
    Server,
    app,
    driver,
    no_csp_violations,
    open_sidebar,
    server,
    text_of,
)

POLICY = load_policy()


@dataclass
class Views:
    app: Flask
    driver: WebDriver
    server: Server


def sidebar_summary(views: Views, customer_id: str) -> str:
    contact = _contact(customer_id)
    open_sidebar(views.driver, views.server, contact=contact)
    return text_of(views.driver, f'#profile li[data-purpose="{PURPOSE}"] .pill')


def customer_page_summary(views: Views, customer_id: str) -> str:
    """The summary on the customer's own page, opened with a link of hers."""
    db = connect(views.app.config["TRUSTLINE_DATABASE"])
    try:
        with views.app.app_context():
            key = link_key()
        token, _ = links.create(db, key, customer_id, ttl=timedelta(hours=1), actor="test")
    finally:
        db.conn.close()
    client = views.app.test_client()
    opened = client.get(f"/my/{token}")
    assert opened.status_code == 303, opened.get_data(as_text=True)
    page = client.get("/my")
    assert page.status_code == 200
    card = re.search(
        rf'<article class="card purpose" data-purpose="{PURPOSE}".*?</article>',
        page.get_data(as_text=True),
        flags=re.S,
    )
    assert card is not None, f"no {PURPOSE} card on the page"
    pill = re.search(r'<span class="pill [^"]*\bsummary\b[^"]*">(.*?)</span>', card.group(0), re.S)
    assert pill is not None, "no summary on the card"
    return html.unescape(re.sub(r"\s+", " ", pill.group(1))).strip()


def api_summary(views: Views, customer_id: str) -> str:
    client = views.app.test_client()
    resp = client.get(
        f"/api/v1/customers/{customer_id}/profile",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    summary: str = resp.json["consents"][PURPOSE]["summary"]
    return summary


def cli_summary(views: Views, customer_id: str) -> str:
    env = {**os.environ, "TRUSTLINE_DATABASE": views.app.config["TRUSTLINE_DATABASE"]}
    result = CliRunner().invoke(main, ["profile", customer_id], env=env)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.strip().startswith(PURPOSE + " "))
    return line.strip()[len(PURPOSE) :].strip()


READERS: dict[str, Callable[[Views, str], str]] = {
    "sidebar": sidebar_summary,
    "customer page": customer_page_summary,
    "api": api_summary,
    "cli": cli_summary,
}


def _contact(customer_id: str) -> str:
    return "cv-" + customer_id.removeprefix("demo-cv-")


def _customer(flask_app: Flask, index: int, records: tuple[Record, ...]) -> tuple[str, str]:
    """A customer with these marketing records; returns (id, the domain's summary)."""
    customer_id = f"demo-cv-{index}"
    db = connect(flask_app.config["TRUSTLINE_DATABASE"])
    try:
        services.upsert_customer(
            db,
            customer_id,
            actor="test",
            name=f"Consent case {index}",
            identities=[services.Identity("chatwoot", _contact(customer_id))],
        )
        for channel, status, at, until in timed(records):
            services.record_consent(
                db,
                POLICY,
                customer_id,
                purpose=PURPOSE,
                channel=channel,
                status=status,
                actor="test",
                source="agent",
                method="verbal",
                evidence={"agent": "test"},
                effective_from=at,
                effective_to=until,
                now=at,
            )
        state = purpose_state(
            services.consent_state(db, customer_id), POLICY.purposes[PURPOSE], services.utcnow()
        )
    finally:
        db.conn.close()
    return customer_id, state.summary


@pytest.fixture(scope="module")
def views(app: Flask, driver: WebDriver, server: Server) -> Views:  # noqa: F811
    return Views(app, driver, server)


EXPECTED = {case.records: case.summary for case in NAMED}


@pytest.mark.parametrize(
    ("index", "records"), list(enumerate(COMBINATIONS)), ids=lambda v: Case(v, "", "").id
    if isinstance(v, tuple) else str(v)
)  # fmt: skip
def test_every_view_renders_the_same_consent_state(
    views: Views, index: int, records: tuple[Record, ...]
) -> None:
    customer_id, summary = _customer(views.app, index, records)
    if records in EXPECTED:
        assert summary == EXPECTED[records]
    shown: dict[str, Any] = {name: read(views, customer_id) for name, read in READERS.items()}
    assert shown == dict.fromkeys(READERS, summary)
