"""GET /api/v1/openapi.json: the API described as an OpenAPI 3.1 document."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Final

from flask import Response

from . import bp

DOCUMENT_PATH: Final = Path(__file__).with_name("openapi.json")
# Each package that adds routes under /api/v1 describes them in its own fragment.
FRAGMENTS: Final = (
    Path(__file__).parents[1] / "webhooks" / "openapi-fragment.json",
    Path(__file__).parents[1] / "customer_page" / "openapi-fragment.json",
)


@cache
def document_bytes() -> bytes:
    """The document with every fragment merged in, built once per process."""
    doc: dict[str, Any] = json.loads(DOCUMENT_PATH.read_bytes())
    for path in FRAGMENTS:
        fragment = json.loads(path.read_bytes())
        doc["paths"].update(fragment.get("paths", {}))
        doc["components"]["schemas"].update(fragment.get("components", {}).get("schemas", {}))
        doc.setdefault("tags", []).extend(fragment.get("tags", []))
    # Answers any operation behind an API key may give, whatever it does: the rate limit
    # (assistant/security.py) and the database out of use (assistant/store/sqlite/failures.py).
    shared = {"429": "TooManyRequests", "503": "StorageUnavailable"}
    for methods in doc["paths"].values():
        for op in methods.values():
            if isinstance(op, dict) and "x-required-scope" in op:
                for status, name in shared.items():
                    op["responses"].setdefault(status, {"$ref": f"#/components/responses/{name}"})
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def document() -> dict[str, Any]:
    """The document parsed; a fresh copy on each call, so callers may change it."""
    parsed: dict[str, Any] = json.loads(document_bytes())
    return parsed


@bp.get("/openapi.json")
def openapi_document() -> Response:
    # No API key: the document describes the API and holds no customer data.
    return Response(document_bytes(), mimetype="application/json")
