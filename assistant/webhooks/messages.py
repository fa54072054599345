"""Messages of Standard Webhooks sources (a CRM): `{"type", "timestamp", "data"}` to an
action. Pure: no database, no network. The types are documented in docs/webhooks.md."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .actions import (
    MAX_ID,
    Action,
    ConsentChange,
    CustomerRef,
    Ignore,
    InvalidMessage,
    LinkIdentity,
    Note,
    UnlinkIdentity,
    text_field,
)

TYPES = (
    "note.created",
    "message.received",
    "identity.linked",
    "identity.unlinked",
    "consent.changed",
)
MAX_TEXT = 1_000_000  # the extractor's own limit (TRUSTLINE_MAX_TEXT_CHARS) applies first


def customer_ref(data: dict[str, Any]) -> CustomerRef:
    """`customer_id` (Trustline's) or `external_id` (the source's own id)."""
    ref = CustomerRef(
        customer_id=text_field(data, "customer_id", limit=MAX_ID),
        external_id=text_field(data, "external_id", limit=MAX_ID),
    )
    if ref.customer_id is None and ref.external_id is None:
        raise InvalidMessage("give 'customer_id' or 'external_id'")
    return ref


def interpret(payload: Any) -> Action:
    """The action a source's message asks for; unknown types are ignored (answered 2xx,
    so that a CRM sending every event it has does not retry them)."""
    if not isinstance(payload, dict):
        raise InvalidMessage("the body must be a JSON object")
    kind = payload.get("type")
    data = payload.get("data")
    if not isinstance(kind, str) or not kind:
        raise InvalidMessage("'type' is required")
    if kind not in TYPES:
        return Ignore(f"type {kind[:100]!r} is not handled")
    if not isinstance(data, dict):
        raise InvalidMessage("'data' must be an object")
    if kind in ("note.created", "message.received"):
        text = text_field(data, "text", required=True, limit=MAX_TEXT)
        if kind == "message.received":
            author = "customer"
        else:
            author = text_field(data, "author") or text_field(data, "agent") or "crm"
        return Note(
            customer=customer_ref(data),
            text=text,
            author=author,
            conversation=text_field(data, "conversation_id"),
        )
    if kind in ("identity.linked", "identity.unlinked"):
        customer_id = text_field(data, "customer_id", required=True, limit=MAX_ID)
        external_id = text_field(data, "external_id", required=True, limit=MAX_ID)
        ref = CustomerRef(customer_id=customer_id)
        if kind == "identity.linked":
            return LinkIdentity(ref, external_id)
        return UnlinkIdentity(ref, external_id)
    status = text_field(data, "status", required=True, limit=20)
    if status not in ("granted", "withdrawn", "denied"):
        raise InvalidMessage("'status' is granted, withdrawn or denied")
    effective_from = text_field(data, "effective_from", limit=40)
    if effective_from is not None:
        try:
            aware = datetime.fromisoformat(effective_from).tzinfo is not None
        except ValueError:
            aware = False
        if not aware:
            raise InvalidMessage("'effective_from' is an ISO 8601 time with an offset")
    evidence = {
        k: data[k]
        for k in ("wording", "wording_version", "captured_at", "url")
        if isinstance(data.get(k), str) and len(data[k]) <= 5000
    }
    return ConsentChange(
        customer=customer_ref(data),
        purpose=text_field(data, "purpose", required=True, limit=100),
        status=status,
        channel=text_field(data, "channel", limit=40),
        evidence=evidence,
        effective_from=effective_from,
    )
