"""Opening the database, one handle per request, and write transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import click
import sqlite_utils
from flask import Flask, current_app, g

from .migrations import migrations

BUSY_TIMEOUT_MS = 10_000


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path` with Trustline's pragmas.

    WAL for concurrent readers, a busy timeout for concurrent writers, foreign keys
    enforced, and secure_delete so that erased data is overwritten, not just unlinked.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    db = sqlite_utils.Database(conn)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return db


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending


@contextmanager
def writing(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction (BEGIN IMMEDIATE: writers queue on the busy timeout instead
    of failing when two deferred transactions both try to upgrade). Nested calls use
    savepoints through `db.atomic()`."""
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
        conn.execute("COMMIT")
    except BaseException:
        # COMMIT itself may fail (disk full, I/O error) and SQLite may leave the
        # transaction open: roll back, or a long-lived connection would nest every later
        # write in it as a savepoint that never commits. The first error is the one to
        # report, so a failing ROLLBACK (the disk gone) does not hide it.
        if conn.in_transaction:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def checkpoint(db: sqlite_utils.Database) -> None:
    """Fold the WAL into the main file and truncate it."""
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# -- Flask integration ---------------------------------------------------------------


def database_path(app: Flask) -> str:
    configured = app.config.get("TRUSTLINE_DATABASE")
    return str(configured or Path(app.instance_path) / "trustline.db")


def get_db() -> sqlite_utils.Database:
    """The request's database handle, opened on first use and closed on teardown."""
    if "db" not in g:
        g.db = connect(database_path(current_app))
    db: sqlite_utils.Database = g.db
    return db


def close_db(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


def init_app(app: Flask) -> None:
    """Migrate at start-up, close handles on teardown, add `flask db migrate`."""
    db = connect(database_path(app))
    try:
        migrate(db)
    finally:
        db.conn.close()
    app.teardown_appcontext(close_db)


@click.command("migrate")
def migrate_command() -> None:
    """Apply pending schema migrations."""
    applied = migrate(get_db())
    click.echo("applied: " + ", ".join(applied) if applied else "schema is up to date")


def row(db: sqlite_utils.Database, sql: str, params: Any = ()) -> dict[str, Any] | None:
    """The first row of a query as a dict, or None."""
    cur = db.execute(sql, params)
    first = cur.fetchone()
    if first is None:
        return None
    return dict(zip([c[0] for c in cur.description], first, strict=True))


def rows(db: sqlite_utils.Database, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cur = db.execute(sql, params)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
