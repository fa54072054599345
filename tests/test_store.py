"""The store on a real SQLite file: pragmas, migrations, audit chain, concurrency, erasure."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from assistant import services
from assistant.policy import load_policy
from assistant.store.sqlite import audit
from assistant.store.sqlite.db import checkin, checkout, checkpoint, connect, migrate
from nlp import Extractor

POLICY = load_policy()


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    handle = connect(tmp_path / "t.db")
    migrate(handle)
    return handle


def add(db: sqlite_utils.Database, customer_id: str = "c-1", **kw: str) -> None:
    services.upsert_customer(
        db, customer_id, actor="test", name=kw.get("name", "Ann"), email=kw.get("email")
    )


def test_pragmas_are_set(db: sqlite_utils.Database) -> None:
    pragma = lambda name: db.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    assert pragma("journal_mode") == "wal"
    assert pragma("foreign_keys") == 1
    assert pragma("secure_delete") == 1
    assert pragma("busy_timeout") >= 5000


def test_migrations_are_named_and_applied_once(db: sqlite_utils.Database) -> None:
    assert migrate(db) == []
    names = [r[0] for r in db.execute("SELECT name FROM _sqlite_migrations").fetchall()]
    assert names == [
        "m001_initial",
        "m002_webhooks",
        "m003_events_autoincrement",
        "m004_subject_keys",
        "m005_demo_identity_source",
        "m006_sidebar_sessions",
        "m007_customer_links",
        "m008_dsr_rectify",
    ]


def test_consent_ledger_is_append_only(db: sqlite_utils.Database) -> None:
    add(db)
    rec = services.record_consent(
        db,
        POLICY,
        "c-1",
        purpose="marketing",
        status="granted",
        actor="a",
        source="agent",
        method="verbal",
        evidence={"text": "yes"},
    )
    services.record_consent(
        db,
        POLICY,
        "c-1",
        purpose="marketing",
        status="withdrawn",
        actor="a",
        source="agent",
        method="verbal",
        evidence={"text": "stop"},
    )
    with pytest.raises(Exception, match="append-only"):
        db.execute("UPDATE consents SET status = 'granted' WHERE id = ?", [rec["id"]])
    statuses = [r["status"] for r in services.consent_ledger(db, "c-1")]
    assert statuses == ["granted", "withdrawn"]  # the grant is still there as history


def test_audit_chain_detects_edits_and_deletions(db: sqlite_utils.Database) -> None:
    for i in range(5):
        add(db, f"c-{i}")
    assert audit.verify(db).ok
    # a tamperer first has to drop the guard trigger; the chain still tells
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit_log SET actor = 'someone-else' WHERE id = 3")
    result = audit.verify(db)
    assert not result.ok and result.first_bad_id == 3


def test_audit_chain_detects_a_deleted_row(db: sqlite_utils.Database) -> None:
    for i in range(4):
        add(db, f"c-{i}")
    db.execute("DELETE FROM audit_log WHERE id = 2")
    assert not audit.verify(db).ok
    db2_rows = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    assert db2_rows == 3


def test_audit_chain_detects_truncation(db: sqlite_utils.Database) -> None:
    for i in range(3):
        add(db, f"c-{i}")
    db.execute("DELETE FROM audit_log WHERE id = 3")
    assert not audit.verify(db).ok


def test_concurrent_writers_lose_nothing(tmp_path: Path, extractor: Extractor) -> None:
    # Issue 3: 8 threads on one customer and 8 on different customers, each with its own
    # connection to the same file, as several server processes would be.
    path = tmp_path / "c.db"
    setup = connect(path)
    migrate(setup)
    for i in range(9):
        add(setup, f"c-{i}")
    text = "Charged twice for the March bill. Prefers email, no calls."
    result = extractor.extract(text)
    per_note = len(
        services.ingest_note(setup, extractor, POLICY, "c-0", text, agent="warmup", result=result)[
            "facts"
        ]
    )
    notes_per_thread = 5
    errors: list[BaseException] = []

    def work(customer_id: str) -> None:
        conn = connect(path)
        try:
            for _ in range(notes_per_thread):
                services.ingest_note(
                    conn, extractor, POLICY, customer_id, text, agent="t", result=result
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            conn.conn.close()

    threads = [threading.Thread(target=work, args=("c-0",)) for _ in range(8)]
    threads += [threading.Thread(target=work, args=(f"c-{i}",)) for i in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    count = lambda sql, *p: setup.execute(sql, p).fetchone()[0]  # noqa: E731
    total_notes = 1 + 16 * notes_per_thread
    assert count("SELECT count(*) FROM notes") == total_notes
    assert count("SELECT count(*) FROM facts") == per_note * total_notes
    assert count("SELECT count(*) FROM notes WHERE customer_id = 'c-0'") == 1 + 8 * notes_per_thread
    added = count("SELECT count(*) FROM events WHERE type LIKE 'profile.%.added'")
    assert added == per_note * total_notes
    assert count("SELECT count(*) FROM audit_log WHERE action = 'note.ingested'") == total_notes
    assert setup.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert audit.verify(setup).ok


def test_erasure_leaves_no_personal_bytes_in_the_file(tmp_path: Path, extractor: Extractor) -> None:
    path = tmp_path / "e.db"
    db = connect(path)
    migrate(db)
    services.upsert_customer(
        db,
        "c-77",
        actor="t",
        name="Zebediah Quuxington",
        email="zeb.quux@example.org",
        identities=[services.Identity("crm", "ZQ-9911")],
    )
    add(db, "c-keep", name="Other Person")
    services.record_consent(
        db,
        POLICY,
        "c-77",
        purpose="personalization",
        status="granted",
        actor="a",
        source="agent",
        method="verbal",
        evidence={"text": "agreed Zebediah"},
    )
    services.record_consent(
        db,
        POLICY,
        "c-77",
        purpose="marketing",
        status="withdrawn",
        channel="email",
        actor="a",
        source="agent",
        method="verbal",
        evidence={"text": "stop emails"},
    )
    for text in (
        "Zebediah loves marmalade sandwiches and trombone lessons. Prefers email.",
        "Charged twice for the xylophonic subscription, v upset.",
    ):
        services.ingest_note(db, extractor, POLICY, "c-77", text, agent="agent-1")
    checkpoint(db)
    before = path.read_bytes()
    assert b"marmalade" in before and b"Quuxington" in before
    out = services.erase(db, "c-77", actor="dpo")
    assert out["suppressions"] == ["marketing:email"]
    checkpoint(db)
    db.conn.close()
    stored = path.read_bytes() + b"".join(
        Path(str(path) + s).read_bytes() for s in ("-wal", "-shm") if Path(str(path) + s).exists()
    )
    for word in (
        "Zebediah",
        "Quuxington",
        "zeb.quux@example.org",
        "ZQ-9911",
        "marmalade",
        "trombone",
        "xylophonic",
        "sandwiches",
    ):
        assert word.encode() not in stored, word
        assert word.lower().encode() not in stored.lower(), word
    db = connect(path)
    assert db.execute("SELECT count(*) FROM customers").fetchone()[0] == 1
    tomb = db.execute("SELECT suppressions FROM tombstones").fetchone()[0]
    assert "marketing:email" in tomb
    assert db.execute("SELECT type FROM events ORDER BY id DESC LIMIT 1").fetchone()[0] == (
        "customer.erased"
    )
    assert audit.verify(db).ok


def test_purge_applies_retention_per_purpose(
    db: sqlite_utils.Database, extractor: Extractor
) -> None:
    add(db)
    old = datetime.now(UTC) - timedelta(days=5000)
    services.ingest_note(db, extractor, POLICY, "c-1", "Prefers email.", agent="a", now=old)
    services.ingest_note(db, extractor, POLICY, "c-1", "Prefers post.", agent="a")
    removed = services.purge(db, POLICY, actor="cron")
    assert sum(v for k, v in removed.items() if k != "notes") == 1
    left = [r[0] for r in db.execute("SELECT value FROM facts").fetchall()]
    assert left == ["post"]


def test_event_ids_are_never_reused_after_an_erasure(db: sqlite_utils.Database) -> None:
    # Issue 4/5: consumers resume "after id N"; a reused id would be skipped by them.
    add(db, "c-keep")
    add(db, "c-gone")
    services.record_consent(
        db,
        POLICY,
        "c-gone",
        purpose="marketing",
        status="withdrawn",
        actor="a",
        source="agent",
        method="verbal",
        evidence={"text": "stop"},
    )
    last_before = db.execute("SELECT max(id) FROM events").fetchone()[0]
    services.erase(db, "c-gone", actor="dpo")
    erased_id = db.execute("SELECT id FROM events WHERE type = 'customer.erased'").fetchone()[0]
    assert erased_id > last_before
    triggers = {
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
        ).fetchall()
    }
    assert {"webhook_outbox_feed", "webhook_event_deleted"} <= triggers


def test_a_kept_handle_is_not_reused_once_its_file_was_replaced(tmp_path: Path) -> None:
    """Handles given back are kept for the next request, but only while the path still
    names the file they have open: writes through a handle on a replaced file would be
    lost. Replaced while the handle was out counts too."""
    path = str(tmp_path / "t.db")
    first = checkout(path)
    checkin(path, first)
    assert checkout(path) is first  # kept and reused
    other = tmp_path / "other.db"
    connect(other).conn.close()
    os.replace(other, path)  # replaced while `first` is in use
    checkin(path, first)
    again = checkout(path)
    assert again is not first
    checkin(path, again)
    assert checkout(path) is again  # the new file's handle is kept in turn
