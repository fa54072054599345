"""`SidebarStore` on SQLite: what the sidebar's panels and its event hub read besides
`Store` (where a stream starts, who wrote a fact, from which kind of note)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

from .store import SQLiteStore


class SQLiteSidebarStore(SQLiteStore):
    """`assistant.store.interface.SidebarStore` (and `Store`) over one handle."""

    def last_event_id(self, customer_id: str | None = None) -> int:
        """The latest event's id (of one customer), 0 when there is none."""
        if customer_id is None:
            found = self.db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
        else:
            found = self.db.execute(
                "SELECT coalesce(max(id), 0) FROM events WHERE customer_id = ?", [customer_id]
            ).fetchone()
        return int(found[0])

    def agent_names(self, agent_ids: Iterable[str]) -> dict[str, str]:
        """The name each agent gave in their latest sidebar session (agents who never
        opened one are left out)."""
        wanted = sorted(set(agent_ids))
        if not wanted:
            return {}
        marks = ", ".join("?" for _ in wanted)
        names: dict[str, str] = {}
        for found in self.db.execute(
            f"SELECT agent_id, agent_name FROM sidebar_sessions WHERE agent_id IN ({marks}) "
            "ORDER BY created_at",
            wanted,
        ).fetchall():
            names[found[0]] = found[1]
        return names

    def note_sources(self, note_ids: Iterable[int]) -> dict[int, str]:
        """The source (agent, chatwoot, ...) of each of the notes."""
        wanted = sorted(set(note_ids))
        if not wanted:
            return {}
        marks = ", ".join("?" for _ in wanted)
        return {
            int(found[0]): str(found[1])
            for found in self.db.execute(
                f"SELECT id, source FROM notes WHERE id IN ({marks})", wanted
            ).fetchall()
        }


def sidebar_store(db: sqlite_utils.Database) -> SQLiteSidebarStore:
    """The sidebar's repository (and `Store`) over `db`."""
    return SQLiteSidebarStore(db)
