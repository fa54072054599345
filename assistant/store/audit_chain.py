"""The audit log's hash chain, one formula for every engine: each entry's hash covers the
previous entry's hash and the entry's own fields, starting from GENESIS. A copy between
engines (assistant/store/postgres/copy.py) verifies because both chains use this."""

from __future__ import annotations

import hashlib
import json

GENESIS = "0" * 64


def digest(
    prev_hash: str, at: str, actor: str, action: str, subject: str | None, details: str
) -> str:
    """An entry's hash."""
    payload = json.dumps([prev_hash, at, actor, action, subject, details], ensure_ascii=True)
    return hashlib.sha256(payload.encode("ascii")).hexdigest()
