"""`Store` on SQLite: a sqlite-utils handle with Trustline's pragmas (`db.connect`).
The SQL of the services lives here, method by method."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from ...consent import ConsentState
from ...domain.consent_ledger import consent_record
from ...domain.events import Event
from ...domain.facts import Supersession
from ..columns import DECISION_COLUMNS, FACT_COLUMNS, REQUEST_COLUMNS
from . import audit, events
from .db import checkpoint, row, rows, writing


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

    # -- customers and identities -------------------------------------------------------

    def insert_customer(
        self, customer_id: str, name: str | None, email: str | None, phone: str | None, at: str
    ) -> None:
        self.db.execute(
            "INSERT INTO customers (id, name, email, phone, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [customer_id, name, email, phone, at, at],
        )

    def update_customer(
        self, customer_id: str, name: str | None, email: str | None, phone: str | None, at: str
    ) -> None:
        """Sets the values given (None keeps the stored one)."""
        self.db.execute(
            "UPDATE customers SET name = coalesce(?, name), email = coalesce(?, email), "
            "phone = coalesce(?, phone), updated_at = ? WHERE id = ?",
            [name, email, phone, at, customer_id],
        )

    def identity_owner(self, source: str, external_id: str) -> str | None:
        found = row(
            self.db,
            "SELECT customer_id FROM identities WHERE source = ? AND external_id = ?",
            [source, external_id],
        )
        return found["customer_id"] if found else None

    def insert_identity(self, customer_id: str, source: str, external_id: str, at: str) -> None:
        self.db.execute(
            "INSERT INTO identities (customer_id, source, external_id, created_at) "
            "VALUES (?, ?, ?, ?)",
            [customer_id, source, external_id, at],
        )

    def identities(self, customer_id: str) -> list[dict[str, Any]]:
        return rows(
            self.db,
            "SELECT source, external_id FROM identities WHERE customer_id = ? ORDER BY id",
            [customer_id],
        )

    # -- the consent ledger and proposals -----------------------------------------------

    def consent_ledger(self, customer_id: str) -> list[dict[str, Any]]:
        out = rows(
            self.db, "SELECT * FROM consents WHERE customer_id = ? ORDER BY id", [customer_id]
        )
        for r in out:
            r["evidence"] = json.loads(r["evidence"])
        return out

    def insert_consent(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append a ledger record (evidence a mapping, times ISO text); returns its row."""
        cur = self.db.execute(
            "INSERT INTO consents (customer_id, purpose, channel, status, lawful_basis, source, "
            "method, evidence, effective_from, effective_to, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                record["customer_id"],
                record["purpose"],
                record["channel"],
                record["status"],
                record["lawful_basis"],
                record["source"],
                record["method"],
                json.dumps(dict(record["evidence"])),
                record["effective_from"],
                record["effective_to"],
                record["recorded_at"],
            ],
        )
        stored = row(self.db, "SELECT * FROM consents WHERE id = ?", [int(cur.lastrowid or 0)])
        assert stored is not None
        stored["evidence"] = json.loads(stored["evidence"])
        return stored

    def pending_proposals(self, customer_id: str) -> list[dict[str, Any]]:
        return rows(
            self.db,
            "SELECT * FROM consent_proposals WHERE customer_id = ? AND status = 'pending'",
            [customer_id],
        )

    def proposal(self, customer_id: str, proposal_id: int) -> dict[str, Any] | None:
        return row(
            self.db,
            "SELECT * FROM consent_proposals WHERE id = ? AND customer_id = ?",
            [proposal_id, customer_id],
        )

    def close_proposal(self, proposal_id: int, status: str, consent_id: int) -> None:
        self.db.execute(
            "UPDATE consent_proposals SET status = ?, consent_id = ? WHERE id = ?",
            [status, consent_id, proposal_id],
        )

    def insert_proposal(
        self,
        customer_id: str,
        note_id: int,
        purpose: Any,
        channel: Any,
        evidence_text: str,
        at: str,
    ) -> dict[str, Any]:
        cur = self.db.execute(
            "INSERT INTO consent_proposals (customer_id, note_id, purpose, channel, "
            "evidence_text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [customer_id, note_id, purpose, channel, evidence_text, at],
        )
        found = row(self.db, "SELECT * FROM consent_proposals WHERE id = ?", [cur.lastrowid])
        assert found is not None
        return found

    # -- notes, decisions and facts ------------------------------------------------------

    def insert_note(
        self, customer_id: str, agent: str, source: str, redacted_text: str, at: str
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO notes (customer_id, agent, source, redacted_text, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [customer_id, agent, source, redacted_text, at],
        )
        return int(cur.lastrowid or 0)

    def insert_decision(self, decision: Mapping[str, Any]) -> dict[str, Any]:
        cur = self.db.execute(
            "INSERT INTO decisions (customer_id, note_id, fact_kind, fact_key, outcome, purpose, "
            "lawful_basis, reason, consent_record_id, policy_version, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [decision[k] for k in DECISION_COLUMNS],
        )
        found = row(self.db, "SELECT * FROM decisions WHERE id = ?", [cur.lastrowid])
        assert found is not None
        return found

    def insert_fact(self, fact: Mapping[str, Any]) -> int:
        """Store a fact (`attrs` a mapping); returns its id."""
        values = [json.dumps(dict(fact[k])) if k == "attrs" else fact[k] for k in FACT_COLUMNS]
        cur = self.db.execute(
            f"INSERT INTO facts ({', '.join(FACT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in FACT_COLUMNS)})",
            values,
        )
        return int(cur.lastrowid or 0)

    def customer_fact(
        self, customer_id: str, fact_id: int, *, kind: str | None = None
    ) -> dict[str, Any] | None:
        """Fact `fact_id` if it is the customer's (and of `kind`, when given)."""
        sql = "SELECT * FROM facts WHERE id = ? AND customer_id = ?"
        params: list[Any] = [fact_id, customer_id]
        if kind is not None:
            sql, params = sql + " AND kind = ?", [*params, kind]
        return row(self.db, sql, params)

    def update_status(self, fact_id: int, status: str, attrs: Mapping[str, Any], at: str) -> None:
        """A complaint's status (kept in its attrs too)."""
        self.db.execute(
            "UPDATE facts SET status = ?, attrs = ?, updated_at = ? WHERE id = ?",
            [status, json.dumps(dict(attrs)), at, fact_id],
        )

    def fact(self, fact_id: int) -> dict[str, Any] | None:
        return row(self.db, "SELECT * FROM facts WHERE id = ?", [fact_id])

    def active_facts(self, customer_id: str) -> list[dict[str, Any]]:
        return rows(
            self.db,
            "SELECT * FROM facts WHERE customer_id = ? AND removed_at IS NULL "
            "AND superseded_by IS NULL ORDER BY id",
            [customer_id],
        )

    def mark_removed(self, fact_id: int, at: str, actor: str, reason: str) -> None:
        self.db.execute(
            "UPDATE facts SET removed_at = ?, removed_by = ?, removed_reason = ? WHERE id = ?",
            [at, actor, reason, fact_id],
        )

    def mark_superseded(self, fact_id: int, by: int, at: str) -> None:
        self.db.execute(
            "UPDATE facts SET superseded_by = ?, superseded_at = ? WHERE id = ?",
            [by, at, fact_id],
        )

    def superseded_by(
        self, customer_id: str, rule: Supersession, fact_id: int, note_id: int
    ) -> list[dict[str, Any]]:
        """The active preferences new fact `fact_id` of note `note_id` replaces."""
        older = rows(
            self.db,
            "SELECT * FROM facts WHERE customer_id = ? AND kind = 'preference' AND field = ? "
            "AND value = ? AND id != ? AND superseded_by IS NULL AND removed_at IS NULL",
            [customer_id, rule.field, rule.value, fact_id],
        )
        if rule.exclusive:
            older += rows(
                self.db,
                "SELECT * FROM facts WHERE customer_id = ? AND kind = 'preference' AND field = ? "
                "AND value != ? AND polarity = 'positive' AND note_id != ? "
                "AND superseded_by IS NULL AND removed_at IS NULL",
                [customer_id, rule.field, rule.value, note_id],
            )
        return older

    # -- data-subject rights ---------------------------------------------------------------

    def insert_request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Open a data-subject request; returns its row."""
        cur = self.db.execute(
            "INSERT INTO dsr (customer_id, kind, note_id, created_at, due_at, channel, fact_id, "
            "details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [request[k] for k in REQUEST_COLUMNS],
        )
        found = row(self.db, "SELECT * FROM dsr WHERE id = ?", [cur.lastrowid])
        assert found is not None
        return found

    def requests(self, customer_id: str, *, only_open: bool = False) -> list[dict[str, Any]]:
        if only_open:
            return rows(
                self.db,
                "SELECT * FROM dsr WHERE customer_id = ? AND status = 'open'",
                [customer_id],
            )
        return rows(self.db, "SELECT * FROM dsr WHERE customer_id = ? ORDER BY id", [customer_id])

    def complete_requests(self, customer_id: str, kind: str, at: str) -> None:
        self.db.execute(
            "UPDATE dsr SET status = 'done', completed_at = ? WHERE customer_id = ? AND kind = ?",
            [at, customer_id, kind],
        )

    def all_facts(self, customer_id: str) -> list[dict[str, Any]]:
        """Every fact of the customer, removed and superseded ones too."""
        return rows(self.db, "SELECT * FROM facts WHERE customer_id = ? ORDER BY id", [customer_id])

    def decisions(self, customer_id: str) -> list[dict[str, Any]]:
        return rows(
            self.db, "SELECT * FROM decisions WHERE customer_id = ? ORDER BY id", [customer_id]
        )

    def notes(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's notes as exported (their redacted text)."""
        return rows(
            self.db,
            "SELECT id, agent, source, redacted_text, created_at FROM notes "
            "WHERE customer_id = ? ORDER BY id",
            [customer_id],
        )

    def insert_tombstone(
        self, customer_hash: str, identity_hashes: list[str], suppressions: list[str], at: str
    ) -> None:
        self.db.execute(
            "INSERT INTO tombstones (customer_hash, identity_hashes, suppressions, erased_at) "
            "VALUES (?, ?, ?, ?)",
            [customer_hash, json.dumps(identity_hashes), json.dumps(suppressions), at],
        )

    def count_rows(self, customer_id: str, tables: Iterable[str]) -> dict[str, int]:
        """How many rows of the customer each of `tables` holds."""
        return {
            table: self.db.execute(
                f"SELECT count(*) FROM {table} WHERE customer_id = ?", [customer_id]
            ).fetchone()[0]
            for table in tables
        }

    def forget_inbound(self, customer_id: str, rename: Callable[[str, str], str]) -> None:
        """Inbound messages about the customer keep neither their conversation nor their
        body, and their delivery id becomes `rename(source, message_id)`."""
        for msg in rows(
            self.db,
            "SELECT id, source, message_id FROM webhook_inbox WHERE customer_id = ? "
            "AND message_id NOT LIKE 'erased:%'",
            [customer_id],
        ):
            self.db.execute(
                "UPDATE webhook_inbox SET message_id = ?, conversation = NULL, body = NULL, "
                "error = NULL WHERE id = ?",
                [rename(msg["source"], msg["message_id"]), msg["id"]],
            )

    def delete_customer(self, customer_id: str) -> None:
        """The customer, her events and idempotency records; the rest cascades."""
        self.db.execute("DELETE FROM events WHERE customer_id = ?", [customer_id])
        self.db.execute("DELETE FROM idempotency WHERE customer_id = ?", [customer_id])
        self.db.execute("DELETE FROM customers WHERE id = ?", [customer_id])  # cascades

    def purge_facts(self, purpose: str, before: str) -> int:
        cur = self.db.execute(
            "DELETE FROM facts WHERE purpose = ? AND created_at < ?", [purpose, before]
        )
        return int(cur.rowcount)

    def purge_notes(self, before: str) -> int:
        """Notes older than `before` that no fact refers to."""
        cur = self.db.execute(
            "DELETE FROM notes WHERE created_at < ? AND id NOT IN "
            "(SELECT note_id FROM facts WHERE note_id IS NOT NULL)",
            [before],
        )
        return int(cur.rowcount)

    def scrub(self) -> bool:
        """After an erasure committed: leave no earlier copy of its pages behind. SQLite's
        secure_delete zeroed the rows in the pages the transaction wrote; the -wal file
        still holds those pages' earlier copies until a checkpoint truncates it. True when
        it did (or nothing was left to do). A failure (a full disk) must not turn the
        committed erasure into an error answer: False."""
        if self.db.conn.in_transaction:
            return True  # the caller's transaction commits later; its caller checkpoints
        try:
            return checkpoint(self.db)
        except sqlite3.Error:
            return False

    # -- the audit log -------------------------------------------------------------------

    def audit(
        self,
        *,
        at: str,
        actor: str,
        action: str,
        subject: str | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        audit.append(self.db, at=at, actor=actor, action=action, subject=subject, details=details)

    def keyed_digest(self, customer_id: str, value: str) -> str:
        return audit.keyed_digest(self.db, customer_id, value)
