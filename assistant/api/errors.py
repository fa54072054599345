"""Problem documents (RFC 9457) for every error under /api/."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from werkzeug.exceptions import HTTPException

from ..auth import AuthError
from ..profile import ProfileError
from . import bp

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


@bp.errorhandler(ApiError)
def api_error(exc: ApiError) -> Response:
    return problem(exc.status, exc.code, exc.message)


@bp.errorhandler(AuthError)
def auth_error(exc: AuthError) -> Response:
    return problem(exc.status, exc.code, exc.message)


@bp.errorhandler(ProfileError)
def profile_error(exc: ProfileError) -> Response:
    return problem(exc.status, exc.code, exc.message)


def json_body() -> Any:
    """The request body as JSON, or raise a 400/415 with a clear message."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send Content-Type: application/json")
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_json", "body is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "invalid_json", f"body is not valid JSON: {exc.msg} at {exc.pos}"
        ) from exc


def json_object() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "body must be a JSON object")
    return body
