"""Copying a SQLite deployment into an empty PostgreSQL database, losslessly: every
table row by row with its ids, the id counters past every id SQLite ever handed out
(AUTOINCREMENT: none is reused), then the row counts compared and the audit chain
verified on the copy.

Event positions (the streams' Last-Event-ID) are the SQLite event ids, so a stream
resumes across the move; outbox sequence numbers, the fan-out cursor and the
subscriptions' start positions are kept as they were, and new positions continue past
all of them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import sqlite_utils
from psycopg import sql

from . import audit
from .migrations import migrate

# In foreign-key order: a row's parents are copied before it.
TABLES = (
    "customers",
    "identities",
    "subject_keys",
    "notes",
    "decisions",
    "facts",
    "consents",
    "consent_proposals",
    "dsr",
    "events",
    "audit_log",
    "api_keys",
    "idempotency",
    "tombstones",
    "sidebar_sessions",
    "customer_links",
    "webhook_subscriptions",
    "webhook_secrets",
    "webhook_outbox",
    "webhook_cursor",
    "webhook_messages",
    "webhook_deliveries",
    "webhook_attempts",
    "webhook_inbox",
)
# SQLite's own bookkeeping, not Trustline's data.
SKIPPED = ("_sqlite_migrations", "sqlite_sequence", "sqlite_stat1")
# Columns referring to rows of their own table, which may come later: set in a second pass.
SELF_REFERENCES = {"facts": "superseded_by"}
# Rows the PostgreSQL migration creates that the copy replaces.
SEEDED = {"webhook_cursor"}
BATCH = 500


class CopyError(RuntimeError):
    """The copy cannot be made, or did not come out identical."""


def _sqlite(path: str | Path) -> sqlite_utils.Database:
    if not Path(path).is_file():
        raise CopyError(f"no SQLite database at {path}")
    # Read-only: the copy never changes its source.
    return sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))


def _rows(db: sqlite_utils.Database, table: str, columns: list[str]) -> Iterator[list[Any]]:
    quoted = ", ".join(f'"{c}"' for c in columns)
    cur = db.execute(f'SELECT {quoted} FROM "{table}" ORDER BY rowid')
    while batch := cur.fetchmany(BATCH):
        yield from (list(r) for r in batch)


def _pg_columns(conn: psycopg.Connection[Any], table: str) -> set[str]:
    found = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        [table],
    ).fetchall()
    return {r["column_name"] for r in found}


def _check_empty(conn: psycopg.Connection[Any]) -> None:
    for table in TABLES:
        if table in SEEDED:
            continue
        query = sql.SQL("SELECT 1 AS found FROM {} LIMIT 1").format(sql.Identifier(table))
        if conn.execute(query).fetchone() is not None:
            raise CopyError(f"the PostgreSQL database is not empty (table {table} has rows)")


def copy_database(
    sqlite_path: str | Path,
    conn: psycopg.Connection[Any],
    *,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Copy the SQLite database at `sqlite_path` into the (migrated, empty) database of
    `conn` (dict rows), in one transaction; returns the rows copied per table.

    Raises CopyError when the target is not empty, the source has a table or column the
    PostgreSQL schema lacks, or the copy's counts or audit chain do not check out.
    """
    source = _sqlite(sqlite_path)
    try:
        migrate(conn)
        present = set(source.table_names())
        unknown = sorted(present - set(TABLES) - set(SKIPPED))
        if unknown:
            raise CopyError(f"the SQLite database has tables this copy does not know: {unknown}")
        counters = {
            str(r[0]): int(r[1])
            for r in (
                source.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
                if "sqlite_sequence" in present
                else []
            )
        }
        copied: dict[str, int] = {}
        with conn.transaction():
            _check_empty(conn)
            for table in TABLES:
                if table not in present:
                    continue
                copied[table] = _copy_table(conn, source, table)
                if progress is not None:
                    progress(table, copied[table])
            _continue_counters(conn, counters)
            _check_counts(conn, source, copied)
            result = audit.verify(conn)  # before the commit: a failed copy leaves nothing
            if not result.ok:
                raise CopyError(
                    "the audit chain does not verify after the copy: entry "
                    f"{result.first_bad_id}, {result.problem} (the SQLite database's own "
                    "chain is broken: check it with `trustline audit verify`)"
                )
        return copied
    finally:
        source.conn.close()


