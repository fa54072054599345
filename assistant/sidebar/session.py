"""The sidebar session: who the agent is (from the launch token) and its CSRF token.

The session lives in Flask's signed cookie, set `SameSite=None; Secure; Partitioned;
HttpOnly` so that it works inside the host's third-party iframe (CHIPS: the cookie is
kept per top-level site, so another site embedding the sidebar cannot ride on it).
Because a SameSite=None cookie goes along with cross-site requests, every state-changing
request must also carry the session's CSRF token (header `X-CSRF-Token`, or the form
field `csrf_token` for forms posted without JavaScript).

The cookie alone does not make a session: it carries a session token whose record is
kept server-side (`store/sqlite/sessions.py`), and a session whose record has ended (a newer
launch where the host asks for it, `trustline sessions revoke`) or expired is no
session, though its cookie is still signed (issue 12, item 14).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta

from flask import Flask, current_app, request, session

from ..db import get_db
from ..store.sqlite import sessions as records
from .config import DEMO_ISSUER, DEMO_SOURCE, sidebar_config
from .launch import LaunchClaims

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_COOKIE = "trustline_session"
_AGENT_KEY = "trustline.sidebar_agent"  # this request's agent, once looked up
_UNKNOWN = object()


class NotSignedIn(Exception):
    """No sidebar session (never launched, or expired): answer 401."""


class CsrfError(Exception):
    """A state-changing request without the session's CSRF token: answer 403."""


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    name: str
    role: str
    issuer: str
    source: str
    customer: str | None
    theme: str | None

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def is_demo(self) -> bool:
        return self.issuer == DEMO_ISSUER

    @property
    def can_create_customers(self) -> bool:
        return self.role in sidebar_config().create_roles


def configure_cookie(app: Flask, max_age: int) -> None:
    """Session cookie attributes for a third-party iframe (see the module docstring)."""
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_SAMESITE="None",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_PARTITIONED=True,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=max_age),
    )


def start(claims: LaunchClaims) -> Agent:
    """A fresh session for the launched agent (never reuses a previous one's CSRF token),
    recorded server-side; the agent's older sessions from this host end when the token's
    `end_other_sessions` claim or TRUSTLINE_SINGLE_SESSION_ISSUERS asks for it."""
    agent = Agent(
        id=claims.agent_id,
        name=claims.agent_name,
        role=claims.role,
        issuer=claims.issuer,
        # A demo session looks customers up in the demo's own identity source only.
        source=DEMO_SOURCE if claims.issuer == DEMO_ISSUER else claims.source,
        customer=claims.customer,
        theme=claims.theme,
    )
    end_others = (
        claims.end_other_sessions or claims.issuer in sidebar_config().single_session_issuers
    )
    token, _ = records.start(
        get_db(),
        issuer=agent.issuer,
        agent_id=agent.id,
        agent_name=agent.name,
        role=agent.role,
        max_age=int(current_app.permanent_session_lifetime.total_seconds()),
        end_others=end_others,
    )
    session.clear()
    session.permanent = True
    session["agent"] = asdict(agent)
    session["csrf"] = secrets.token_urlsafe(32)
    session["sid"] = token
    request.environ.pop(_AGENT_KEY, None)
    return agent


def session_token() -> str | None:
    """This request's sidebar session token, as its cookie carries it (not checked)."""
    token = session.get("sid") if request.cookies else None
    return token if isinstance(token, str) and token else None


def current_agent() -> Agent | None:
    """The agent of this request's session, if the session's server-side record is
    active and names the same agent; None otherwise (launch again)."""
    # Cached on the request, not on `g`: an app context (and its `g`) may outlive its
    # request, while a stream's response is still being sent.
    cached = request.environ.get(_AGENT_KEY, _UNKNOWN)
    if cached is _UNKNOWN:
        cached = request.environ[_AGENT_KEY] = _session_agent()
    return cached if isinstance(cached, Agent) else None


def _session_agent() -> Agent | None:
    raw = session.get("agent")
    token = session_token()
    if not isinstance(raw, dict) or token is None:
        return None  # never launched, or a cookie from before server-side sessions
    try:
        agent = Agent(**raw)
    except TypeError:  # a cookie from an older version: launch again
        return None
    record = records.active(get_db(), token)
    if record is None or (record.issuer, record.agent_id) != (agent.issuer, agent.id):
        return None
    return agent


def require_agent() -> Agent:
    agent = current_agent()
    if agent is None:
        raise NotSignedIn()
    return agent


def csrf_token() -> str:
    token = session.get("csrf")
    return token if isinstance(token, str) else ""


def check_csrf() -> None:
    """Raise CsrfError unless the request carries this session's CSRF token."""
    expected = csrf_token()
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfError()
