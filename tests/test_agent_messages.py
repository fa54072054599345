"""Errors an agent meets at the sidebar speak to the agent (issue 15, part 3): they say
what to do with the note, not which setting an operator could raise."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_sidebar import app as app  # the fixture: the sidebar with a launch secret
from test_sidebar import customer as customer  # the fixture: Ada, c-1
from test_sidebar import db as db  # the fixture: a handle on the app's database
from test_sidebar import html, hx, sign_in

from nlp import TextTimeBudgetError, TextTooLongError


@pytest.mark.parametrize("error", [TextTooLongError(120_000, 100_000), TextTimeBudgetError(12.0)])
def test_the_agents_message_names_no_setting(error: Exception) -> None:
    message = error.agent_message()  # type: ignore[attr-defined]
    assert "TRUSTLINE_" not in message and "raise" not in message
    assert message.startswith("This note ") and message.endswith(".")
    assert "TRUSTLINE_" in str(error)  # the operator's message still says what to set


def test_too_long_note_message_says_how_long_and_what_to_do() -> None:
    message = TextTooLongError(120_000, 100_000).agent_message()
    assert message.startswith("This note is too long to save: ")
    assert "120,000" in message and "100,000" in message
    assert "Shorten it or split it" in message


def test_the_sidebar_shows_the_agent_message(
    app: Flask, client: FlaskClient, customer: str
) -> None:
    csrf = sign_in(client)
    limit = app.config["TRUSTLINE_MAX_TEXT_CHARS"]
    long = "Prefers sms. " * (limit // 10)
    for action in ("preview", "notes"):
        resp = client.post(
            f"/sidebar/customers/{customer}/{action}", data={"text": long}, headers=hx(csrf)
        )
        page = html(resp)
        assert "This note is too long to save" in page, action
        assert "Shorten it or split it" in page and "TRUSTLINE_" not in page, action
