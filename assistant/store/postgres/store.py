"""`Store` on PostgreSQL: one psycopg 3 connection in autocommit mode, so that a read
outside `transaction()` is its own statement and `transaction()` is a real BEGIN ...
COMMIT (a savepoint when nested). The SQL mirrors `assistant.store.sqlite.store`
method by method and returns the same rows: ids as int, JSON columns as SQLite returns
them (text, except a consent's `evidence` and an event's `data`, decoded), times as the
ISO text they were stored as.

What differs, and why:

- **Writes for one customer are serialised across hosts.** Inside a transaction, the
  first method given a customer id takes that customer's advisory transaction lock
  (`writes.lock_customer`), held to COMMIT. Every write service starts its transaction
  by reading the customer (`customer`, `customer_fact`, ...), so its reads of the
  consent state and the facts happen under the lock: a second host writing the same
  customer waits, then sees the first one's commit (READ COMMITTED), and no update is
  lost. Outside a transaction nothing is locked (a read is one statement).
- **Events are read in commit order.** `events_after` pages by `events.position`,
  handed out at commit (migrations.py), and reports the position as the event's `id`:
  the cursor that the streams (Last-Event-ID) and the API's `after` hand back. For an
  event copied from SQLite the two are the same number.
- **`change_token`** is the last committed event position. It changes whenever a
  transaction that published an event commits, on any connection (on this one too: a
  worker then makes one pass more). A commit without an event does not change it:
  nothing new to stream or deliver (the webhook worker also looks every second). The
  sequence's `last_value` would not do: the position is drawn before the commit is
  visible, so a worker could see the new token, find nothing yet, and never look again.
- **`scrub`** runs VACUUM on the tables an erasure touches; see its docstring for what
  that does and does not remove.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from ...consent import ConsentState
from ...domain.consent_ledger import consent_record
from ...domain.events import EVENT_TYPES, Event
from ...domain.facts import Supersession
from ..columns import DECISION_COLUMNS, FACT_COLUMNS, REQUEST_COLUMNS
from . import audit
from .writes import lock_customer

if TYPE_CHECKING:
    from ..interface import Store

log = logging.getLogger(__name__)

# The tables an erasure deletes from or rewrites (directly or by cascade): the ones
# `scrub` vacuums.
ERASURE_TABLES = (
    "customers",
    "identities",
    "notes",
    "decisions",
    "facts",
    "consents",
    "consent_proposals",
    "dsr",
    "events",
    "idempotency",
    "subject_keys",
    "customer_links",
    "webhook_inbox",
    "webhook_outbox",
    "webhook_messages",
    "webhook_deliveries",
)


class PostgresStore:
    """The store interface (`assistant.store.interface.Store`) over one connection,
    used by one thread at a time. The connection is switched to autocommit (it must not
    be in a transaction when handed over)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        if not conn.autocommit:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                raise ValueError("PostgresStore needs a connection outside any transaction")
            conn.autocommit = True
        self.conn = conn
        # Customers locked by each open transaction level (outermost first): a lock taken
        # in a savepoint that rolls back is released with it.
        self._locked: list[set[str]] = []
        self._erased_xid: int | None = None  # the last erasure's transaction id

    @classmethod
    def connect(cls, url: str) -> PostgresStore:
        """A store on a new connection to `url` (errors name TRUSTLINE_DATABASE)."""
        from .connection import connect

        return cls(connect(url, autocommit=True))

    def close(self) -> None:
        self.conn.close()

    # -- helpers ---------------------------------------------------------------------

    def _rows(self, query: str | sql.Composed, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.conn.cursor(row_factory=dict_row)
        cur.execute(query, params)
        return cur.fetchall()

    def _row(self, query: str | sql.Composed, params: Any = ()) -> dict[str, Any] | None:
        found = self._rows(query, params)
        return found[0] if found else None

    def _run(self, query: str, params: Any = ()) -> int:
        """Execute a write; returns the rows it touched."""
        cur = self.conn.execute(query, params)
        return int(cur.rowcount)

    def _mine(self, customer_id: str) -> None:
        """Inside a transaction: hold `customer_id`'s write lock (taken once)."""
        if not self._locked or any(customer_id in level for level in self._locked):
            return
        lock_customer(self.conn, customer_id)
        self._locked[-1].add(customer_id)

    @contextmanager
    def transaction(self) -> Iterator[PostgresStore]:
        self._locked.append(set())
        try:
            with self.conn.transaction():
                yield self
        except BaseException:
            self._locked.pop()
            raise
        taken = self._locked.pop()
        if self._locked:
            self._locked[-1] |= taken  # a released savepoint's locks last to the commit

    def change_token(self) -> int:
        found = self._row("SELECT coalesce(max(position), 0) AS p FROM events")
        assert found is not None
        return int(found["p"])

    def publish(self, event: Event) -> int:
        if event.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event.type!r}")
        if event.customer_id is not None:
            self._mine(event.customer_id)
        found = self._row(
            "INSERT INTO events (type, customer_id, actor, at, data) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            [event.type, event.customer_id, event.actor, event.at, json.dumps(event.data)],
        )
        assert found is not None
        return int(found["id"])

    def events_after(
        self, after_id: int, customer_id: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Committed events after stream position `after_id`, in commit order; each
        event's `id` is its position (the stream's cursor)."""
        columns = "position AS id, type, customer_id, actor, at, data"
        if customer_id is None:
            found = self._rows(
                f"SELECT {columns} FROM events WHERE position > %s ORDER BY position LIMIT %s",
                [after_id, limit],
            )
        else:
            found = self._rows(
                f"SELECT {columns} FROM events WHERE position > %s AND customer_id = %s "
                "ORDER BY position LIMIT %s",
                [after_id, customer_id, limit],
            )
        for e in found:
            e["data"] = json.loads(e["data"])
        return found

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        self._mine(customer_id)
        return self._row("SELECT * FROM customers WHERE id = %s", [customer_id])

    def consent_state(self, customer_id: str) -> ConsentState:
        self._mine(customer_id)
        found = self._rows(
            "SELECT * FROM consents WHERE customer_id = %s ORDER BY id", [customer_id]
        )
        return ConsentState(tuple(consent_record(r) for r in found))

    # -- customers and identities ------------------------------------------------------

    def insert_customer(
        self, customer_id: str, name: str | None, email: str | None, phone: str | None, at: str
    ) -> None:
        self._mine(customer_id)
        self._run(
            "INSERT INTO customers (id, name, email, phone, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [customer_id, name, email, phone, at, at],
        )

    def update_customer(
        self, customer_id: str, name: str | None, email: str | None, phone: str | None, at: str
    ) -> None:
        """Sets the values given (None keeps the stored one)."""
        self._mine(customer_id)
        self._run(
            "UPDATE customers SET name = coalesce(%s, name), email = coalesce(%s, email), "
            "phone = coalesce(%s, phone), updated_at = %s WHERE id = %s",
            [name, email, phone, at, customer_id],
        )

    def identity_owner(self, source: str, external_id: str) -> str | None:
        found = self._row(
            "SELECT customer_id FROM identities WHERE source = %s AND external_id = %s",
            [source, external_id],
        )
        return str(found["customer_id"]) if found else None

    def insert_identity(self, customer_id: str, source: str, external_id: str, at: str) -> None:
        self._mine(customer_id)
        self._run(
            "INSERT INTO identities (customer_id, source, external_id, created_at) "
            "VALUES (%s, %s, %s, %s)",
            [customer_id, source, external_id, at],
        )

    def identities(self, customer_id: str) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT source, external_id FROM identities WHERE customer_id = %s ORDER BY id",
            [customer_id],
        )

    # -- the consent ledger and proposals ----------------------------------------------

    def consent_ledger(self, customer_id: str) -> list[dict[str, Any]]:
        out = self._rows("SELECT * FROM consents WHERE customer_id = %s ORDER BY id", [customer_id])
        for r in out:
            r["evidence"] = json.loads(r["evidence"])
        return out

    def insert_consent(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append a ledger record (evidence a mapping, times ISO text); returns its row."""
        self._mine(str(record["customer_id"]))
        stored = self._row(
            "INSERT INTO consents (customer_id, purpose, channel, status, lawful_basis, source, "
            "method, evidence, effective_from, effective_to, recorded_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
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
        assert stored is not None
        stored["evidence"] = json.loads(stored["evidence"])
        return stored

    def pending_proposals(self, customer_id: str) -> list[dict[str, Any]]:
        # SQLite returns these in rowid order (no ORDER BY there, a full scan): say it.
        return self._rows(
            "SELECT * FROM consent_proposals WHERE customer_id = %s AND status = 'pending' "
            "ORDER BY id",
            [customer_id],
        )

    def proposal(self, customer_id: str, proposal_id: int) -> dict[str, Any] | None:
        self._mine(customer_id)
        return self._row(
            "SELECT * FROM consent_proposals WHERE id = %s AND customer_id = %s",
            [proposal_id, customer_id],
        )

    def close_proposal(self, proposal_id: int, status: str, consent_id: int) -> None:
        self._run(
            "UPDATE consent_proposals SET status = %s, consent_id = %s WHERE id = %s",
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
        self._mine(customer_id)
        found = self._row(
            "INSERT INTO consent_proposals (customer_id, note_id, purpose, channel, "
            "evidence_text, created_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
            [customer_id, note_id, purpose, channel, evidence_text, at],
        )
        assert found is not None
        return found

    # -- notes, decisions and facts ----------------------------------------------------

    def insert_note(
        self, customer_id: str, agent: str, source: str, redacted_text: str, at: str
    ) -> int:
        self._mine(customer_id)
        found = self._row(
            "INSERT INTO notes (customer_id, agent, source, redacted_text, created_at) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            [customer_id, agent, source, redacted_text, at],
        )
        assert found is not None
        return int(found["id"])

    def insert_decision(self, decision: Mapping[str, Any]) -> dict[str, Any]:
        self._mine(str(decision["customer_id"]))
        found = self._row(
            f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) "
            f"VALUES ({', '.join('%s' for _ in DECISION_COLUMNS)}) RETURNING *",
            [decision[k] for k in DECISION_COLUMNS],
        )
        assert found is not None
        return found

    def insert_fact(self, fact: Mapping[str, Any]) -> int:
        """Store a fact (`attrs` a mapping); returns its id."""
        self._mine(str(fact["customer_id"]))
        values = [json.dumps(dict(fact[k])) if k == "attrs" else fact[k] for k in FACT_COLUMNS]
        found = self._row(
            f"INSERT INTO facts ({', '.join(FACT_COLUMNS)}) "
            f"VALUES ({', '.join('%s' for _ in FACT_COLUMNS)}) RETURNING id",
            values,
        )
        assert found is not None
        return int(found["id"])

    def customer_fact(
        self, customer_id: str, fact_id: int, *, kind: str | None = None
    ) -> dict[str, Any] | None:
        """Fact `fact_id` if it is the customer's (and of `kind`, when given)."""
        self._mine(customer_id)
        query = "SELECT * FROM facts WHERE id = %s AND customer_id = %s"
        params: list[Any] = [fact_id, customer_id]
        if kind is not None:
            query, params = query + " AND kind = %s", [*params, kind]
        return self._row(query, params)

    def update_status(self, fact_id: int, status: str, attrs: Mapping[str, Any], at: str) -> None:
        """A complaint's status (kept in its attrs too)."""
        self._run(
            "UPDATE facts SET status = %s, attrs = %s, updated_at = %s WHERE id = %s",
            [status, json.dumps(dict(attrs)), at, fact_id],
        )

    def fact(self, fact_id: int) -> dict[str, Any] | None:
        return self._row("SELECT * FROM facts WHERE id = %s", [fact_id])

    def active_facts(self, customer_id: str) -> list[dict[str, Any]]:
        self._mine(customer_id)
        return self._rows(
            "SELECT * FROM facts WHERE customer_id = %s AND removed_at IS NULL "
            "AND superseded_by IS NULL ORDER BY id",
            [customer_id],
        )

    def mark_removed(self, fact_id: int, at: str, actor: str, reason: str) -> None:
        self._run(
            "UPDATE facts SET removed_at = %s, removed_by = %s, removed_reason = %s WHERE id = %s",
            [at, actor, reason, fact_id],
        )

    def mark_superseded(self, fact_id: int, by: int, at: str) -> None:
        self._run(
            "UPDATE facts SET superseded_by = %s, superseded_at = %s WHERE id = %s",
            [by, at, fact_id],
        )

    def superseded_by(
        self, customer_id: str, rule: Supersession, fact_id: int, note_id: int
    ) -> list[dict[str, Any]]:
        """The active preferences new fact `fact_id` of note `note_id` replaces."""
        self._mine(customer_id)
        # ORDER BY id: SQLite's full scans return rowid order, which its callers see.
        older = self._rows(
            "SELECT * FROM facts WHERE customer_id = %s AND kind = 'preference' "
            "AND field = %s AND value = %s AND id != %s AND superseded_by IS NULL "
            "AND removed_at IS NULL ORDER BY id",
            [customer_id, rule.field, rule.value, fact_id],
        )
        if rule.exclusive:
            older += self._rows(
                "SELECT * FROM facts WHERE customer_id = %s AND kind = 'preference' "
                "AND field = %s AND value != %s AND polarity = 'positive' AND note_id != %s "
                "AND superseded_by IS NULL AND removed_at IS NULL ORDER BY id",
                [customer_id, rule.field, rule.value, note_id],
            )
        return older

    # -- data-subject rights -----------------------------------------------------------

    def insert_request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Open a data-subject request; returns its row."""
        self._mine(str(request["customer_id"]))
        found = self._row(
            f"INSERT INTO dsr ({', '.join(REQUEST_COLUMNS)}) "
            f"VALUES ({', '.join('%s' for _ in REQUEST_COLUMNS)}) RETURNING *",
            [request[k] for k in REQUEST_COLUMNS],
        )
        assert found is not None
        return found

    def requests(self, customer_id: str, *, only_open: bool = False) -> list[dict[str, Any]]:
        if only_open:
            return self._rows(
                "SELECT * FROM dsr WHERE customer_id = %s AND status = 'open' ORDER BY id",
                [customer_id],
            )
        return self._rows("SELECT * FROM dsr WHERE customer_id = %s ORDER BY id", [customer_id])

    def complete_requests(self, customer_id: str, kind: str, at: str) -> None:
        self._mine(customer_id)
        self._run(
            "UPDATE dsr SET status = 'done', completed_at = %s "
            "WHERE customer_id = %s AND kind = %s",
            [at, customer_id, kind],
        )

    def all_facts(self, customer_id: str) -> list[dict[str, Any]]:
        """Every fact of the customer, removed and superseded ones too."""
        return self._rows("SELECT * FROM facts WHERE customer_id = %s ORDER BY id", [customer_id])

    def decisions(self, customer_id: str) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT * FROM decisions WHERE customer_id = %s ORDER BY id", [customer_id]
        )

    def notes(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's notes as exported (their redacted text)."""
        return self._rows(
            "SELECT id, agent, source, redacted_text, created_at FROM notes "
            "WHERE customer_id = %s ORDER BY id",
            [customer_id],
        )

    def insert_tombstone(
        self, customer_hash: str, identity_hashes: list[str], suppressions: list[str], at: str
    ) -> None:
        self._run(
            "INSERT INTO tombstones (customer_hash, identity_hashes, suppressions, erased_at) "
            "VALUES (%s, %s, %s, %s)",
            [customer_hash, json.dumps(identity_hashes), json.dumps(suppressions), at],
        )

    def count_rows(self, customer_id: str, tables: Iterable[str]) -> dict[str, int]:
        """How many rows of the customer each of `tables` holds."""
        counts: dict[str, int] = {}
        for table in tables:
            found = self._row(
                sql.SQL("SELECT count(*) AS n FROM {} WHERE customer_id = %s").format(
                    sql.Identifier(table)
                ),
                [customer_id],
            )
            assert found is not None
            counts[table] = int(found["n"])
        return counts

    def forget_inbound(self, customer_id: str, rename: Callable[[str, str], str]) -> None:
        """Inbound messages about the customer keep neither their conversation nor their
        body, and their delivery id becomes `rename(source, message_id)`."""
        self._mine(customer_id)
        for msg in self._rows(
            "SELECT id, source, message_id FROM webhook_inbox WHERE customer_id = %s "
            "AND message_id NOT LIKE 'erased:%%' ORDER BY id",
            [customer_id],
        ):
            self._run(
                "UPDATE webhook_inbox SET message_id = %s, conversation = NULL, body = NULL, "
                "error = NULL WHERE id = %s",
                [rename(msg["source"], msg["message_id"]), msg["id"]],
            )

    def delete_customer(self, customer_id: str) -> None:
        """The customer, her events and idempotency records; the rest cascades."""
        self._mine(customer_id)
        self._run("DELETE FROM events WHERE customer_id = %s", [customer_id])
        self._run("DELETE FROM idempotency WHERE customer_id = %s", [customer_id])
        self._run("DELETE FROM customers WHERE id = %s", [customer_id])  # cascades
        found = self._row("SELECT pg_current_xact_id()::text AS xid")
        assert found is not None
        self._erased_xid = int(found["xid"])

    def purge_facts(self, purpose: str, before: str) -> int:
        return self._run(
            "DELETE FROM facts WHERE purpose = %s AND created_at < %s", [purpose, before]
        )

    def purge_notes(self, before: str) -> int:
        """Notes older than `before` that no fact refers to."""
        return self._run(
            "DELETE FROM notes WHERE created_at < %s AND id NOT IN "
            "(SELECT note_id FROM facts WHERE note_id IS NOT NULL)",
            [before],
        )

    def scrub(self) -> bool:
        """After an erasure committed: VACUUM the tables it touched, so that the dead row
        versions holding her data are removed from the table and index pages (until
        then any session could still find them on disk, and `pageinspect` shows them).

        False (logged, not raised) when that could not be done now: VACUUM failed, or a
        snapshot older than the erasure (another session's open transaction, a prepared
        transaction, a replication slot) kept VACUUM from removing those versions;
        a later VACUUM (autovacuum) removes them once it ends.

        What no call can do on PostgreSQL, and True does not claim: the bytes of the
        removed versions are not overwritten in place (the freed space is reused by
        later rows), the WAL segments hold copies until checkpoints recycle them, and
        WAL archives, base backups and replicas keep theirs by their own retention
        (docs/postgres.md, "Erasure")."""
        if self._locked or self.conn.info.transaction_status != TransactionStatus.IDLE:
            return True  # the caller's transaction commits later; its caller scrubs
        try:
            self.conn.execute(
                sql.SQL("VACUUM {}").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in ERASURE_TABLES)
                )
            )
        except psycopg.Error as exc:
            log.warning("VACUUM after an erasure failed: %s", exc)
            return False
        return not self._held_back()

    def _held_back(self) -> bool:
        """Whether a snapshot from before the last erasure's commit may still see its
        rows (so VACUUM had to keep them)."""
        if self._erased_xid is None:
            return False
        found = self._row(
            "SELECT min(x::text::bigint) AS oldest FROM ("
            "  SELECT backend_xmin AS x FROM pg_stat_activity "
            "   WHERE pid <> pg_backend_pid() AND datname = current_database() "
            "  UNION ALL SELECT backend_xid FROM pg_stat_activity "
            "   WHERE pid <> pg_backend_pid() AND datname = current_database() "
            "  UNION ALL SELECT xmin FROM pg_replication_slots "
            "  UNION ALL SELECT catalog_xmin FROM pg_replication_slots "
            "  UNION ALL SELECT transaction FROM pg_prepared_xacts"
            ") AS s WHERE x IS NOT NULL"
        )
        oldest = found["oldest"] if found else None
        if oldest is None:
            return False
        # 32-bit xids against the 64-bit one of the erasure (its low 32 bits).
        erased = self._erased_xid & 0xFFFF_FFFF
        return bool(((erased - int(oldest)) & 0xFFFF_FFFF) < 0x8000_0000)

    # -- the audit log -----------------------------------------------------------------

    def audit(
        self,
        *,
        at: str,
        actor: str,
        action: str,
        subject: str | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        if subject is not None:
            self._mine(subject)
            subject = audit.pseudonym(self.conn, subject)
        audit.append(self.conn, at=at, actor=actor, action=action, subject=subject, details=details)

    def keyed_digest(self, customer_id: str, value: str) -> str:
        self._mine(customer_id)
        return audit.keyed_digest(self.conn, customer_id, value)


if TYPE_CHECKING:

    def _satisfies_the_interface(conn: psycopg.Connection[Any]) -> Store:
        return PostgresStore(conn)  # mypy checks PostgresStore against the Protocol
