"""Customers: reading, creating and updating them, and their identities."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlite_utils

from ..domain.clock import iso, utcnow
from ..domain.customers import Identity, check_customer_id
from ..domain.errors import NotFound, ProfileError
from ..store.sqlite import audit
from ..store.sqlite.db import row, rows, writing


def get_customer(db: sqlite_utils.Database, customer_id: str) -> dict[str, Any]:
    found = row(db, "SELECT * FROM customers WHERE id = ?", [customer_id])
    if found is None:
        raise NotFound(f"customer {customer_id!r}")
    return found


def resolve_identity(db: sqlite_utils.Database, source: str, external_id: str) -> str | None:
    """The customer known to `source` as `external_id`, if any."""
    found = row(
        db,
        "SELECT customer_id FROM identities WHERE source = ? AND external_id = ?",
        [source, external_id],
    )
    return found["customer_id"] if found else None


def upsert_customer(
    db: sqlite_utils.Database,
    customer_id: str,
    *,
    actor: str,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    identities: Iterable[Identity] = (),
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create or update a customer and add identities; returns (customer, created)."""
    check_customer_id(customer_id)
    at = iso(now or utcnow())
    with writing(db):
        existing = row(db, "SELECT * FROM customers WHERE id = ?", [customer_id])
        if existing is None:
            db.execute(
                "INSERT INTO customers (id, name, email, phone, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [customer_id, name, email, phone, at, at],
            )
        else:
            db.execute(
                "UPDATE customers SET name = coalesce(?, name), email = coalesce(?, email), "
                "phone = coalesce(?, phone), updated_at = ? WHERE id = ?",
                [name, email, phone, at, customer_id],
            )
        for ident in identities:
            owner = resolve_identity(db, ident.source, ident.external_id)
            if owner is not None and owner != customer_id:
                raise ProfileError(
                    409,
                    "identity_conflict",
                    f"identity {ident.source}:{ident.external_id} belongs to another customer",
                )
            if owner is None:
                db.execute(
                    "INSERT INTO identities (customer_id, source, external_id, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    [customer_id, ident.source, ident.external_id, at],
                )
        audit.append(
            db,
            at=at,
            actor=actor,
            action="customer.created" if existing is None else "customer.updated",
            subject=customer_id,
        )
    return get_customer(db, customer_id), existing is None


def identities_of(db: sqlite_utils.Database, customer_id: str) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT source, external_id FROM identities WHERE customer_id = ? ORDER BY id",
        [customer_id],
    )
