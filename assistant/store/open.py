"""Opening the store that a TRUSTLINE_DATABASE value names: a `postgresql://` (or
`postgres://`) URL is PostgreSQL, anything else without a scheme is a SQLite file's
path. Either is migrated before it is handed out. Nothing here is wired into the app
or the CLI yet.

Each engine's module is imported only when it is chosen, so a SQLite deployment never
loads psycopg.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .interface import Store
from .postgres.errors import SETTING, DatabaseSettingError


def is_url(target: str) -> bool:
    """Whether `target` is written as a URL (scheme://...), of any scheme."""
    scheme, sep, _ = target.partition("://")
    return bool(sep) and scheme.isascii() and scheme.replace("+", "").isalnum()


def open_store(target: str | os.PathLike[str]) -> Store:
    """The store `target` names, migrated: a PostgresStore for a `postgresql://` URL
    (the URL checked, the server reached, the schema migrated), a SQLiteStore for a
    file path (created when missing, with its folder).

    Raises DatabaseSettingError, naming TRUSTLINE_DATABASE: for an empty value, a URL of
    another scheme, a folder or a file that is not a SQLite database; and PostgreSQL's
    MalformedURL, Unreachable or SchemaTooNew (subclasses of it). Close the store with
    `close_store`.
    """
    value = os.fspath(target)
    if not value.strip():
        raise DatabaseSettingError(
            f"{SETTING} is empty: set it to a SQLite file's path or a postgresql:// URL"
        )
    from .postgres.connection import is_postgres_url

    if is_postgres_url(value):
        return _open_postgres(value)
    if is_url(value):
        scheme = value.partition("://")[0]
        raise DatabaseSettingError(
            f"{SETTING} is a URL of scheme {scheme!r}, which Trustline does not support: "
            "use postgresql://user:password@host:5432/trustline or a SQLite file's path"
        )
    return _open_sqlite(Path(value))


def _open_postgres(url: str) -> Store:
    from .postgres.connection import connect
    from .postgres.migrations import migrate
    from .postgres.store import PostgresStore

    conn = connect(url, autocommit=True)  # MalformedURL, Unreachable
    try:
        migrate(conn)  # SchemaTooNew
    except BaseException:
        conn.close()
        raise
    return PostgresStore(conn)


def _open_sqlite(path: Path) -> Store:
    from .sqlite.db import connect, migrate
    from .sqlite.store import SQLiteStore

    if path.is_dir():
        raise DatabaseSettingError(
            f"{SETTING} names the folder {str(path)!r}: give a SQLite file's path in it "
            "(created when missing)"
        )
    try:
        db = connect(path)
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseSettingError(
            f"{SETTING} names {str(path)!r}, which cannot be opened as a SQLite database ({exc})"
        ) from None
    try:
        migrate(db)
    except BaseException:
        db.conn.close()
        raise
    return SQLiteStore(db)


def close_store(store: Store) -> None:
    """Close the connection of a store from `open_store`."""
    from .sqlite.store import SQLiteStore

    if isinstance(store, SQLiteStore):
        store.db.conn.close()
        return
    close = getattr(store, "close", None)
    if close is not None:
        close()
