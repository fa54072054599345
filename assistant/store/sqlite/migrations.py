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


@migrations()
def m002_webhooks(db: sqlite_utils.Database) -> None:
    """Outbound webhook subscriptions and deliveries, and the inbound inbox."""
    db.executescript(
        """
        CREATE TABLE webhook_subscriptions (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            event_types TEXT NOT NULL,          -- JSON list; ["*"] for every type
            description TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            disabled_reason TEXT,
            start_seq INTEGER NOT NULL,         -- outbox position at creation
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        -- Two secrets are active during a rotation: the old one until expires_at.
        CREATE TABLE webhook_secrets (
            id INTEGER PRIMARY KEY,
            subscription_id INTEGER NOT NULL
                REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
            secret TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT
        );
        CREATE INDEX webhook_secrets_subscription ON webhook_secrets(subscription_id);

        -- Every event, in commit order, fed by a trigger in the event's own transaction.
        -- events.id cannot serve as the cursor: erasure deletes a customer's events, and
        -- SQLite reuses the ids of deleted rows at the end of a table.
        CREATE TABLE webhook_outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id INTEGER NOT NULL
        );
        CREATE INDEX webhook_outbox_event ON webhook_outbox(event_id);
        CREATE TRIGGER webhook_outbox_feed AFTER INSERT ON events
        BEGIN INSERT INTO webhook_outbox (event_id) VALUES (NEW.id); END;

        CREATE TABLE webhook_cursor (
            name TEXT PRIMARY KEY,
            seq INTEGER NOT NULL
        );
        INSERT INTO webhook_cursor (name, seq) VALUES ('outbox', 0);

        -- One message per event that has subscribers; msg_id is the webhook-id.
        CREATE TABLE webhook_messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            msg_id TEXT NOT NULL UNIQUE,
            seq INTEGER NOT NULL,
            event_id INTEGER,                   -- NULL once the event is deleted
            type TEXT NOT NULL,
            customer_id TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX webhook_messages_event ON webhook_messages(event_id);
        CREATE INDEX webhook_messages_type ON webhook_messages(type, customer_id);

        CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id INTEGER NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
            subscription_id INTEGER NOT NULL
                REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
            customer_id TEXT,                   -- the ordering key
            status TEXT NOT NULL CHECK (
                status IN ('pending', 'sending', 'delivered', 'dead', 'cancelled')
            ),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,      -- unix seconds
            lease_until REAL,                   -- while sending: reclaimable after this
            claim TEXT,                         -- token of the claim that is sending it
            last_status INTEGER,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            delivered_at TEXT,
            UNIQUE (message_id, subscription_id)
        );
        CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
        CREATE INDEX webhook_deliveries_chain
            ON webhook_deliveries(subscription_id, customer_id, id)
            WHERE status IN ('pending', 'sending');

        CREATE TABLE webhook_attempts (
            id INTEGER PRIMARY KEY,
            delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
            attempt INTEGER NOT NULL,
            at TEXT NOT NULL,
            status_code INTEGER,
            error TEXT,
            duration_ms INTEGER NOT NULL
        );
        CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id);

        -- Erasure deletes a customer's events: their undelivered messages are cancelled
        -- (never sent after the erasure), and every message of them loses the link and
        -- the customer id. One in flight keeps its place in the customer's order until
        -- its attempt ends.
        CREATE TRIGGER webhook_event_deleted AFTER DELETE ON events
        BEGIN
            UPDATE webhook_deliveries
               SET status = CASE WHEN status IN ('pending', 'dead') THEN 'cancelled'
                            ELSE status END,
                   last_error = CASE WHEN status IN ('pending', 'sending', 'dead')
                                THEN 'event deleted (customer erased)' ELSE last_error END,
                   customer_id = CASE WHEN status = 'sending' THEN customer_id END,
                   updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
             WHERE message_id IN (SELECT id FROM webhook_messages WHERE event_id = OLD.id);
            UPDATE webhook_messages
               SET event_id = NULL,
                   customer_id = CASE WHEN type = 'customer.erased' THEN customer_id END
             WHERE event_id = OLD.id;
            DELETE FROM webhook_outbox WHERE event_id = OLD.id;
        END;

        -- Inbound messages: the dedup key and the raw body, recorded before any work;
        -- the body is deleted once the message is processed.
        CREATE TABLE webhook_inbox (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            message_id TEXT NOT NULL,
            type TEXT,
            status TEXT NOT NULL CHECK (
                status IN ('received', 'processed', 'ignored', 'failed')
            ),
            body BLOB,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            customer_id TEXT REFERENCES customers(id) ON DELETE SET NULL,
            note_id INTEGER REFERENCES notes(id) ON DELETE SET NULL,
            conversation TEXT,
            received_at TEXT NOT NULL,
            processed_at TEXT,
            UNIQUE (source, message_id)
        );
        CREATE INDEX webhook_inbox_received ON webhook_inbox(status, received_at);
        CREATE INDEX webhook_inbox_conversation ON webhook_inbox(source, conversation)
            WHERE conversation IS NOT NULL;
        """
    )


