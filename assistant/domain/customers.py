"""Customers: their ids and the identities other systems know them by."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from .errors import ProfileError

MAX_CUSTOMER_ID = 200


@dataclass(frozen=True, slots=True)
class Identity:
    source: str
    external_id: str


def check_customer_id(customer_id: str) -> None:
    """ProfileError 400 unless `customer_id` can name a customer."""
    if not customer_id or len(customer_id) > MAX_CUSTOMER_ID:
        raise ProfileError(400, "invalid_customer_id", "customer id must be 1-200 characters")
    # Ids travel in URLs, logs and exports: no control characters (NUL, CR, LF...), and
    # not '.' or '..', which clients and proxies rewrite as path segments.
    if customer_id in (".", "..") or any(unicodedata.category(c) == "Cc" for c in customer_id):
        raise ProfileError(
            400,
            "invalid_customer_id",
            "customer id must not hold control characters, nor be '.' or '..'",
        )
