"""Schema changes, one named function each. Never edit a migration after it lands:
add a new one."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("trustline")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE customers (
            id TEXT PRIMARY KEY,
            name TEXT,
            email TEXT,
            phone TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE identities (
            id INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            source TEXT NOT NULL,
            external_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (source, external_id)
        );
        CREATE INDEX identities_customer ON identities(customer_id);

        -- Only the redacted text of a note is ever stored.
        CREATE TABLE notes (
            id INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            agent TEXT NOT NULL,
            source TEXT NOT NULL,
            redacted_text TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX notes_customer ON notes(customer_id);

        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            note_id INTEGER REFERENCES notes(id) ON DELETE CASCADE,
            fact_kind TEXT NOT NULL,
            fact_key TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('stored', 'blocked', 'recorded')),
            purpose TEXT,
            lawful_basis TEXT,
            reason TEXT NOT NULL,
            consent_record_id INTEGER,
            policy_version TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX decisions_customer ON decisions(customer_id);

        CREATE TABLE facts (
            id INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            note_id INTEGER REFERENCES notes(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('preference', 'complaint')),
            field TEXT,
            value TEXT,
            polarity TEXT,
            category TEXT,
            status TEXT,
            attrs TEXT NOT NULL,
            evidence_start INTEGER,
            evidence_end INTEGER,
            evidence_text TEXT,
            extractor TEXT NOT NULL,
            model_version TEXT NOT NULL,
            confidence REAL NOT NULL,
            agent TEXT NOT NULL,
            purpose TEXT NOT NULL,
            lawful_basis TEXT NOT NULL,
            decision_id INTEGER NOT NULL REFERENCES decisions(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            superseded_by INTEGER REFERENCES facts(id) ON DELETE SET NULL,
            superseded_at TEXT,
            removed_at TEXT,
            removed_by TEXT,
            removed_reason TEXT,
            updated_at TEXT
        );
        CREATE INDEX facts_customer ON facts(customer_id, kind, field);

        -- Append-only: withdrawing never deletes a grant (only erasure deletes rows).
        CREATE TABLE consents (
            id INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            purpose TEXT NOT NULL,
            channel TEXT,
            status TEXT NOT NULL CHECK (status IN ('granted', 'withdrawn', 'denied')),
            lawful_basis TEXT NOT NULL,
            source TEXT NOT NULL,
            method TEXT NOT NULL,
            evidence TEXT NOT NULL,
            effective_from TEXT NOT NULL,
            effective_to TEXT,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX consents_customer ON consents(customer_id, purpose);
        CREATE TRIGGER consents_append_only BEFORE UPDATE ON consents
        BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;

        -- Grants found in notes wait here for an explicit confirmation.
        CREATE TABLE consent_proposals (
            id INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            note_id INTEGER REFERENCES notes(id) ON DELETE CASCADE,
            purpose TEXT NOT NULL,
            channel TEXT,
            evidence_text TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            consent_id INTEGER REFERENCES consents(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL
        );

        -- Data-subject requests (erasure, access) with their legal due date.
        CREATE TABLE dsr (
            id INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('erase', 'access')),
            note_id INTEGER REFERENCES notes(id) ON DELETE SET NULL,
            status TEXT NOT NULL DEFAULT 'open',
            created_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            completed_at TEXT
        );

        -- The outbox: every committed change appends here in the same transaction.
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            type TEXT NOT NULL,
            customer_id TEXT,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX events_customer ON events(customer_id, id);

        -- Who did what, hash-chained: each row's hash covers the previous hash.
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids never reused: truncation shows
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT,
            details TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );

        CREATE TABLE idempotency (
            customer_id TEXT NOT NULL,
            key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            status INTEGER NOT NULL,
            response TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (customer_id, key)
        );

        -- What survives an erasure: hashed identifiers and the objections to honour.
        CREATE TABLE tombstones (
            id INTEGER PRIMARY KEY,
            customer_hash TEXT NOT NULL,
            identity_hashes TEXT NOT NULL,
            suppressions TEXT NOT NULL,
            erased_at TEXT NOT NULL
        );
        """
    )
