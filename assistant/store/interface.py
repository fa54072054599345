"""The store interface: what the services and workers need of a database, with no
engine in sight. `assistant.store.sqlite` implements it on SQLite through sqlite-utils
(the embedded default); `assistant.store.postgres` on PostgreSQL.

An implementation owns its SQL, its transactions, how it learns that another process
wrote (SQLite's `PRAGMA data_version`, PostgreSQL's LISTEN/NOTIFY) and how it reports
the ids of the rows it inserts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..consent import ConsentState
from ..domain.events import Event
from ..domain.facts import Supersession


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

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's row, or None."""
        ...

    def consent_state(self, customer_id: str) -> ConsentState:
        """The customer's consent ledger, oldest record first."""
        ...

    # -- customers and identities

    def insert_customer(
        self, customer_id: str, name: str | None, email: str | None, phone: str | None, at: str
    ) -> None: ...

    def update_customer(
        self, customer_id: str, name: str | None, email: str | None, phone: str | None, at: str
    ) -> None:
        """Sets the values given (None keeps the stored one)."""
        ...

    def identity_owner(self, source: str, external_id: str) -> str | None: ...

    def insert_identity(self, customer_id: str, source: str, external_id: str, at: str) -> None: ...

    def identities(self, customer_id: str) -> list[dict[str, Any]]: ...

    # -- the consent ledger (append-only) and the proposals found in notes

    def consent_ledger(self, customer_id: str) -> list[dict[str, Any]]: ...

    def insert_consent(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append a ledger record (evidence a mapping, times ISO text); returns its row."""
        ...

    def pending_proposals(self, customer_id: str) -> list[dict[str, Any]]: ...

    def proposal(self, customer_id: str, proposal_id: int) -> dict[str, Any] | None: ...

    def close_proposal(self, proposal_id: int, status: str, consent_id: int) -> None: ...

    def insert_proposal(
        self,
        customer_id: str,
        note_id: int,
        purpose: Any,
        channel: Any,
        evidence_text: str,
        at: str,
    ) -> dict[str, Any]: ...

    # -- notes, decisions and facts

    def insert_note(
        self, customer_id: str, agent: str, source: str, redacted_text: str, at: str
    ) -> int:
        """Store a note's redacted text; returns its id."""
        ...

    def insert_decision(self, decision: Mapping[str, Any]) -> dict[str, Any]: ...

    def insert_fact(self, fact: Mapping[str, Any]) -> int:
        """Store a fact (`attrs` a mapping); returns its id."""
        ...

    def fact(self, fact_id: int) -> dict[str, Any] | None: ...

    def customer_fact(
        self, customer_id: str, fact_id: int, *, kind: str | None = None
    ) -> dict[str, Any] | None:
        """Fact `fact_id` if it is the customer's (and of `kind`, when given)."""
        ...

    def update_status(self, fact_id: int, status: str, attrs: Mapping[str, Any], at: str) -> None:
        """A complaint's status (kept in its attrs too)."""
        ...

    def active_facts(self, customer_id: str) -> list[dict[str, Any]]: ...

    def mark_removed(self, fact_id: int, at: str, actor: str, reason: str) -> None: ...

    def mark_superseded(self, fact_id: int, by: int, at: str) -> None: ...

    def superseded_by(
        self, customer_id: str, rule: Supersession, fact_id: int, note_id: int
    ) -> list[dict[str, Any]]:
        """The active preferences new fact `fact_id` of note `note_id` replaces."""
        ...

    # -- data-subject rights and retention

    def insert_request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Open a data-subject request; returns its row."""
        ...

    def requests(self, customer_id: str, *, only_open: bool = False) -> list[dict[str, Any]]: ...

    def complete_requests(self, customer_id: str, kind: str, at: str) -> None: ...

    def all_facts(self, customer_id: str) -> list[dict[str, Any]]:
        """Every fact of the customer, removed and superseded ones too."""
        ...

    def decisions(self, customer_id: str) -> list[dict[str, Any]]: ...

    def notes(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's notes as exported (their redacted text)."""
        ...

    def insert_tombstone(
        self, customer_hash: str, identity_hashes: list[str], suppressions: list[str], at: str
    ) -> None: ...

    def count_rows(self, customer_id: str, tables: Iterable[str]) -> dict[str, int]:
        """How many rows of the customer each of `tables` holds."""
        ...

    def forget_inbound(self, customer_id: str, rename: Callable[[str, str], str]) -> None:
        """Inbound messages about the customer keep neither their conversation nor their
        body, and their delivery id becomes `rename(source, message_id)`."""
        ...

    def delete_customer(self, customer_id: str) -> None:
        """The customer and everything of hers (the audit log keeps her pseudonym)."""
        ...

    def purge_facts(self, purpose: str, before: str) -> int: ...

    def purge_notes(self, before: str) -> int:
        """Notes older than `before` that no fact refers to."""
        ...

    def scrub(self) -> bool:
        """After an erasure committed: leave no earlier copy of erased data in the
        engine's files. False when that could not be done now (logged, not raised)."""
        ...

    # -- the audit log (hash-chained; subjects pseudonymised)

    def audit(
        self,
        *,
        at: str,
        actor: str,
        action: str,
        subject: str | None,
        details: dict[str, Any] | None = None,
    ) -> None: ...

    def keyed_digest(self, customer_id: str, value: str) -> str: ...
