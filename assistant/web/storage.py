"""When the database cannot be used (disk full, read-only, I/O error, cannot be opened):
a 503 that says so and when to retry, never a 500 with a traceback.

The store only raises; it tells what keeps the database from being used
(`assistant.store.sqlite.failures.storage_condition`) and the app factory hands that
judgement to `init_app` here. A failed write rolls back whole, so nothing half-done is
kept, and a client that retries the same request later (a note with the same
Idempotency-Key) gets it stored once. Other database errors are bugs and stay 500s.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, current_app, request

from .problems import problem

RETRY_AFTER_SECONDS = 30  # an operator has to free space or make the file writable
PROBLEM_CODE = "storage_unavailable"

Condition = Callable[[BaseException], "str | None"]


def _machine_client() -> bool:
    """API and inbound-webhook callers read problem documents, and so does a caller with
    an API key outside /api/ (the event stream); people read text."""
    return request.path.startswith(("/api/", "/webhooks/")) or "Authorization" in request.headers


def storage_unavailable(exc: BaseException, condition: str) -> Response:
    """503 with Retry-After for `exc`, which the store says means `condition`."""
    current_app.logger.error(
        "storage unavailable: %s (%s: %s) on %s %s; answered 503",
        condition,
        getattr(exc, "sqlite_errorname", type(exc).__name__),
        exc,
        request.method,
        request.path,
    )
    if _machine_client():
        detail = (
            f"{condition.capitalize()}: Trustline cannot use its database right now. "
            f"Retry after {RETRY_AFTER_SECONDS} s; a note sent again with the same "
            "Idempotency-Key is stored once."
        )
        resp = problem(503, PROBLEM_CODE, detail, title="Service unavailable")
    else:
        text = (
            f"503 Service Unavailable: Trustline cannot use its database right now "
            f"({condition}). Try again in a moment; the server log tells your "
            "administrator what to fix.\n"
        )
        resp = Response(text, status=503, mimetype="text/plain")
    resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def init_app(app: Flask, error: type[Exception], condition_of: Condition) -> None:
    """Answer `error` (the engine's exception class) with a 503 when `condition_of`
    names a storage condition; any other such error is re-raised (Flask's usual 500)."""

    def handler(exc: Exception) -> Response:
        condition = condition_of(exc)
        if condition is None:
            raise exc
        return storage_unavailable(exc, condition)

    app.register_error_handler(error, handler)
