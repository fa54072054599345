"""API keys: `Authorization: Bearer <key>`, scoped, stored only as sha256 digests.

Keys live in the `api_keys` table (`trustline keys create`). Digests listed in
TRUSTLINE_API_KEY_HASHES are accepted too, with every scope (bootstrap / dev keys).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

import sqlite_utils
from flask import Flask, current_app, g, request

from .db import get_db
from .store.interface import KeyStore
from .store.sqlite.auth import SQLiteKeyStore

F = TypeVar("F", bound=Callable[..., Any])
SCOPES = ("read", "write", "consent", "admin")


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    scopes: frozenset[str]
    # Stable and unique per key, whatever way its header was written: rate limits and
    # stream slots are counted on it.
    subject: str = ""

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random API key (shown once; store only `hash_key(key)`)."""
    return "tl_" + secrets.token_urlsafe(32)


def create_key(db: sqlite_utils.Database, name: str, scopes: Iterable[str]) -> str:
    """Store a new key's digest with its scopes and return the key (shown once)."""
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if not wanted or unknown:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)} (got {', '.join(unknown)})")
    key = new_key()
    keys: KeyStore = SQLiteKeyStore(db)
    keys.insert_api_key(name, hash_key(key), wanted, datetime.now(UTC).isoformat())
    return key


def init_app(app: Flask) -> None:
    raw = app.config.get("TRUSTLINE_API_KEY_HASHES") or ""
    hashes = raw if isinstance(raw, list | tuple | set | frozenset) else str(raw).split(",")
    app.config["TRUSTLINE_API_KEY_HASHES"] = frozenset(
        h.strip().lower() for h in hashes if h.strip()
    )


def principal_for(key: str) -> Principal | None:
    digest = hash_key(key)
    allowed: frozenset[str] = current_app.config["TRUSTLINE_API_KEY_HASHES"]
    if any(hmac.compare_digest(digest, h) for h in allowed):
        return Principal("config-key", frozenset(SCOPES), f"config:{digest[:32]}")
    keys: KeyStore = SQLiteKeyStore(get_db())
    found = keys.active_api_key(digest)
    if found is None:
        return None
    return Principal(found["name"], frozenset(found["scopes"]), f"key:{found['id']}")


def bearer_key() -> str | None:
    """The key of this request's `Authorization: Bearer <key>` header (the scheme in any
    case, spaces around the key dropped), or None."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def current_principal() -> Principal:
    """The authenticated caller of this request (raises AuthError 401)."""
    cached: Principal | None = g.get("principal")
    if cached is not None:
        return cached
    key = bearer_key()
    principal = principal_for(key) if key else None
    if principal is None:
        raise AuthError(401, "unauthorized", "send Authorization: Bearer <api key>")
    g.principal = principal
    return principal


def require(scope: str) -> Callable[[F], F]:
    """Reject requests whose key lacks `scope` (401 without a key, 403 without the scope)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_principal().allows(scope):
                raise AuthError(403, "forbidden", f"this API key lacks the '{scope}' scope")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


api_key_required = require("read")
