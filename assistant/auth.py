"""API keys: callers send `Authorization: Bearer <key>`; only sha256 digests are kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, jsonify, request

F = TypeVar("F", bound=Callable[..., Any])


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random API key (shown once; store only `hash_key(key)`)."""
    return "tl_" + secrets.token_urlsafe(32)


def init_app(app: Flask) -> None:
    raw = app.config.get("TRUSTLINE_API_KEY_HASHES") or ""
    hashes = raw if isinstance(raw, list | tuple | set) else raw.split(",")
    app.config["TRUSTLINE_API_KEY_HASHES"] = {h.strip().lower() for h in hashes if h.strip()}


def key_allowed(key: str) -> bool:
    digest = hash_key(key)
    allowed: set[str] = current_app.config["TRUSTLINE_API_KEY_HASHES"]
    # compare against every digest in constant time per comparison
    return any(hmac.compare_digest(digest, h) for h in allowed)


def api_key_required(view: F) -> F:
    """Reject requests without a valid bearer API key (401, JSON error)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key or not key_allowed(key.strip()):
            resp = jsonify(error="unauthorized", message="send Authorization: Bearer <api key>")
            resp.status_code = 401
            resp.headers["WWW-Authenticate"] = 'Bearer realm="trustline"'
            return resp
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
