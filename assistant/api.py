"""JSON API, version 1. Stateless extraction for now."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from nlp import TextTooLongError, TrustlineNLPError

from .auth import api_key_required
from .engine import get_extractor

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_BATCH = 256


def error(status: int, code: str, message: str) -> Response:
    resp = jsonify(error=code, message=message)
    resp.status_code = status
    return resp


def http_error(exc: HTTPException) -> Response:
    """HTTP errors under /api/ as JSON (routing errors too: 404, 405)."""
    status = exc.code or 500
    code = {
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
    }.get(status, "http_error")
    return error(status, code, exc.description or exc.name)


def json_body() -> Any:
    """The request body as JSON, or raise a 400/415 with a clear message."""
    if not request.is_json:
        raise _Bad(415, "unsupported_media_type", "send Content-Type: application/json")
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _Bad(400, "invalid_json", "body is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise _Bad(400, "invalid_json", f"body is not valid JSON: {exc.msg} at {exc.pos}") from exc


class _Bad(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@bp.errorhandler(_Bad)
def bad_request(exc: _Bad) -> Response:
    return error(exc.status, exc.code, exc.message)


@bp.post("/extract")
@api_key_required
def extract() -> Response:
    """Extract facts from `{"text": ...}` or `{"items": [{"id", "text"}, ...]}`."""
    body = json_body()
    if not isinstance(body, dict):
        raise _Bad(400, "invalid_request", "body must be a JSON object")
    extractor = get_extractor()
    if "items" in body:
        items = body["items"]
        if not isinstance(items, list) or len(items) > MAX_BATCH:
            raise _Bad(400, "invalid_request", f"items must be a list of at most {MAX_BATCH}")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise _Bad(400, "invalid_request", f"items[{i}] needs a string 'text'")
            _check_length(extractor, item["text"], f"items[{i}].text")
        results = extractor.extract_many(
            [it["text"] for it in items], ids=[it.get("id") for it in items]
        )
        return jsonify(results=[r.to_dict() for r in results])
    text = body.get("text")
    if not isinstance(text, str):
        raise _Bad(400, "invalid_request", "body needs a string 'text'")
    _check_length(extractor, text, "text")
    result = extractor.extract(text, id=body.get("id"))
    return jsonify(result.to_dict())


def _check_length(extractor: Any, text: str, where: str) -> None:
    try:
        extractor.check(text)
    except TextTooLongError as exc:
        raise _Bad(413, "text_too_long", f"{where}: {exc}") from exc
    except TrustlineNLPError as exc:
        raise _Bad(400, "invalid_text", f"{where}: {exc}") from exc
