"""When the database cannot be used (disk full, read-only, I/O error, cannot be opened):
a 503 that says so and when to retry, never a 500 with a traceback.

A failed write rolls back whole (`db.writing`), so nothing half-done is kept, and a
client that retries the same request later (a note with the same Idempotency-Key) gets
it stored once. Other database errors are bugs and stay 500s.
"""

from __future__ import annotations

import sqlite3

from flask import Flask, Response, current_app, request

from ...api.errors import problem
from .db import result_code

RETRY_AFTER_SECONDS = 30  # an operator has to free space or make the file writable
PROBLEM_CODE = "storage_unavailable"

# Primary result codes (an extended code's low byte): what the operator has to fix.
CONDITIONS = {
    sqlite3.SQLITE_FULL: "the disk holding the database is full",
    sqlite3.SQLITE_READONLY: "the database is read-only",
    sqlite3.SQLITE_IOERR: "the database file cannot be read or written (I/O error)",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
}


def storage_condition(exc: BaseException) -> str | None:
    """What keeps the database from being used, when `exc` says the storage failed
    (disk full, read-only, I/O error, cannot open); None for any other error."""
    if not isinstance(exc, sqlite3.Error):
        return None
    code = result_code(exc)
    return CONDITIONS.get(code) if code is not None else None


def _machine_client() -> bool:
    """API and inbound-webhook callers read problem documents, and so does a caller with
    an API key outside /api/ (the event stream); people read text."""
    return request.path.startswith(("/api/", "/webhooks/")) or "Authorization" in request.headers


def storage_unavailable(exc: sqlite3.Error) -> Response:
    """The error handler: 503 with Retry-After for a storage condition, else re-raise
    (Flask then answers its usual 500)."""
    condition = storage_condition(exc)
    if condition is None:
        raise exc
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


def init_app(app: Flask) -> None:
    app.register_error_handler(sqlite3.Error, storage_unavailable)
