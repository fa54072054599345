"""Trustline's Flask app: `create_app()` builds it; nothing is created at import time."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from nlp import TextTimeBudgetError


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults from the settings table, then instance config, then tests."""
    from . import settings

    app = Flask(__name__, instance_relative_config=True, static_folder="../static")
    app.config.from_mapping(settings.current())
    app.config.from_pyfile("config.py", silent=True)
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.config["MAX_CONTENT_LENGTH"] = app.config["TRUSTLINE_MAX_REQUEST_BYTES"]

    from . import (
        api,
        auth,
        customer_page,
        db,
        engine,
        extraction_limits,
        security,
        sidebar,
        webhooks,
    )
    from .store.sqlite import failures
    from .web import storage
    from .web.problems import http_error as api_http_error
    from .web.problems import problem

    engine.init_app(app)
    auth.init_app(app)
    db.init_app(app)
    app.register_blueprint(api.bp)
    sidebar.init_app(app)
    customer_page.init_app(app)  # after the sidebar: links are signed with its key
    webhooks.init_app(app)
    security.init_app(app)
    extraction_limits.init_app(app)
    # disk full, read-only: 503 with Retry-After, not 500
    storage.init_app(app, failures.ERROR, failures.storage_condition)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        # Routing errors never reach a blueprint's handlers: answer JSON to machines.
        if request.path.startswith(("/api/", "/webhooks/in/")):
            return api_http_error(exc)
        return exc

    @app.errorhandler(TextTimeBudgetError)
    def text_time_budget(exc: TextTimeBudgetError) -> Any:
        # The backstop of extraction: the text is refused whole and nothing is stored.
        return problem(422, "text_time_budget", str(exc))

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app
