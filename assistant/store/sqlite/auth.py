"""`KeyStore` on SQLite: API keys, kept as sha256 digests in the `api_keys` table."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from .db import row


class SQLiteKeyStore:
    """`assistant.store.interface.KeyStore` over one handle."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def insert_api_key(self, name: str, key_hash: str, scopes: list[str], at: str) -> None:
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO api_keys (name, key_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
                [name, key_hash, " ".join(scopes), at],
            )

    def active_api_key(self, key_hash: str) -> dict[str, Any] | None:
        """The key of digest `key_hash` unless revoked: id, name, scopes (a list)."""
        found = row(
            self.db,
            "SELECT id, name, scopes FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
            [key_hash],
        )
        if found is None:
            return None
        return {"id": found["id"], "name": found["name"], "scopes": found["scopes"].split()}
