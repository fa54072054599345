"""POST /api/v1/extract: stateless extraction, the contract's result object."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from nlp import TextTooLongError, TrustlineNLPError

from ..auth import require
from ..engine import get_extractor
from ..extraction_limits import check_count, queued
from ..web.inputs import json_object
from ..web.problems import ApiError
from . import bp


def check_text(text: str, where: str) -> None:
    try:
        get_extractor().check(text)
    except TextTooLongError as exc:
        raise ApiError(413, "text_too_long", f"{where}: {exc}") from exc
    except TrustlineNLPError as exc:
        raise ApiError(400, "invalid_text", f"{where}: {exc}") from exc


@bp.post("/extract")
@require("read")
def extract() -> Response:
    """Extract facts from `{"text": ...}` or `{"items": [{"id", "text"}, ...]}`."""
    body = json_object()
    extractor = get_extractor()
    if "items" in body:
        items = body["items"]
        if not isinstance(items, list):
            raise ApiError(400, "invalid_request", "items must be a list")
        check_count(len(items))
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ApiError(400, "invalid_request", f"items[{i}] needs a string 'text'")
            check_text(item["text"], f"items[{i}].text")
        texts = [it["text"] for it in items]
        with queued(texts):
            results = extractor.extract_many(texts, ids=[it.get("id") for it in items])
            return jsonify(results=[r.to_dict() for r in results])
    text: Any = body.get("text")
    if not isinstance(text, str):
        raise ApiError(400, "invalid_request", "body needs a string 'text'")
    check_text(text, "text")
    with queued([text]):
        return jsonify(extractor.extract(text, id=body.get("id")).to_dict())
