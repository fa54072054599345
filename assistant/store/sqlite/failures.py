"""Which SQLite errors mean the database cannot be used (disk full, read-only, I/O
error, cannot be opened): the store only tells; the web layer answers them with a 503
(`assistant.web.storage`) and the webhook worker waits and retries."""

from __future__ import annotations

import sqlite3

from .db import result_code

# The exception class a storage condition comes as.
ERROR = sqlite3.Error

# Primary result codes (an extended code's low byte): what the operator has to fix.
CONDITIONS = {
    sqlite3.SQLITE_FULL: "the disk holding the database is full",
    sqlite3.SQLITE_READONLY: "the database is read-only",
    sqlite3.SQLITE_IOERR: "the database file cannot be read or written (I/O error)",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
}


def storage_condition(exc: BaseException) -> str | None:
    """What keeps the database from being used, when `exc` says the storage failed
    (disk full, read-only, I/O error, cannot open); None for any other error."""
    if not isinstance(exc, sqlite3.Error):
        return None
    code = result_code(exc)
    return CONDITIONS.get(code) if code is not None else None
