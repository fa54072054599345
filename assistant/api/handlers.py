"""The API blueprint's error handlers: every error under /api/ is a problem document
(`assistant.web.problems`), and a path id beyond SQLite's range is a 404."""

from __future__ import annotations

from typing import Any

from flask import Response

from ..auth import AuthError
from ..domain.errors import ProfileError
from ..extraction_limits import ExtractionLimit
from ..web.inputs import row_ids_in_range
from ..web.problems import ApiError, problem
from . import bp


@bp.url_value_preprocessor
def _row_ids(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    name = row_ids_in_range(values)
    if name is not None and values is not None:
        raise ApiError(404, "not_found", f"{name.replace('_', ' ')} {values[name]} not found")


@bp.errorhandler(ApiError)
def api_error(exc: ApiError) -> Response:
    return problem(exc.status, exc.code, exc.message)


@bp.errorhandler(AuthError)
def auth_error(exc: AuthError) -> Response:
    return problem(exc.status, exc.code, exc.message)


@bp.errorhandler(ProfileError)
def profile_error(exc: ProfileError) -> Response:
    return problem(exc.status, exc.code, exc.message)


@bp.errorhandler(ExtractionLimit)
def extraction_limit(exc: ExtractionLimit) -> Response:
    resp = problem(exc.status, exc.code, exc.message)
    if exc.retry_after is not None:
        resp.headers["Retry-After"] = str(exc.retry_after)
    return resp
