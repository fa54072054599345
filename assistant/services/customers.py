"""Customers: reading, creating and updating them, and their identities."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..domain.clock import iso, utcnow
from ..domain.customers import Identity, check_customer_id
from ..domain.errors import NotFound, ProfileError
from .records import Handle, store_of


def get_customer(db: Handle, customer_id: str) -> dict[str, Any]:
    found = store_of(db).customer(customer_id)
    if found is None:
        raise NotFound(f"customer {customer_id!r}")
    return found


def resolve_identity(db: Handle, source: str, external_id: str) -> str | None:
    """The customer known to `source` as `external_id`, if any."""
    return store_of(db).identity_owner(source, external_id)


def upsert_customer(
    db: Handle,
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
    store = store_of(db)
    with store.transaction():
        existing = store.customer(customer_id)
        if existing is None:
            store.insert_customer(customer_id, name, email, phone, at)
        else:
            store.update_customer(customer_id, name, email, phone, at)
        for ident in identities:
            owner = resolve_identity(db, ident.source, ident.external_id)
            if owner is not None and owner != customer_id:
                raise ProfileError(
                    409,
                    "identity_conflict",
                    f"identity {ident.source}:{ident.external_id} belongs to another customer",
                )
            if owner is None:
                store.insert_identity(customer_id, ident.source, ident.external_id, at)
        store.audit(
            at=at,
            actor=actor,
            action="customer.created" if existing is None else "customer.updated",
            subject=customer_id,
        )
    return get_customer(db, customer_id), existing is None


def identities_of(db: Handle, customer_id: str) -> list[dict[str, Any]]:
    return store_of(db).identities(customer_id)
