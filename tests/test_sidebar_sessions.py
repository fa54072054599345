"""Sidebar sessions kept server-side (issue 12, item 14): a session cookie stayed valid
for 12 h after a newer launch for the same agent and could not be revoked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from test_sidebar import CRM_SECRET, HOST_ORIGIN, HOST_SECRET, html, sign_in, token
from test_sidebar import customer as customer  # the fixture: Ada, c-1

from assistant.cli import main
from assistant.store.sqlite import sessions as records
from assistant.store.sqlite.db import connect

SIDEBAR = {
    "TRUSTLINE_SECRET_KEY": "session-key-for-tests-only-" + "k" * 20,
    "TRUSTLINE_LAUNCH_SECRETS": f"helpdesk={HOST_SECRET},crm={CRM_SECRET}",
    "TRUSTLINE_HOST_ORIGINS": HOST_ORIGIN,
    "TRUSTLINE_SSE_MAX_SECONDS": 0.6,
    "TRUSTLINE_SSE_POLL_MS": 20,
    "TRUSTLINE_SSE_HEARTBEAT_SECONDS": 0.3,
}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(**SIDEBAR)


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    handle = connect(app.config["TRUSTLINE_DATABASE"])
    yield handle
    handle.conn.close()


def _signed_in(app: Flask, **claims: Any) -> Any:
    client = app.test_client()
    sign_in(client, **claims)
    return client


def test_a_launch_that_asks_ends_the_agents_older_sessions(app: Flask) -> None:
    older = _signed_in(app, agent_id="agent-7")
    elsewhere = _signed_in(app, agent_id="agent-7", issuer="crm", secret=CRM_SECRET)
    colleague = _signed_in(app, agent_id="agent-8")
    newer = _signed_in(app, agent_id="agent-7", end_other_sessions=True)
    ended = older.get("/sidebar")
    assert ended.status_code == 401
    assert "session has ended" in html(ended)
    assert newer.get("/sidebar").status_code == 200
    assert colleague.get("/sidebar").status_code == 200  # another agent
    assert elsewhere.get("/sidebar").status_code == 200  # the same agent, another host


def test_without_it_an_agent_keeps_several_sessions(app: Flask) -> None:
    first = _signed_in(app, agent_id="agent-7")
    second = _signed_in(app, agent_id="agent-7")
    assert first.get("/sidebar").status_code == 200
    assert second.get("/sidebar").status_code == 200


def test_a_host_setting_ends_older_sessions_at_every_launch(
    make_app: Callable[..., Flask],
) -> None:
    single = make_app(**SIDEBAR, TRUSTLINE_SINGLE_SESSION_ISSUERS="helpdesk")
    older = _signed_in(single, agent_id="agent-7")
    newer = _signed_in(single, agent_id="agent-7")
    assert older.get("/sidebar").status_code == 401
    assert newer.get("/sidebar").status_code == 200


def test_the_claim_must_be_a_boolean(app: Flask) -> None:
    client = app.test_client()
    resp = client.get("/sidebar/launch?token=" + token(end_other_sessions="yes"))
    assert resp.status_code == 401
    assert "end_other_sessions" in html(resp)


@pytest.fixture
def cli(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    for name in ("TRUSTLINE_DATABASE", "TRUSTLINE_SECRET_KEY", "TRUSTLINE_LAUNCH_SECRETS"):
        monkeypatch.setenv(name, str(app.config[name]))
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, ["sessions", *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_sessions_are_listed_and_revoked_from_the_command_line(
    app: Flask, cli: Callable[..., str]
) -> None:
    mine = _signed_in(app, agent_id="agent-7", name="Grace Agent")
    other = _signed_in(app, agent_id="agent-8")
    listed = cli("list")
    assert "helpdesk:agent-7 (Grace Agent, agent)" in listed and "agent-8" in listed
    assert "active" in listed
    session_id = listed.split("helpdesk:agent-7")[0].split()[-1]
    assert "ended 1 session(s)" in cli("revoke", session_id)
    assert mine.get("/sidebar").status_code == 401  # at once, though the cookie is signed
    assert other.get("/sidebar").status_code == 200
    assert "agent-7" not in cli("list")
    assert "ended (revoked with trustline sessions revoke)" in cli("list", "--all")
    assert "no active session" in cli("revoke", session_id, code=1)
    assert "ended 1 session(s)" in cli("revoke", "--agent", "agent-8")
    assert other.get("/sidebar").status_code == 401
    assert "give session ids, or --agent" in cli("revoke", code=2)


@pytest.mark.usefixtures("customer")
def test_an_open_stream_of_a_revoked_session_ends(app: Flask, db: Any) -> None:
    client = _signed_in(app, agent_id="agent-7")
    resp = client.get("/customers/c-1/stream", buffered=False)
    assert resp.status_code == 200
    records.end(db, agent_id="agent-7", reason="test")
    body = resp.get_data(as_text=True)  # the stream ends by itself within a heartbeat
    resp.close()
    assert "event: closed\ndata: session ended" in body
