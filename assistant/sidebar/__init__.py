"""The agent sidebar (htmx): launch, session, partials, live updates. See docs/sidebar.md."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the sidebar's blueprints and hooks on `app`."""
