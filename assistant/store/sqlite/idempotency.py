"""`IdempotencyStore` on SQLite: the answers kept for the API's Idempotency-Key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlite_utils

from .db import row


class SQLiteIdempotencyStore:
    """`assistant.store.interface.IdempotencyStore` over one handle."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def kept_response(self, customer_id: str, key: str) -> dict[str, Any] | None:
        """The answer kept under `key`: request_hash, status, response (decoded)."""
        found = row(
            self.db,
            "SELECT * FROM idempotency WHERE customer_id = ? AND key = ?",
            [customer_id, key],
        )
        if found is None:
            return None
        return {
            "request_hash": found["request_hash"],
            "status": found["status"],
            "response": json.loads(found["response"]),
        }

    def keep_response(
        self,
        customer_id: str,
        key: str,
        request_hash: str,
        status: int,
        response: Mapping[str, Any],
        at: str,
    ) -> None:
        """Keep the answer (in the caller's transaction)."""
        self.db.execute(
            "INSERT INTO idempotency (customer_id, key, request_hash, status, response, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [customer_id, key, request_hash, status, json.dumps(response), at],
        )
