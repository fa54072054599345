"""The store interface: what the services and workers need of a database, with no
engine in sight. `assistant.store.sqlite` implements it on SQLite through sqlite-utils
(the embedded default); `assistant.store.postgres` on PostgreSQL.

An implementation owns its SQL, its transactions, how it learns that another process
wrote (SQLite's `PRAGMA data_version`, PostgreSQL's LISTEN/NOTIFY) and how it reports
the ids of the rows it inserts.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..consent import ConsentState
from ..domain.events import Event


class Store(Protocol):
    """One handle on the store, used by one thread at a time."""

    def transaction(self) -> AbstractContextManager[object]:
        """One write transaction: everything in the block commits together or not at
        all (a nested block is a savepoint)."""
        ...

    def change_token(self) -> int:
        """A number that changes whenever another handle commits a write: a worker
        compares it between passes to know whether to look for new work."""
        ...

    def publish(self, event: Event) -> int:
        """Append `event` to the outbox in the current transaction; returns its id."""
        ...

    def events_after(
        self, after_id: int, customer_id: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Events with id > after_id (optionally of one customer), oldest first."""
        ...

    def customer(self, customer_id: str) -> Mapping[str, Any] | None:
        """The customer's row, or None."""
        ...

    def consent_state(self, customer_id: str) -> ConsentState:
        """The customer's consent ledger, oldest record first."""
        ...