@migrations()
def m003_events_autoincrement(db: sqlite_utils.Database) -> None:
    """Event ids are never reused, so a consumer resuming after an id misses nothing.

    Erasure deletes a customer's events; without AUTOINCREMENT SQLite hands the ids of
    rows deleted at the end of the table out again. The table is rebuilt (SQLite cannot
    change a primary key in place) and its triggers are recreated as they were.
    """
    triggers = [
        r[0]
        for r in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
        ).fetchall()
    ]
    db.executescript(
        """
        CREATE TABLE events_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            type TEXT NOT NULL,
            customer_id TEXT,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            data TEXT NOT NULL
        );
        INSERT INTO events_new (id, type, customer_id, actor, at, data)
            SELECT id, type, customer_id, actor, at, data FROM events;
        DROP TABLE events;
        ALTER TABLE events_new RENAME TO events;
        CREATE INDEX events_customer ON events(customer_id, id);
        """
    )
    for sql in triggers:
        db.execute(sql)


@migrations()
def m004_subject_keys(db: sqlite_utils.Database) -> None:
    """Audit subjects are pseudonyms: an HMAC of the customer id under a key of the
    customer's own, deleted with her at erasure (crypto-shredding, docs/erasure.md)."""
    db.executescript(
        """
        CREATE TABLE subject_keys (
            customer_id TEXT PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
            key BLOB NOT NULL,
            created_at TEXT NOT NULL
        );
        """
    )


@migrations()
def m005_demo_identity_source(db: sqlite_utils.Database) -> None:
    """The demo's customers move to identity sources of their own: under `chatwoot` and
    `crm`, a real Chatwoot's contact 101 resolved to a demo customer, and a contact a
    demo visitor created met a real agent."""
    db.executescript(
        """
        UPDATE OR IGNORE identities SET source = 'trustline-demo'
         WHERE source = 'chatwoot' AND customer_id LIKE 'demo-%';
        UPDATE OR IGNORE identities SET source = 'trustline-demo-crm'
         WHERE source = 'crm' AND customer_id LIKE 'demo-%';
        """
    )


@migrations()
def m006_sidebar_sessions(db: sqlite_utils.Database) -> None:
    """Sidebar sessions kept server-side, so that they can be ended: by a newer launch
    when the host asks, or by `trustline sessions revoke` (issue 12, item 14). Only a
    digest of the session token is kept; the cookie carries the token."""
    db.executescript(
        """
        CREATE TABLE sidebar_sessions (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            issuer TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            agent_name TEXT NOT NULL,
            role TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ended_at TEXT,
            end_reason TEXT
        );
        CREATE INDEX sidebar_sessions_agent ON sidebar_sessions(issuer, agent_id);
        """
    )


@migrations()
def m007_customer_links(db: sqlite_utils.Database) -> None:
    """Links to the customer's own page (docs/customer-page.md). Only a digest of each
    link's token is kept, so a copy of the database opens no page; a link ends when it
    expires, when it is revoked, or with its customer (erasure)."""
    db.executescript(
        """
        CREATE TABLE customer_links (
            id INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            token_hash TEXT NOT NULL UNIQUE,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE INDEX customer_links_customer ON customer_links(customer_id);
        """
    )


@migrations()
def m008_dsr_rectify(db: sqlite_utils.Database) -> None:
    """Data-subject requests may be corrections too (Art. 16), and say where they came
    from and, for a correction, which fact and what the customer says is wrong (redacted
    like every free text). SQLite cannot change a CHECK in place: the table is rebuilt."""
    db.executescript(
        """
        CREATE TABLE dsr_new (
            id INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('erase', 'access', 'rectify')),
            note_id INTEGER REFERENCES notes(id) ON DELETE SET NULL,
            status TEXT NOT NULL DEFAULT 'open',
            created_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            completed_at TEXT,
            channel TEXT NOT NULL DEFAULT 'note',
            fact_id INTEGER REFERENCES facts(id) ON DELETE SET NULL,
            details TEXT
        );
        INSERT INTO dsr_new (id, customer_id, kind, note_id, status, created_at, due_at,
                             completed_at)
            SELECT id, customer_id, kind, note_id, status, created_at, due_at, completed_at
              FROM dsr;
        DROP TABLE dsr;
        ALTER TABLE dsr_new RENAME TO dsr;
        CREATE INDEX dsr_customer ON dsr(customer_id, status);
        """
    )
