"""The embedded store: SQLite through sqlite-utils, schema by named migrations
(`migrations`), handles and transactions (`db`), the audit log, the events outbox,
sessions, and storage failures as 503 answers."""
