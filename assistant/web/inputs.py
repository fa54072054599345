"""Reading a request: strict JSON bodies and integer ids a SQLite column can hold.
Every refusal is an `ApiError` (a problem document) or `InvalidJson`."""

from __future__ import annotations

import json
import math
from typing import Any

from flask import request

from .problems import ApiError

# SQLite integers are 64-bit: a larger id in a query raises OverflowError (a 500), so ids
# from paths, query strings and bodies are checked against this range first.
MIN_ROW_ID, MAX_ROW_ID = -(2**63), 2**63 - 1
# No request of ours nests more than a few levels; a deeper body is refused before
# anything walks it again (json.dumps of a hash, an echoed id) and overflows the stack.
MAX_JSON_DEPTH = 64


def row_ids_in_range(values: dict[str, Any] | None) -> str | None:
    """The name of the first integer path value beyond SQLite's range, if any.

    (Werkzeug's `int(max=...)` converter would answer such a path 405 rather than 404
    when another rule has the same path: hence a check after routing.)
    """
    for name, value in (values or {}).items():
        if isinstance(value, int) and not MIN_ROW_ID <= value <= MAX_ROW_ID:
            return name
    return None


class InvalidJson(ValueError):
    """A request body that is not JSON we accept; the message is safe to show."""


def _no_constant(name: str) -> Any:
    raise InvalidJson(f"body is not valid JSON: {name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson(f"body holds a number too large to read: {text[:20]}")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests arrays and objects more than `limit` levels (no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def parse_json(raw: bytes) -> Any:
    """A request body as strict JSON: UTF-8, no NaN or Infinity, numbers Python can read,
    at most MAX_JSON_DEPTH levels of nesting. Raises InvalidJson."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJson("body is not UTF-8 text") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except InvalidJson:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"body is not valid JSON: {exc.msg} at {exc.pos}") from None
    except RecursionError:
        raise InvalidJson(f"body nests more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError:  # an integer of more than 4300 digits (sys.get_int_max_str_digits)
        raise InvalidJson("body holds a number too large to read") from None
    if isinstance(value, dict | list) and _deeper_than(value, MAX_JSON_DEPTH):
        raise InvalidJson(f"body nests more than {MAX_JSON_DEPTH} levels deep")
    return value


def json_body() -> Any:
    """The request body as JSON, or raise a 400/415 with a clear message."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send Content-Type: application/json")
    try:
        return parse_json(request.get_data(cache=True))
    except InvalidJson as exc:
        raise ApiError(400, "invalid_json", str(exc)) from exc


def int_arg(name: str) -> int | None:
    """Query argument `name` as an integer SQLite can hold; None when absent or empty.

    Raises ApiError 400 for anything else.
    """
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    return row_id(raw, name, int_only=False)


def row_id(value: Any, name: str, *, int_only: bool = True) -> int:
    """`value` as an integer within SQLite's range (raises ApiError 400).

    With `int_only`, `value` must already be a JSON integer (not a bool, not a string).
    """
    if int_only and (not isinstance(value, int) or isinstance(value, bool)):
        raise ApiError(400, "invalid_request", f"'{name}' must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_request", f"'{name}' must be an integer") from None
    if not MIN_ROW_ID <= number <= MAX_ROW_ID:
        raise ApiError(400, "invalid_request", f"'{name}' is out of range (64-bit integer)")
    return number


def json_object() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "body must be a JSON object")
    return body
