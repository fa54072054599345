"""Events in commit order, across hosts.

`publish` inserts the row; its stream position is handed out at COMMIT by the
`events_position` trigger under a lock (see the migration), so positions are in commit
order: a reader that has seen position p has seen every committed event below p, and
`after(position)` never skips one that commits later. Positions are the streams' ids
(Last-Event-ID). Commits NOTIFY the channel `trustline_events`: a `Listener` per host
wakes its reader, which then catches up from the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import dict_row

CHANNEL = "trustline_events"


def publish(
    conn: psycopg.Connection[Any],
    *,
    type: str,
    customer_id: str | None,
    actor: str,
    at: str,
    data: dict[str, Any],
) -> int:
    """Append an event in the caller's transaction; returns its row id (its position is
    known only after commit)."""
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(
        "INSERT INTO events (type, customer_id, actor, at, data) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        [type, customer_id, actor, at, json.dumps(data)],
    )
    found = cur.fetchone()
    assert found is not None
    return int(found["id"])


def after(
    conn: psycopg.Connection[Any],
    position: int,
    customer_id: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Committed events after `position` (optionally of one customer), in commit order;
    each with its `position` and its data decoded."""
    cur = conn.cursor(row_factory=dict_row)
    if customer_id is None:
        cur.execute(
            "SELECT * FROM events WHERE position > %s ORDER BY position LIMIT %s",
            [position, limit],
        )
    else:
        cur.execute(
            "SELECT * FROM events WHERE position > %s AND customer_id = %s "
            "ORDER BY position LIMIT %s",
            [position, customer_id, limit],
        )
    found = cur.fetchall()
    for event in found:
        event["data"] = json.loads(event["data"])
    return found


def last_position(conn: psycopg.Connection[Any]) -> int:
    """The highest committed position (0 when none): where a new stream starts."""
    cur = conn.cursor(row_factory=dict_row)
    found = cur.execute("SELECT coalesce(max(position), 0) AS p FROM events").fetchone()
    return int(found["p"]) if found else 0


class Listener:
    """A connection of its own (outside any pool: waiting ties it up) that LISTENs on the
    events channel; `wait` returns when a transaction with events committed."""

    def __init__(self, url: str) -> None:
        from .connection import connect

        self.conn = connect(url, autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """Block until a commit's notification or `timeout` seconds; True when woken.
        Several commits meanwhile wake it once or more: the reader catches up anyway."""
        woken: Iterator[Any] = self.conn.notifies(timeout=timeout, stop_after=1)
        return any(True for _ in woken)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
