"""`copy_database` moves a SQLite deployment into PostgreSQL losslessly: every row of every
table with its ids, no id reused afterwards, stream positions kept, the audit chain
verifying on the copy (issue 14, section 2)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlite_utils

from assistant.store.postgres import audit, events
from assistant.store.postgres.connection import connect
from assistant.store.postgres.copy import TABLES, CopyError, copy_database
from assistant.store.sqlite import audit as sqlite_audit
from assistant.store.sqlite import db as sqlite_db
from assistant.store.sqlite import events as sqlite_events
from tests.test_postgres_store import AT, new_database


@pytest.fixture
def conn(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    with connect(new_database(postgres_url)) as c:
        yield c


def _event(db: sqlite_utils.Database, cid: str, n: int) -> int:
    event = sqlite_events.Event("consent.changed", cid, "agent:a", AT, {"n": n, "é": "ü"})
    return sqlite_events.publish(db, event)


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    """A SQLite deployment with rows in most tables, an erased customer (deleted events:
    AUTOINCREMENT ids not to reuse) and a superseded fact (a reference to a later row)."""
    path = tmp_path / "trustline.db"
    db = sqlite_db.connect(path)
    sqlite_db.migrate(db)
    with sqlite_db.writing(db):
        for cid in ("c1", "c2"):
            db.execute(
                "INSERT INTO customers (id, name, email, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [cid, f"Ann {cid}", f"{cid}@example.org", AT, AT],
            )
            db.execute(
                "INSERT INTO identities (customer_id, source, external_id, created_at) "
                "VALUES (?, 'crm', ?, ?)",
                [cid, f"x-{cid}", AT],
            )
            db.execute(
                "INSERT INTO consents (customer_id, purpose, status, lawful_basis, source, "
                "method, evidence, effective_from, recorded_at) VALUES (?, 'marketing', "
                "'granted', 'consent', 'agent', 'verbal', 'said yes', ?, ?)",
                [cid, AT, AT],
            )
            note = db.execute(
                "INSERT INTO notes (customer_id, agent, source, redacted_text, created_at) "
                "VALUES (?, 'a', 'api', 'likes email [HEALTH]', ?)",
                [cid, AT],
            ).lastrowid
            decision = db.execute(
                "INSERT INTO decisions (customer_id, note_id, fact_kind, fact_key, outcome, "
                "reason, policy_version, created_at) VALUES (?, ?, 'preference', 'k', "
                "'stored', 'r', 'v1', ?)",
                [cid, note, AT],
            ).lastrowid
            for value in ("email", "phone"):
                db.execute(
                    "INSERT INTO facts (customer_id, note_id, kind, field, value, attrs, "
                    "extractor, model_version, confidence, agent, purpose, lawful_basis, "
                    "decision_id, created_at) VALUES (?, ?, 'preference', 'contact_channel', "
                    "?, '{}', 'rules', 'm1', 0.875, 'a', 'personalization', 'consent', ?, ?)",
                    [cid, note, value, decision, AT],
                )
            for n in range(3):
                _event(db, cid, n)
                sqlite_audit.append(
                    db, at=AT, actor="agent:a", action="note.added", subject=cid, details={"n": n}
                )
        # The first fact of c1 superseded by a later one.
        db.execute("UPDATE facts SET superseded_by = 2, superseded_at = ? WHERE id = 1", [AT])
        db.execute(
            "INSERT INTO webhook_inbox (source, message_id, status, body, received_at) "
            "VALUES ('standard', 'm1', 'received', ?, ?)",
            [b"\x00\xffraw", AT],
        )
        db.execute(
            "INSERT INTO webhook_subscriptions (url, event_types, start_seq, created_at, "
            "updated_at) VALUES ('http://127.0.0.1:9/h', '[\"*\"]', 0, ?, ?)",
            [AT, AT],
        )
    with sqlite_db.writing(db):  # erase c2's events: the last ids, never to be reused
        db.execute("DELETE FROM events WHERE customer_id = 'c2'")
        sqlite_audit.append(db, at=AT, actor="t", action="customer.erased", subject=None)
    assert sqlite_audit.verify(db).ok
    db.conn.close()
    return path


def _dump_sqlite(path: Path, table: str) -> list[dict[str, Any]]:
    db = sqlite_utils.Database(sqlite3.connect(path))
    try:
        return [dict(r) for r in db[table].rows_where(order_by="rowid")]
    finally:
        db.conn.close()


def test_copy_is_lossless_and_the_chain_verifies(
    sqlite_file: Path, conn: psycopg.Connection[Any]
) -> None:
    copied = copy_database(sqlite_file, conn)
    assert copied["events"] == 3 and copied["audit_log"] == 7 and copied["facts"] == 4
    for table in TABLES:
        expected = _dump_sqlite(sqlite_file, table)
        columns = list(expected[0]) if expected else ["1"]
        found = conn.execute(
            f"SELECT {', '.join(columns)} FROM {table} ORDER BY {columns[0]}".encode()
        ).fetchall()
        if table == "subject_keys" or table == "webhook_inbox":
            found = [
                {k: bytes(v) if isinstance(v, memoryview) else v for k, v in r.items()}
                for r in found
            ]
        assert found == sorted(expected, key=lambda r: r[columns[0]]), table
    conn.commit()
    assert audit.verify(conn) == audit.Verification(True, 7)
    # A stream that had read up to an event resumes by the same id.
    assert [e["data"]["n"] for e in events.after(conn, 1)] == [1, 2]


def test_after_the_copy_no_id_is_reused_and_events_come_after(
    sqlite_file: Path, conn: psycopg.Connection[Any]
) -> None:
    copy_database(sqlite_file, conn)
    with conn.transaction():
        event_id = events.publish(
            conn, type="consent.changed", customer_id="c1", actor="t", at=AT, data={}
        )
        audit.append(conn, at=AT, actor="t", action="x", subject=None)
    assert event_id == 7  # ids 4-6 were c2's, erased in SQLite: never handed out again
    new = events.after(conn, 3)
    assert [e["id"] for e in new] == [event_id] and new[0]["position"] > 6
    assert audit.verify(conn).ok


def test_copy_refuses_a_target_that_is_not_empty(
    sqlite_file: Path, conn: psycopg.Connection[Any]
) -> None:
    copy_database(sqlite_file, conn)
    with pytest.raises(CopyError, match="not empty"):
        copy_database(sqlite_file, conn)


def test_a_broken_chain_fails_the_copy_and_leaves_nothing(
    sqlite_file: Path, conn: psycopg.Connection[Any]
) -> None:
    db = sqlite3.connect(sqlite_file)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit_log SET details = '{}' WHERE id = 2")
    db.commit()
    db.close()
    with pytest.raises(CopyError, match="entry 2, entry content changed"):
        copy_database(sqlite_file, conn)
    conn.rollback()
    assert conn.execute("SELECT count(*) AS n FROM customers").fetchone() == {"n": 0}
