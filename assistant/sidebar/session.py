"""The sidebar session: who the agent is (from the launch token) and its CSRF token.

The session lives in Flask's signed cookie, set `SameSite=None; Secure; Partitioned;
HttpOnly` so that it works inside the host's third-party iframe (CHIPS: the cookie is
kept per top-level site, so another site embedding the sidebar cannot ride on it).
Because a SameSite=None cookie goes along with cross-site requests, every state-changing
request must also carry the session's CSRF token (header `X-CSRF-Token`, or the form
field `csrf_token` for forms posted without JavaScript).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta

from flask import Flask, request, session

from .config import DEMO_ISSUER, DEMO_SOURCE, sidebar_config
from .launch import LaunchClaims

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_COOKIE = "trustline_session"


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
    """A fresh session for the launched agent (never reuses a previous one's CSRF token)."""
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
    session.clear()
    session.permanent = True
    session["agent"] = asdict(agent)
    session["csrf"] = secrets.token_urlsafe(32)
    return agent


def current_agent() -> Agent | None:
    raw = session.get("agent")
    if not isinstance(raw, dict):
        return None
    try:
        return Agent(**raw)
    except TypeError:  # a cookie from an older version: launch again
        return None


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
