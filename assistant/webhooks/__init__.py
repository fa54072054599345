"""CRM webhooks: outbound delivery (Standard Webhooks) and inbound endpoints.
See docs/webhooks.md."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the inbound webhook blueprint and hooks on `app`.

    The webhook settings are parsed here, so a bad value stops start-up with a message
    that names the setting (error TL401).
    """
    from . import inbound, worker
    from .config import delivery_config, inbound_config

    app.extensions[worker.CONFIG_KEY] = delivery_config(app.config)
    app.extensions[inbound.CONFIG_KEY] = inbound_config(app.config)
    app.register_blueprint(inbound.bp)
