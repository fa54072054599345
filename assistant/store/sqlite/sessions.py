"""Sidebar sessions, kept server-side: a session is valid while its row is neither ended
nor expired, whatever its signed cookie says (issue 12, item 14)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from .db import row, rows, writing

KEEP_ENDED_DAYS = 7  # ended and expired rows are listed this long, then deleted


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: int
    issuer: str
    agent_id: str
    agent_name: str
    role: str
    created_at: str
    expires_at: str
    ended_at: str | None
    end_reason: str | None

    def state(self, now: datetime | None = None) -> str:
        if self.ended_at is not None:
            return "ended"
        at = (now or datetime.now(UTC)).isoformat()
        return "expired" if self.expires_at <= at else "active"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def start(
    db: sqlite_utils.Database,
    *,
    issuer: str,
    agent_id: str,
    agent_name: str,
    role: str,
    max_age: int,
    end_others: bool,
    now: datetime | None = None,
) -> tuple[str, int]:
    """Record a new session; returns its token (for the cookie only) and its id. With
    `end_others`, the agent's other sessions from the same host end now."""
    at = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    with writing(db):
        if end_others:
            db.execute(
                "UPDATE sidebar_sessions SET ended_at = ?, end_reason = ? "
                "WHERE issuer = ? AND agent_id = ? AND ended_at IS NULL",
                [_iso(at), "a newer launch of the same agent", issuer, agent_id],
            )
        db.execute(  # housekeeping: sessions long over are forgotten
            "DELETE FROM sidebar_sessions WHERE coalesce(ended_at, expires_at) < ?",
            [_iso(at - timedelta(days=KEEP_ENDED_DAYS))],
        )
        cur = db.execute(
            "INSERT INTO sidebar_sessions (token_hash, issuer, agent_id, agent_name, role, "
            "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                _digest(token),
                issuer,
                agent_id,
                agent_name,
                role,
                _iso(at),
                _iso(at + timedelta(seconds=max_age)),
            ],
        )
    return token, int(cur.lastrowid or 0)


def active(
    db: sqlite_utils.Database, token: str, now: datetime | None = None
) -> SessionRecord | None:
    """The session of `token` if it is neither ended nor expired."""
    found = row(db, "SELECT * FROM sidebar_sessions WHERE token_hash = ?", [_digest(token)])
    if found is None:
        return None
    record = _record(found)
    return record if record.state(now) == "active" else None


def listing(
    db: sqlite_utils.Database,
    *,
    agent_id: str | None = None,
    issuer: str | None = None,
    everything: bool = False,
    now: datetime | None = None,
) -> list[SessionRecord]:
    """Sessions, oldest first: the active ones, or with `everything` the ended and
    expired ones still kept too."""
    sql, params = "SELECT * FROM sidebar_sessions WHERE 1 = 1", []
    for clause, value in (("agent_id = ?", agent_id), ("issuer = ?", issuer)):
        if value is not None:
            sql += f" AND {clause}"
            params.append(value)
    found = [_record(r) for r in rows(db, sql + " ORDER BY id", params)]
    return found if everything else [r for r in found if r.state(now) == "active"]


def end(
    db: sqlite_utils.Database,
    *,
    ids: list[int] | None = None,
    agent_id: str | None = None,
    issuer: str | None = None,
    reason: str,
    now: datetime | None = None,
) -> list[int]:
    """End the active sessions chosen by id or by agent (and host); returns their ids."""
    if not ids and agent_id is None:
        raise ValueError("name sessions by id or by agent")
    at = _iso(now or datetime.now(UTC))
    with writing(db):
        chosen = [
            r.id
            for r in listing(db, agent_id=agent_id, issuer=issuer, now=now)
            if not ids or r.id in ids
        ]
        db.conn.executemany(
            "UPDATE sidebar_sessions SET ended_at = ?, end_reason = ? WHERE id = ?",
            [(at, reason, i) for i in chosen],
        )
    return chosen


def _record(found: dict[str, Any]) -> SessionRecord:
    return SessionRecord(**{k: v for k, v in found.items() if k != "token_hash"})
