"""The request's database handle (as in the Flask tutorial's `db.py`): taken from the
store's pool on first use, given back on teardown; the schema migrated at start-up.

The store (`assistant/store/sqlite/db.py`) opens handles and runs transactions without
Flask; this is its Flask integration. Commands use `app_db()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils
from flask import Flask, current_app, g

from .store.sqlite.db import checkin, checkout, connect, database_path, migrate


def get_db() -> sqlite_utils.Database:
    """The request's database handle, taken on first use and given back on teardown."""
    if "db" not in g:
        g.db_path = database_path(current_app)
        g.db = checkout(g.db_path)
    db: sqlite_utils.Database = g.db
    return db


def close_db(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        checkin(g.pop("db_path"), db)


def init_app(app: Flask) -> None:
    """Migrate at start-up, close handles on teardown."""
    db = connect(database_path(app))
    try:
        migrate(db)
    finally:
        db.conn.close()
    app.teardown_appcontext(close_db)


@contextmanager
def app_db() -> Iterator[tuple[Flask, sqlite_utils.Database]]:
    """The app (settings, migrated database) and a database handle, inside its context:
    what a `trustline` command works in."""
    from . import create_app

    app = create_app()
    with app.app_context():
        yield app, get_db()