def _copy_table(conn: psycopg.Connection[Any], source: sqlite_utils.Database, table: str) -> int:
    columns = [c.name for c in source[table].columns]
    missing = sorted(set(columns) - _pg_columns(conn, table))
    if missing:
        raise CopyError(f"the PostgreSQL table {table} lacks the columns {missing}")
    later = SELF_REFERENCES.get(table)
    if table in SEEDED:
        conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
    names = list(columns)
    if table == "events":
        names.append("position")  # an SQLite event id is its position in commit order
    insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(sql.Placeholder() * len(names)),
    )
    deferred: list[tuple[Any, Any]] = []
    count = 0
    batch: list[list[Any]] = []
    with conn.cursor() as cur:
        for values in _rows(source, table, columns):
            if later is not None:
                n = columns.index(later)
                if values[n] is not None:
                    deferred.append((values[n], values[columns.index("id")]))
                    values[n] = None
            if table == "events":
                values.append(values[columns.index("id")])
            batch.append(values)
            if len(batch) >= BATCH:
                cur.executemany(insert, batch)
                count, batch = count + len(batch), []
        if batch:
            cur.executemany(insert, batch)
            count += len(batch)
        if deferred:
            cur.executemany(
                sql.SQL("UPDATE {} SET {} = %s WHERE id = %s").format(
                    sql.Identifier(table), sql.Identifier(later or "")
                ),
                deferred,
            )
    return count


def _continue_counters(conn: psycopg.Connection[Any], counters: dict[str, int]) -> None:
    """Every id counter past every id the SQLite database used, present or deleted."""
    for table in TABLES:
        if table == "webhook_outbox" or "id" not in _pg_columns(conn, table):
            continue
        seq = conn.execute("SELECT pg_get_serial_sequence(%s, 'id') AS s", [table]).fetchone()
        if seq is None or seq["s"] is None:
            continue
        top = conn.execute(
            sql.SQL("SELECT coalesce(max(id), 0) AS top FROM {}").format(sql.Identifier(table))
        ).fetchone()
        last = max(int(top["top"]) if top else 0, counters.get(table, 0))
        if last > 0:
            conn.execute("SELECT setval(%s, %s)", [seq["s"], last])
    # New positions (and so outbox sequence numbers) after every old id and sequence number.
    found = conn.execute(
        "SELECT greatest((SELECT coalesce(max(position), 0) FROM events), "
        "(SELECT coalesce(max(seq), 0) FROM webhook_outbox), "
        "(SELECT coalesce(max(seq), 0) FROM webhook_cursor), "
        "(SELECT coalesce(max(start_seq), 0) FROM webhook_subscriptions), "
        "(SELECT coalesce(max(seq), 0) FROM webhook_messages)) AS top"
    ).fetchone()
    last = max(
        int(found["top"]) if found else 0,
        counters.get("events", 0),
        counters.get("webhook_outbox", 0),
    )
    if last > 0:
        conn.execute("SELECT setval('events_position_seq', %s)", [last])
    head = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    if head is not None:
        # The SQLite counter shows a deleted tail; the head keeps showing it.
        last_id = max(int(head["id"]), counters.get("audit_log", 0))
        conn.execute("UPDATE audit_head SET last_id = %s, hash = %s", [last_id, head["hash"]])


def _check_counts(
    conn: psycopg.Connection[Any], source: sqlite_utils.Database, copied: dict[str, int]
) -> None:
    for table, count in copied.items():
        (expected,) = source.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        found = conn.execute(
            sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table))
        ).fetchone()
        if not (expected == count == (found["n"] if found else -1)):
            raise CopyError(f"table {table}: {expected} rows in SQLite, {count} copied")
