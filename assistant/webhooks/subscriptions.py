"""Outbound subscriptions: a target URL, the event types it wants, its signing secrets.

Secrets are stored as given (they must sign); they are shown once, when created or
rotated, and never listed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from ..domain.events import EVENT_TYPES
from ..store.sqlite import audit
from ..store.sqlite.db import row, rows, writing
from .errors import WebhookError
from .network import Network, RefusedAddress, Resolver, checked_addresses, system_resolver
from .signing import new_secret

ALL = "*"
MAX_URL = 2000


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def check_url(url: str) -> str:
    """An absolute http(s) URL without credentials or fragment (raises WebhookError)."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        raise WebhookError(400, "invalid_url", "the URL cannot be parsed") from None
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(
            400, "invalid_url", f"give an absolute http(s) URL of at most {MAX_URL} characters"
        )
    if parts.username or parts.password or parts.fragment:
        raise WebhookError(400, "invalid_url", "the URL must not carry credentials or a fragment")
    return url


def check_target(url: str, allowed: Sequence[Network], resolve: Resolver = system_resolver) -> None:
    """Raise WebhookError 400 when `url`'s host is, or resolves to, an address the
    worker would refuse (the SSRF guard of every attempt), naming the reason and the
    setting that allows it. A name that does not resolve now passes: each attempt
    checks again."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        checked_addresses(host, port, allowed, resolve)
    except RefusedAddress as exc:
        raise WebhookError(
            400,
            "refused_target",
            f"webhooks are never sent there: {exc}. Add its network to "
            "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS to allow it",
        ) from None
    except OSError:
        pass


def check_event_types(types: Iterable[str]) -> list[str]:
    """Known event types, or ["*"] (raises WebhookError)."""
    wanted = sorted({t.strip() for t in types if t.strip()})
    if not wanted:
        raise WebhookError(400, "invalid_events", "name at least one event type, or '*'")
    if ALL in wanted:
        return [ALL]
    unknown = [t for t in wanted if t not in EVENT_TYPES]
    if unknown:
        raise WebhookError(
            400,
            "invalid_events",
            f"unknown event type {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)} or '*'",
        )
    return wanted


def wants(event_types: list[str], event_type: str) -> bool:
    """Whether a subscription gets `event_type`; erasures reach every subscriber."""
    return event_type == "customer.erased" or ALL in event_types or event_type in event_types


def view(sub: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": sub["id"],
        "url": sub["url"],
        "events": json.loads(sub["event_types"]),
        "description": sub["description"],
        "active": bool(sub["active"]),
        "disabled_reason": sub["disabled_reason"],
        "created_at": sub["created_at"],
        "updated_at": sub["updated_at"],
    }


def get(db: sqlite_utils.Database, subscription_id: int) -> dict[str, Any]:
    found = row(db, "SELECT * FROM webhook_subscriptions WHERE id = ?", [subscription_id])
    if found is None:
        raise WebhookError(404, "not_found", f"webhook subscription {subscription_id} not found")
    return view(found)


def list_all(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [view(s) for s in rows(db, "SELECT * FROM webhook_subscriptions ORDER BY id")]


def create(
    db: sqlite_utils.Database,
    url: str,
    event_types: Iterable[str],
    *,
    actor: str,
    description: str | None = None,
    now: datetime | None = None,
    allowed: Sequence[Network] | None = None,
) -> tuple[dict[str, Any], str]:
    """Add a subscription; returns it and its secret (shown once).

    It receives the events committed after it was created, not earlier ones. With
    `allowed` (the API and the CLI pass TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS), a target
    the worker would refuse is refused now (`check_target`).
    """
    url, types = check_url(url), check_event_types(event_types)
    if allowed is not None:
        check_target(url, allowed)
    at = _iso(now or datetime.now(UTC))
    secret = new_secret()
    with writing(db):
        last = row(db, "SELECT seq FROM sqlite_sequence WHERE name = 'webhook_outbox'")
        cur = db.execute(
            "INSERT INTO webhook_subscriptions (url, event_types, description, active, "
            "start_seq, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
            [url, json.dumps(types), description, last["seq"] if last else 0, at, at],
        )
        sub_id = int(cur.lastrowid or 0)
        db.execute(
            "INSERT INTO webhook_secrets (subscription_id, secret, created_at) VALUES (?, ?, ?)",
            [sub_id, secret, at],
        )
        audit.append(
            db,
            at=at,
            actor=actor,
            action="webhook.subscribed",
            subject=None,
            details={"subscription_id": sub_id, "events": types},
        )
    return get(db, sub_id), secret


def update(
    db: sqlite_utils.Database,
    subscription_id: int,
    *,
    actor: str,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    active: bool | None = None,
    reason: str | None = None,
    now: datetime | None = None,
    allowed: Sequence[Network] | None = None,
) -> dict[str, Any]:
    """Change a subscription's URL, event types or active flag.

    Disabling holds its queued deliveries (enabling resumes them); events committed while
    it is disabled are not queued for it, except erasures. A new URL is checked as in
    `create`.
    """
    if url is not None and allowed is not None:
        check_target(check_url(url), allowed)
    at = _iso(now or datetime.now(UTC))
    with writing(db):
        before = get(db, subscription_id)
        if url is not None:
            db.execute(
                "UPDATE webhook_subscriptions SET url = ? WHERE id = ?",
                [check_url(url), subscription_id],
            )
        if event_types is not None:
            db.execute(
                "UPDATE webhook_subscriptions SET event_types = ? WHERE id = ?",
                [json.dumps(check_event_types(event_types)), subscription_id],
            )
        if active is not None:
            db.execute(
                "UPDATE webhook_subscriptions SET active = ?, disabled_reason = ? WHERE id = ?",
                [
                    int(active),
                    None if active else (reason or f"disabled by {actor}"),
                    subscription_id,
                ],
            )
        db.execute(
            "UPDATE webhook_subscriptions SET updated_at = ? WHERE id = ?", [at, subscription_id]
        )
        after = get(db, subscription_id)
        changed = sorted(k for k in ("url", "events", "active") if before[k] != after[k])
        audit.append(
            db,
            at=at,
            actor=actor,
            action="webhook.updated",
            subject=None,
            details={"subscription_id": subscription_id, "changed": changed},
        )
    return after


def rotate(
    db: sqlite_utils.Database,
    subscription_id: int,
    *,
    actor: str,
    overlap_hours: float,
    now: datetime | None = None,
) -> tuple[str, str]:
    """Add a new secret; the previous one keeps signing for `overlap_hours` (both
    signatures are sent), older ones stop at once. Returns (secret, old expiry)."""
    when = now or datetime.now(UTC)
    at, until = _iso(when), _iso(when + timedelta(hours=overlap_hours))
    secret = new_secret()
    with writing(db):
        get(db, subscription_id)
        current = row(
            db,
            "SELECT id FROM webhook_secrets WHERE subscription_id = ? "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY id DESC LIMIT 1",
            [subscription_id, at],
        )
        db.execute(
            "DELETE FROM webhook_secrets WHERE subscription_id = ? AND id != ?",
            [subscription_id, current["id"] if current else -1],
        )
        if current is not None:
            db.execute(
                "UPDATE webhook_secrets SET expires_at = ? WHERE id = ?", [until, current["id"]]
            )
        db.execute(
            "INSERT INTO webhook_secrets (subscription_id, secret, created_at) VALUES (?, ?, ?)",
            [subscription_id, secret, at],
        )
        audit.append(
            db,
            at=at,
            actor=actor,
            action="webhook.secret_rotated",
            subject=None,
            details={"subscription_id": subscription_id, "previous_until": until},
        )
    return secret, until


def signing_secrets(
    db: sqlite_utils.Database, subscription_id: int, now: datetime | None = None
) -> list[str]:
    """The secrets that sign now, newest first (two during a rotation)."""
    at = _iso(now or datetime.now(UTC))
    found = rows(
        db,
        "SELECT secret FROM webhook_secrets WHERE subscription_id = ? "
        "AND (expires_at IS NULL OR expires_at > ?) ORDER BY id DESC",
        [subscription_id, at],
    )
    return [r["secret"] for r in found]
