"""Outbound webhook management under /api/v1/webhooks (admin scope): subscriptions,
secret rotation, deliveries and dead letters, erasure propagation."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request

from ..auth import current_principal, require
from ..db import get_db
from ..engine import get_extractor
from ..redaction import redact
from ..web.inputs import int_arg, json_object
from ..web.problems import ApiError, problem
from ..webhooks import deliveries, subscriptions
from ..webhooks.errors import WebhookError
from ..webhooks.worker import CONFIG_KEY
from . import bp


@bp.errorhandler(WebhookError)
def webhook_error(exc: WebhookError) -> Response:
    return problem(exc.status, exc.code, exc.message)


def _json(payload: Any, status: int = 200) -> Response:
    resp = jsonify(payload)
    resp.status_code = status
    return resp


def _events(value: Any) -> list[str]:
    if value == "*":
        return ["*"]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "invalid_request", "'events' is a list of event types, or '*'")
    return value


@bp.get("/webhooks")
@require("admin")
def list_webhooks() -> Response:
    db = get_db()
    counts = deliveries.counts(db)
    subs = [{**s, "deliveries": counts.get(s["id"], {})} for s in subscriptions.list_all(db)]
    return _json({"subscriptions": subs})


@bp.post("/webhooks")
@require("admin")
def create_webhook() -> Response:
    """Subscribe a URL; the answer holds the signing secret, shown this once."""
    body = json_object()
    url, description = body.get("url"), body.get("description")
    if not isinstance(url, str):
        raise ApiError(400, "invalid_request", "'url' is required")
    if description is not None and (not isinstance(description, str) or len(description) > 500):
        raise ApiError(400, "invalid_request", "'description' is a string of at most 500")
    sub, secret = subscriptions.create(
        get_db(),
        url,
        _events(body.get("events", "*")),
        actor=current_principal().name,
        description=None if description is None else redact(get_extractor(), description),
        allowed=current_app.extensions[CONFIG_KEY].allowed_networks,
    )
    return _json({**sub, "secret": secret}, 201)


@bp.get("/webhooks/<int:subscription_id>")
@require("admin")
def get_webhook(subscription_id: int) -> Response:
    db = get_db()
    sub = subscriptions.get(db, subscription_id)
    return _json({**sub, "deliveries": deliveries.counts(db).get(subscription_id, {})})


@bp.patch("/webhooks/<int:subscription_id>")
@require("admin")
def patch_webhook(subscription_id: int) -> Response:
    """Change `url`, `events` or `active` (false holds deliveries, true resumes them)."""
    body = json_object()
    active = body.get("active")
    if active is not None and not isinstance(active, bool):
        raise ApiError(400, "invalid_request", "'active' is true or false")
    url = body.get("url")
    if url is not None and not isinstance(url, str):
        raise ApiError(400, "invalid_request", "'url' is a string")
    sub = subscriptions.update(
        get_db(),
        subscription_id,
        actor=current_principal().name,
        url=url,
        event_types=_events(body["events"]) if "events" in body else None,
        active=active,
        allowed=current_app.extensions[CONFIG_KEY].allowed_networks,
    )
    return _json(sub)


@bp.post("/webhooks/<int:subscription_id>/rotate")
@require("admin")
def rotate_webhook_secret(subscription_id: int) -> Response:
    """A new secret (shown once); the previous one keeps signing during the overlap."""
    overlap = current_app.extensions[CONFIG_KEY].secret_overlap_hours
    secret, until = subscriptions.rotate(
        get_db(), subscription_id, actor=current_principal().name, overlap_hours=overlap
    )
    return _json({"id": subscription_id, "secret": secret, "previous_secret_until": until}, 201)


@bp.get("/webhooks/deliveries")
@require("admin")
def list_deliveries() -> Response:
    """Deliveries, newest first; `?status=dead` lists the dead letters."""
    found = deliveries.listing(
        get_db(),
        status=request.args.get("status") or None,
        subscription_id=int_arg("subscription_id"),
        customer_id=request.args.get("customer_id") or None,
        limit=int_arg("limit") or 100,
    )
    return _json({"deliveries": found})


@bp.post("/webhooks/deliveries/<int:delivery_id>/replay")
@require("admin")
def replay_delivery(delivery_id: int) -> Response:
    db = get_db()
    deliveries.replay(db, [delivery_id], actor=current_principal().name)
    return _json(deliveries.get(db, delivery_id))


@bp.get("/webhooks/erasures")
@require("admin")
def list_erasures() -> Response:
    """Each erasure and whether every target acknowledged it."""
    found = deliveries.erasures(get_db(), request.args.get("customer_id") or None)
    return _json({"erasures": found})
