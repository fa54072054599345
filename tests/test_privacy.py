"""Personal data on disk and durability (issue 12): what reaches the database files,
what erasure leaves behind, and whether an acknowledged write survives a crash."""

from __future__ import annotations

from flask import Flask

from assistant.store.db import connect, database_path, get_db

SYNCHRONOUS_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


# -- 4. durability ----------------------------------------------------------------------------


def test_every_handle_syncs_each_commit_so_an_acknowledged_write_survives_power_loss(
    app: Flask,
) -> None:
    # Issue 12, item 4: under WAL, synchronous=NORMAL may lose the last commits on power
    # loss or an OS crash; FULL syncs the WAL at every commit, before the answer.
    with app.app_context():
        assert get_db().execute("PRAGMA synchronous").fetchone()[0] == SYNCHRONOUS_FULL
    handle = connect(database_path(app))
    try:
        assert handle.execute("PRAGMA synchronous").fetchone()[0] == SYNCHRONOUS_FULL
        assert handle.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        handle.conn.close()
