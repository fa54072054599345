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
from ..store.interface import WebhookStore
from ..store.sqlite.webhooks import webhook_store
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
    found = webhook_store(db).subscription(subscription_id)
    if found is None:
        raise WebhookError(404, "not_found", f"webhook subscription {subscription_id} not found")
    return view(found)


def list_all(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [view(s) for s in webhook_store(db).subscriptions()]


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
    store: WebhookStore = webhook_store(db)
    with store.transaction():
        sub_id = store.insert_subscription(url, types, description, at)
        store.insert_secret(sub_id, secret, at)
        store.audit(
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
    store: WebhookStore = webhook_store(db)
    with store.transaction():
        before = get(db, subscription_id)
        store.update_subscription(
            subscription_id,
            at=at,
            url=check_url(url) if url is not None else None,
            event_types=check_event_types(event_types) if event_types is not None else None,
            active=active,
            disabled_reason=None if active else (reason or f"disabled by {actor}"),
        )
        after = get(db, subscription_id)
        changed = sorted(k for k in ("url", "events", "active") if before[k] != after[k])
        store.audit(
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
    store: WebhookStore = webhook_store(db)
    with store.transaction():
        get(db, subscription_id)
        store.keep_only_secret(subscription_id, at, until)
        store.insert_secret(subscription_id, secret, at)
        store.audit(
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
    return webhook_store(db).signing_secrets(subscription_id, at)
