"""GET /api/v1/openapi.json: the API described as an OpenAPI 3.1 document."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Final

from flask import Response

from . import bp

DOCUMENT_PATH: Final = Path(__file__).with_name("openapi.json")


@cache
def document_bytes() -> bytes:
    """The document as shipped, read from disk once per process."""
    return DOCUMENT_PATH.read_bytes()


def document() -> dict[str, Any]:
    """The document parsed; a fresh copy on each call, so callers may change it."""
    parsed: dict[str, Any] = json.loads(document_bytes())
    return parsed


@bp.get("/openapi.json")
def openapi_document() -> Response:
    # No API key: the document describes the API and holds no customer data.
    return Response(document_bytes(), mimetype="application/json")
