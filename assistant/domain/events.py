"""Domain events: small records with a name, a time and an actor. The store appends
them to the outbox (`events` table) in the same transaction as the change they
describe; consumers (event streams, webhooks) read them after commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVENT_TYPES = (
    "profile.preference.added",
    "profile.preference.removed",
    "profile.complaint.added",
    "profile.complaint.updated",
    "consent.changed",
    "consent.proposed",
    "customer.erased",
    "dsr.created",
)


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    customer_id: str | None
    actor: str
    at: str
    data: dict[str, Any] = field(default_factory=dict)


def fact_event_type(kind: str, change: str) -> str:
    """ "profile.preference.added" and the like."""
    return f"profile.{kind}.{change}"


def removal_event_type(kind: str) -> str:
    """What taking a fact of `kind` out of the profile publishes: a preference is
    removed, a complaint (kept as history) is updated."""
    return "profile.preference.removed" if kind == "preference" else "profile.complaint.updated"
