"""CRM webhooks: outbound delivery (Standard Webhooks) and inbound endpoints.
See docs/webhooks.md."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the inbound webhook blueprint and hooks on `app`."""
