"""`CustomerPageStore` on SQLite: the customer's own page, its links (only a digest of
each token is kept) and what the page reads besides `Store`."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from .db import row, rows
from .store import SQLiteStore


class SQLiteCustomerPageStore(SQLiteStore):
    """`assistant.store.interface.CustomerPageStore` (and `Store`) over one handle."""

    def insert_link(
        self, customer_id: str, token_hash: str, created_by: str, created_at: str, expires_at: str
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO customer_links (customer_id, token_hash, created_by, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?)",
            [customer_id, token_hash, created_by, created_at, expires_at],
        )
        return int(cur.lastrowid or 0)

    def link(self, token_hash: str) -> dict[str, Any] | None:
        """The link of digest `token_hash` (id, customer_id, expires_at, revoked_at), if
        its customer still exists."""
        return row(
            self.db,
            "SELECT l.id, l.customer_id, l.expires_at, l.revoked_at FROM customer_links l "
            "JOIN customers c ON c.id = l.customer_id WHERE l.token_hash = ?",
            [token_hash],
        )

    def revoke_links(self, customer_id: str, at: str, link_id: int | None = None) -> int:
        """Revoke the customer's live links (or just `link_id`); returns how many."""
        sql = (
            "UPDATE customer_links SET revoked_at = ? WHERE customer_id = ? AND revoked_at IS NULL"
        )
        params: list[object] = [at, customer_id]
        if link_id is not None:
            sql += " AND id = ?"
            params.append(link_id)
        return int(self.db.execute(sql, params).rowcount)

    def note_texts(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's notes: id, source, redacted_text."""
        return rows(
            self.db,
            "SELECT id, source, redacted_text FROM notes WHERE customer_id = ?",
            [customer_id],
        )

    def facts_under_rectification(self, customer_id: str) -> set[int]:
        """The facts an open rectification request of the customer names."""
        return {
            r["fact_id"]
            for r in rows(
                self.db,
                "SELECT fact_id FROM dsr WHERE customer_id = ? AND status = 'open' "
                "AND kind = 'rectify' AND fact_id IS NOT NULL",
                [customer_id],
            )
        }

    def open_request_id(
        self, customer_id: str, kind: str, fact_id: int | None, channel: str
    ) -> int | None:
        """An open request of `kind` about `fact_id` (None: about no fact) made through
        `channel`, if there is one."""
        found = row(
            self.db,
            "SELECT id FROM dsr WHERE customer_id = ? AND kind = ? AND status = 'open' "
            "AND fact_id IS ? AND channel = ?",
            [customer_id, kind, fact_id, channel],
        )
        return int(found["id"]) if found else None


def customer_page_store(db: sqlite_utils.Database) -> SQLiteCustomerPageStore:
    """The customer page's repository (and `Store`) over `db`."""
    return SQLiteCustomerPageStore(db)
