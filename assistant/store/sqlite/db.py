"""Opening the database, a handle per request (a few kept open between requests), and
write transactions."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from .migrations import migrations

BUSY_TIMEOUT_MS = 10_000


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path` with Trustline's pragmas.

    WAL for concurrent readers, a busy timeout for concurrent writers, foreign keys
    enforced, secure_delete so that erased data is overwritten, not just unlinked, and
    synchronous=FULL: every commit syncs the WAL before it returns, so a write that was
    acknowledged survives power loss or an OS crash (NORMAL may lose the last commits).
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
    conn.execute("PRAGMA synchronous = FULL")
    return db


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending


# Called after each commit in this process (the event streams' reader reads at once
# instead of at its next poll); they must be quick and must not write.
_AFTER_COMMIT: list[Callable[[], None]] = []


def on_commit(fn: Callable[[], None]) -> None:
    """Call `fn` after every write transaction this process commits."""
    _AFTER_COMMIT.append(fn)


# The threads of one process write one at a time (SQLite allows one writer per database
# anyway). Without this, every thread of every process waits in SQLite's busy handler,
# whose sleeps grow to 100 ms: under load a writer can keep missing its turn for a second
# while each transaction holds the lock for a few milliseconds.
_PROCESS_WRITER = threading.RLock()
BEGIN_RETRY_SECONDS = 0.001  # how often a writer tries again while another process writes


@contextmanager
def writing(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction (BEGIN IMMEDIATE: writers queue instead of failing when two
    deferred transactions both try to upgrade). Nested calls use savepoints through
    `db.atomic()`. Waits up to the busy timeout, then raises sqlite3.OperationalError
    ("database is locked") as SQLite would."""
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield db
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    if not _PROCESS_WRITER.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
        raise sqlite3.OperationalError("database is locked (by another thread)")
    try:
        try:
            _begin_immediate(conn, deadline)
            yield db
            conn.execute("COMMIT")
            for fn in _AFTER_COMMIT:
                with suppress(Exception):  # committed: nothing may undo or fail that
                    fn()
        except BaseException:
            # COMMIT itself may fail (disk full, I/O error) and SQLite may leave the
            # transaction open: roll back, or a long-lived connection would nest every
            # later write in it as a savepoint that never commits. The first error is the
            # one to report, so a failing ROLLBACK (the disk gone) does not hide it.
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
    finally:
        _PROCESS_WRITER.release()


def _begin_immediate(conn: sqlite3.Connection, deadline: float) -> None:
    """BEGIN IMMEDIATE, retried every millisecond while another process holds the write
    lock (SQLite's own busy handler backs off to 100 ms sleeps), until `deadline`."""
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if result_code(exc) != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(BEGIN_RETRY_SECONDS)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def result_code(exc: BaseException) -> int | None:
    """SQLite's primary result code of `exc` (SQLITE_BUSY, SQLITE_FULL...: the low byte of
    an extended code), or None when SQLite did not raise it."""
    code = getattr(exc, "sqlite_errorcode", None)  # absent on errors raised by Python
    return code & 0xFF if isinstance(code, int) else None


CHECKPOINT_TRIES = 50  # each waits up to the busy timeout for readers to move on


def checkpoint(db: sqlite_utils.Database) -> bool:
    """Fold the WAL into the main file and truncate it to nothing, so that no copy of a
    page from before (an erased customer's rows) is left in the -wal file. Readers of
    an older snapshot hold a checkpoint back: it is tried again a bounded number of
    times. True when the WAL was emptied."""
    for _ in range(CHECKPOINT_TRIES):
        busy, _log, _done = db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy:
            return True
        time.sleep(BEGIN_RETRY_SECONDS * 10)
    return False


# -- Where the app's database is, and handles kept between requests -------------------
# (The request's handle, `get_db`, is the web layer's: assistant/db.py.)


class _App(Protocol):
    """What `database_path` reads of a Flask app (the store does not import Flask)."""

    config: Any
    instance_path: str


def database_path(app: _App) -> str:
    configured = app.config.get("TRUSTLINE_DATABASE")
    return str(configured or Path(app.instance_path) / "trustline.db")


# Opening a handle costs more than most requests' queries (the pragmas, sqlite-utils), so
# handles given back are kept for the next request of any thread. Few are kept (each
# may cache up to 2 MB of pages): as many as requests run at once, not one per thread.
IDLE_HANDLES = 16


class _Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        # (path, handle), the most recently given back last
        self.idle: list[tuple[str, sqlite_utils.Database]] = []


_POOL = _Pool()


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


_OPENED_ON = "_trustline_file"  # attribute of a handle: the file identity it was opened on


def checkout(path: str) -> sqlite_utils.Database:
    """A handle on the database at `path`: a kept one when the path still names the file
    it was opened on (not replaced or deleted since), else a new one. Give it back with
    `checkin`."""
    kept = None
    with _POOL.lock:
        if _POOL.pid != os.getpid():  # a forked child: the parent's handles are not ours
            _POOL.pid, _POOL.idle = os.getpid(), []
        for n in range(len(_POOL.idle) - 1, -1, -1):
            if _POOL.idle[n][0] == path:
                kept = _POOL.idle.pop(n)
                break
    if kept is not None:
        db = kept[1]
        if getattr(db, _OPENED_ON) == _identity(path) and not db.conn.in_transaction:
            return db
        db.conn.close()
    db = connect(path)
    # Taken when opening, not when given back: a file replaced meanwhile must not pass
    # for the one this handle has open.
    setattr(db, _OPENED_ON, _identity(path) if path != ":memory:" else None)
    return db


def checkin(path: str, db: sqlite_utils.Database) -> None:
    """Give back a handle from `checkout`: kept for a next request (which checks it is
    still on its file), unless it is in a transaction (a failure left it so) or has no
    file; the oldest kept one is closed when more than IDLE_HANDLES are."""
    if getattr(db, _OPENED_ON, None) is None or db.conn.in_transaction:
        db.conn.close()
        return
    with _POOL.lock:
        _POOL.idle.append((path, db))
        surplus = _POOL.idle[:-IDLE_HANDLES] if len(_POOL.idle) > IDLE_HANDLES else []
        del _POOL.idle[: len(surplus)]
    for _, old in surplus:
        old.conn.close()


@contextmanager
def pooled(path: str) -> Iterator[sqlite_utils.Database]:
    """`checkout` for a block."""
    db = checkout(path)
    try:
        yield db
    finally:
        checkin(path, db)


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
