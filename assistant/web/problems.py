"""Problem documents (RFC 9457) for every error under /api/ and /webhooks/in/."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE = "https://trustline.invalid/problems/"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}


class ApiError(Exception):
    """A client error with a stable code; rendered as a problem document."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def problem(status: int, code: str, detail: str, **extra: Any) -> Response:
    body = {
        "type": PROBLEM_TYPE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.path,
        # kept for clients of the first API version
        "error": code,
        "message": detail,
        **extra,
    }
    resp = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="trustline"'
    return resp


def http_error(exc: HTTPException) -> Response:
    """HTTP errors under /api/ as problem documents (routing errors too: 404, 405)."""
    status = exc.code or 500
    code = {
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
    }.get(status, "http_error")
    resp = problem(status, code, exc.description or exc.name)
    allow = dict(exc.get_headers()).get("Allow")
    if allow:
        resp.headers["Allow"] = allow
    return resp
