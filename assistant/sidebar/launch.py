"""Launch tokens: the host signs who the agent is (HS256, one secret per host); we verify.

Claims (see docs/sidebar.md):

    iss       the host, picks its secret in TRUSTLINE_LAUNCH_SECRETS      (required)
    aud       TRUSTLINE_LAUNCH_AUDIENCE                                  (required)
    sub       the agent's id in the host                                 (required)
    role      "agent" or "supervisor"                                    (required)
    iat, exp  issue and expiry times; exp - iat <= TRUSTLINE_LAUNCH_MAX_AGE (required)
    name      the agent's display name                          (optional, default sub)
    source    the identity source the host's customer ids belong to (optional, default iss)
    customer  the host's id of the customer in view                      (optional)
    theme     "light" or "dark"                                          (optional)
    end_other_sessions  true: end this agent's older sessions from this host (optional)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from .config import ROLES

ALGORITHM = "HS256"
LEEWAY_SECONDS = 30  # clock skew between the host and us
THEMES = ("light", "dark")
_MAX_CLAIM = 200


class LaunchError(Exception):
    """A launch token that does not let anyone in; `reason` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LaunchClaims:
    issuer: str
    agent_id: str
    agent_name: str
    role: str
    source: str
    customer: str | None
    theme: str | None
    end_other_sessions: bool = False


def verify(
    token: str,
    secrets: Mapping[str, str],
    *,
    audience: str,
    max_age: int,
) -> LaunchClaims:
    """Check signature, issuer, audience, expiry and shape; raises LaunchError."""
    if not token:
        raise LaunchError("no launch token")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise LaunchError("malformed launch token") from None
    if header.get("alg") != ALGORITHM:
        raise LaunchError(f"launch tokens must be signed with {ALGORITHM}")
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or issuer not in secrets:
        raise LaunchError("unknown issuer")
    secret = secrets[issuer]
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise LaunchError("launch token expired") from None
    except jwt.InvalidAudienceError:
        raise LaunchError("launch token is for another audience") from None
    except jwt.InvalidSignatureError:
        raise LaunchError("bad signature") from None
    except jwt.PyJWTError as exc:
        raise LaunchError(f"invalid launch token: {exc}") from None
    lifetime = float(claims["exp"]) - float(claims["iat"])
    if lifetime > max_age:
        raise LaunchError(f"launch token lives {lifetime:.0f} s; at most {max_age} s allowed")
    role = claims.get("role")
    if role not in ROLES:
        raise LaunchError(f"role must be {' or '.join(ROLES)}")
    theme = claims.get("theme")
    end_others = claims.get("end_other_sessions", False)
    if not isinstance(end_others, bool):
        raise LaunchError("claim 'end_other_sessions' must be true or false")
    return LaunchClaims(
        issuer=issuer,
        agent_id=_text(claims, "sub", required=True) or "",
        agent_name=_text(claims, "name") or str(claims["sub"]),
        role=str(role),
        source=_text(claims, "source") or issuer,
        customer=_text(claims, "customer"),
        theme=theme if theme in THEMES else None,
        end_other_sessions=end_others,
    )


def _text(claims: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = claims.get(key)
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # helpdesks number their contacts
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_CLAIM:
        raise LaunchError(f"claim {key!r} must be a string of 1-{_MAX_CLAIM} characters")
    return value.strip()


def sign(
    secret: str,
    *,
    issuer: str,
    audience: str,
    agent_id: str,
    role: str,
    name: str | None = None,
    source: str | None = None,
    customer: str | None = None,
    theme: str | None = None,
    end_other_sessions: bool | None = None,
    lifetime: int = 120,
    now: float | None = None,
) -> str:
    """A launch token as a host would make it (the demo desktop and the tests use this)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": agent_id,
        "role": role,
        "iat": issued,
        "exp": issued + lifetime,
    }
    optional = {
        "name": name,
        "source": source,
        "customer": customer,
        "theme": theme,
        "end_other_sessions": end_other_sessions,
    }
    claims.update({k: v for k, v in optional.items() if v is not None})
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
