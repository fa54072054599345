"""JSON API, version 1: errors are RFC 9457 problem documents."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import customers, extract, handlers, openapi, webhooks  # noqa: E402,F401  (routes register on bp)
