"""The demo agent desktop (issue 12, item 10): its own identity source and data, on only
where asked, never showing or creating real customers."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import api_key_hash
from flask import Flask
from flask.testing import FlaskClient

from assistant import services
from assistant.cli import main
from assistant.db import get_db
from assistant.policy import load_policy
from assistant.sidebar import launch
from assistant.sidebar.demo import CUSTOMERS, seed
from assistant.store.sqlite.db import connect
from nlp import Extractor

CHATWOOT_SECRET = "chatwoot-launch-secret-for-tests-" + "c" * 32
ROOT = Path(__file__).parents[1]


@pytest.fixture
def app(make_app: Callable[..., Flask], extractor: Extractor) -> Flask:
    app = make_app(
        TRUSTLINE_SECRET_KEY="demo-key-" + "d" * 40,
        TRUSTLINE_DEMO=True,
        TRUSTLINE_LAUNCH_SECRETS=f"chatwoot={CHATWOOT_SECRET}",
    )
    with app.app_context():
        seed(get_db(), extractor, load_policy())
    return app


def _csrf(client: FlaskClient) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/sidebar").get_data(as_text=True))
    assert found
    return found.group(1)


def demo_session(client: FlaskClient, role: str = "agent") -> str:
    src = re.search(r'src="(/sidebar/launch[^"]+)"', client.get(f"/?role={role}").get_data(True))
    assert src
    assert client.get(src.group(1).replace("&amp;", "&")).status_code == 303
    return _csrf(client)


def chatwoot_session(client: FlaskClient, contact: str) -> str:
    """A real Chatwoot agent, launched by the real host for one of its contacts."""
    token = launch.sign(
        CHATWOOT_SECRET,
        issuer="chatwoot",
        audience="trustline-sidebar",
        agent_id="agent-real",
        role="supervisor",
        customer=contact,
    )
    assert client.get("/sidebar/launch?token=" + token).status_code == 303
    return _csrf(client)


def test_real_chatwoot_contacts_never_resolve_to_demo_customers(app: Flask) -> None:
    db = connect(app.config["TRUSTLINE_DATABASE"])
    for demo in CUSTOMERS:
        assert services.resolve_identity(db, "chatwoot", demo.contact_id) is None
        assert services.resolve_identity(db, "crm", demo.crm_id) is None
    client = app.test_client()
    chatwoot_session(client, CUSTOMERS[0].contact_id)  # contact 101 of a real Chatwoot
    page = client.get(f"/sidebar?external_id={CUSTOMERS[0].contact_id}").get_data(True)
    assert CUSTOMERS[0].name not in page


def test_a_customer_made_in_the_demo_never_meets_a_real_agent(app: Flask) -> None:
    visitor = app.test_client()
    csrf = demo_session(visitor, role="supervisor")
    made = visitor.post(
        "/sidebar/customers",
        data={"external_id": "5555", "name": "Anon Visitor"},
        headers={"X-CSRF-Token": csrf},
    )
    assert made.status_code == 303
    db = connect(app.config["TRUSTLINE_DATABASE"])
    assert services.resolve_identity(db, "chatwoot", "5555") is None
    agent = app.test_client()
    chatwoot_session(agent, "5555")
    page = agent.get("/sidebar?external_id=5555").get_data(as_text=True)
    assert "Anon Visitor" not in page


def test_serve_leaves_the_demo_off_unless_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRUSTLINE_DEMO", "")
    monkeypatch.delenv("TRUSTLINE_DEMO")  # restored to unset afterwards
    monkeypatch.setenv("TRUSTLINE_DATABASE", str(tmp_path / "serve.db"))
    monkeypatch.setenv("TRUSTLINE_API_KEY_HASHES", api_key_hash())
    seen: dict[str, object] = {}
    monkeypatch.setattr("assistant.engine.preload", lambda app: None)
    monkeypatch.setattr(
        "assistant.sidebar.demo.seed_app",
        lambda app: seen.update(demo=app.config["TRUSTLINE_DEMO"]) or [],
    )
    monkeypatch.setattr("werkzeug.serving.run_simple", lambda *a, **k: seen.update(ran=True))
    monkeypatch.setattr("assistant.webhooks.worker.start_worker_thread", lambda app: None)
    result = CliRunner().invoke(main, ["serve", "--dev", "--port", "5999"])
    assert result.exit_code == 0, result.output
    assert seen["ran"] and seen["demo"] in (False, "", "0")
    assert "Demo agent desktop" not in result.output
    # `make run` asks for it.
    dry = subprocess.run(
        ["make", "-n", "-W", "requirements.txt", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    serve = next(line for line in dry.stdout.splitlines() if "trustline serve" in line)
    assert "TRUSTLINE_DEMO=1" in serve
