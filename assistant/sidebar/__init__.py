"""The agent sidebar (htmx): launch, session, partials, live updates. See docs/sidebar.md.

Modules: `config` (settings, checked at start-up), `launch` (signed launch tokens),
`session` (cookie session and CSRF), `views` (pages and partials), `composer` (what
saving a note would do), `panels` (what the panels show), `stream` (Server-Sent Events
from the events table), `headers` (CSP), `demo` (the demo agent desktop at /).
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("sidebar", __name__)


def init_app(app: Flask) -> None:
    """Register the sidebar's blueprints and hooks on `app`."""
    configure(app)
    configure_cookie(app, int(app.config.get("TRUSTLINE_SESSION_MAX_AGE") or 43_200))
    labels.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(demo.bp)


from . import demo, headers, labels, stream, views  # noqa: E402,F401  (routes register on bp)
from .config import configure  # noqa: E402
from .session import configure_cookie  # noqa: E402
