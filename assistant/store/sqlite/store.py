"""`Store` on SQLite: a sqlite-utils handle with Trustline's pragmas (`db.connect`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from ...consent import ConsentState
from ...domain.consent_ledger import consent_record
from ...domain.events import Event
from . import events
from .db import row, rows, writing


class SQLiteStore:
    """The store interface (`assistant.store.interface.Store`) over one handle."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        with writing(self.db) as db:
            yield db

    def change_token(self) -> int:
        # Changes when another connection commits (not on this connection's own writes).
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def publish(self, event: Event) -> int:
        return events.publish(self.db, event)

    def events_after(
        self, after_id: int, customer_id: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        return events.after(self.db, after_id, customer_id, limit)

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        return row(self.db, "SELECT * FROM customers WHERE id = ?", [customer_id])

    def consent_state(self, customer_id: str) -> ConsentState:
        found = rows(
            self.db, "SELECT * FROM consents WHERE customer_id = ? ORDER BY id", [customer_id]
        )
        return ConsentState(tuple(consent_record(r) for r in found))
