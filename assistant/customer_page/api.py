"""POST /api/v1/customers/{id}/links (scope `consent`): a link to the customer's page
for a CRM to send or embed; DELETE ends every link of the customer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, jsonify, request

from ..api import bp as api_bp
from ..auth import current_principal, require
from ..db import get_db
from ..domain.clock import iso
from ..web.inputs import json_object
from ..web.problems import ApiError
from . import links
from .views import link_key

LINK_PATH = "/my/"


def ttl_setting(config: Any, value: str | None) -> timedelta:
    """The lifetime asked for (or the configured default), within the configured most;
    ValueError when malformed or too long."""
    longest = links.parse_ttl(
        str(config["TRUSTLINE_CUSTOMER_LINK_MAX_TTL"]), longest=timedelta(days=3650)
    )
    return links.parse_ttl(value or str(config["TRUSTLINE_CUSTOMER_LINK_TTL"]), longest=longest)


def link_url(app: Flask, token: str, fallback_base: str) -> str:
    base = str(app.config.get("TRUSTLINE_CUSTOMER_PAGE_URL") or fallback_base)
    return base.rstrip("/") + LINK_PATH + token


@api_bp.post("/customers/<customer_id>/links")
@require("consent")
def create_link(customer_id: str) -> Response:
    body = json_object() if request.data else {}
    ttl = body.get("ttl")
    if ttl is not None and not isinstance(ttl, str):
        raise ApiError(400, "invalid_request", "'ttl' must be a duration such as \"7d\"")
    try:
        lifetime = ttl_setting(current_app.config, ttl)
    except ValueError as exc:
        raise ApiError(400, "invalid_ttl", str(exc)) from exc
    token, link = links.create(
        get_db(), link_key(), customer_id, ttl=lifetime, actor=current_principal().name
    )
    resp = jsonify(
        {
            "url": link_url(current_app, token, request.host_url),
            "link_id": link.id,
            "expires_at": iso(link.expires_at),
        }
    )
    resp.status_code = 201
    resp.headers["Cache-Control"] = "no-store"
    return resp


@api_bp.delete("/customers/<customer_id>/links")
@require("consent")
def revoke_links(customer_id: str) -> Response:
    count = links.revoke(get_db(), customer_id, actor=current_principal().name)
    return jsonify({"revoked": count})
