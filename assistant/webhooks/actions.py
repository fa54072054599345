"""What an inbound message asks Trustline to do: small records, decided by pure functions
(`messages.interpret` for Standard Webhooks sources, `chatwoot.interpret` for Chatwoot)
and carried out by `inbox.apply`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class InvalidMessage(Exception):
    """A well-formed JSON message that is not a valid message of its type (422)."""


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """Who a message is about: Trustline's customer id, or the source's own id.

    `create` lets an unknown external id become a new customer (Chatwoot contacts);
    `identifier` is a Trustline customer id the source vouches for (Chatwoot's contact
    identifier), linked when the external id is not known yet.
    """

    customer_id: str | None = None
    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    identifier: str | None = None
    create: bool = False


@dataclass(frozen=True, slots=True)
class Note:
    """Text to extract, check and store: an agent's note or the customer's own words."""

    customer: CustomerRef
    text: str
    author: str
    conversation: str | None = None


@dataclass(frozen=True, slots=True)
class LinkIdentity:
    customer: CustomerRef
    external_id: str


@dataclass(frozen=True, slots=True)
class UnlinkIdentity:
    customer: CustomerRef
    external_id: str


@dataclass(frozen=True, slots=True)
class ContactUpdate:
    """The source's contact changed: map it to a customer, take its e-mail and phone."""

    customer: CustomerRef


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """A decision the customer made in the CRM's own preference centre."""

    customer: CustomerRef
    purpose: str
    status: str
    channel: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    effective_from: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationStatus:
    conversation: str
    status: str


@dataclass(frozen=True, slots=True)
class Ignore:
    reason: str


Action = (
    Note
    | LinkIdentity
    | UnlinkIdentity
    | ContactUpdate
    | ConsentChange
    | ConversationStatus
    | Ignore
)

MAX_ID = 200


def text_field(data: dict[str, Any], key: str, *, required: bool = False, limit: int = 200) -> Any:
    """`data[key]` as a string (numbers become strings), or raise InvalidMessage."""
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        if required:
            raise InvalidMessage(f"'{key}' is required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidMessage(f"'{key}' must be a string of at most {limit} characters")
    return value
