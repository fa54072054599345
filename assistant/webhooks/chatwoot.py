"""Chatwoot's webhook payloads to actions. Pure: no database, no network.

Field names follow Chatwoot's documented webhook payloads: `event`, `message_type`
(`incoming`, `outgoing`, `activity`, `template`, or their numbers 0-3), `private`,
`content`, `content_type`, `sender`, `conversation` (`id`, `status`, `meta.sender`,
`contact_inbox.contact_id`, `account_id`), `account` (`id`), and for contacts `id`,
`name`, `email`, `phone_number`, `identifier`. Conversations are keyed on the account
too (their ids are per-account display numbers); contact ids are Chatwoot's own row ids,
unique across the accounts of an installation.
"""

from __future__ import annotations

from typing import Any

from .actions import (
    MAX_ID,
    Action,
    ContactUpdate,
    ConversationStatus,
    CustomerRef,
    Ignore,
    InvalidMessage,
    Note,
    text_field,
)

SOURCE = "chatwoot"
MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}
MAX_CONTENT = 1_000_000


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def contact_ref(contact: dict[str, Any], *, proven: bool, create: bool = True) -> CustomerRef:
    """A Chatwoot contact as a customer reference (created on first sight).

    Its `identifier` names a Trustline customer only when `proven`: anyone can set it on a
    contact (a web-widget visitor through `setUser` without identity validation), and a
    contact linked through it would take over that customer's profile.
    """
    external_id = text_field(contact, "id", required=True, limit=MAX_ID)
    identifier = text_field(contact, "identifier", limit=MAX_ID)
    return CustomerRef(
        external_id=external_id,
        name=text_field(contact, "name", limit=500),
        email=text_field(contact, "email", limit=320),
        phone=text_field(contact, "phone_number", limit=50),
        identifier=identifier if proven else None,
        create=create,
    )


def _verified(conversation: dict[str, Any]) -> bool:
    """Chatwoot's identity validation passed for the conversation's contact: the widget
    sent the identifier with its HMAC (the inbox's secret), and Chatwoot checked it."""
    return _object(conversation.get("contact_inbox")).get("hmac_verified") is True


def _account(*holders: dict[str, Any]) -> str | None:
    """The Chatwoot account a payload belongs to (`account.id`, or `account_id`)."""
    for holder in holders:
        found = _object(holder.get("account")).get("id", holder.get("account_id"))
        if isinstance(found, int | str) and not isinstance(found, bool) and str(found):
            return str(found)[:MAX_ID]
    return None


def conversation_key(conversation_id: str | None, account: str | None) -> str | None:
    """A conversation's key: Chatwoot's conversation ids are display numbers per account
    (every account has a conversation 10), so the key is `{account}:{id}`."""
    if conversation_id is None:
        return None
    return f"{account}:{conversation_id}" if account is not None else conversation_id


def _conversation_contact(conversation: dict[str, Any]) -> dict[str, Any]:
    sender = _object(_object(conversation.get("meta")).get("sender"))
    if sender.get("id") is not None:
        return sender
    contact_id = _object(conversation.get("contact_inbox")).get("contact_id")
    return {"id": contact_id} if contact_id is not None else {}


def _message(payload: dict[str, Any], *, trust_identifier: bool) -> Action:
    kind = payload.get("message_type")
    if isinstance(kind, int) and not isinstance(kind, bool):
        kind = MESSAGE_TYPES.get(kind)
    private = payload.get("private") is True
    content = payload.get("content")
    # An e-mail inbox's messages are `incoming_email`: the customer's words as well.
    if payload.get("content_type") not in (None, "text", "incoming_email"):
        return Ignore(f"content_type {str(payload.get('content_type'))[:40]!r}")
    if not isinstance(content, str) or not content.strip():
        return Ignore("no text content")
    if len(content) > MAX_CONTENT:
        raise InvalidMessage("'content' is too long")
    conversation = _object(payload.get("conversation"))
    conversation_id = conversation_key(
        text_field(conversation, "id", limit=MAX_ID), _account(payload, conversation)
    )
    sender = _object(payload.get("sender"))
    proven = trust_identifier or _verified(conversation)
    if private:
        # A private note: an agent's note about the customer of the conversation.
        contact = _conversation_contact(conversation)
        if not contact:
            raise InvalidMessage("a private note needs conversation.meta.sender")
        agent_id = text_field(sender, "id", limit=MAX_ID)
        return Note(
            contact_ref(contact, proven=proven),
            content,
            author=f"chatwoot-agent-{agent_id}" if agent_id else "chatwoot-agent",
            conversation=conversation_id,
        )
    if kind == "incoming":
        contact = sender if sender.get("type") in (None, "contact") and sender else {}
        meta = _conversation_contact(conversation)
        if contact and meta and str(meta.get("id")) == str(contact.get("id")):
            contact = {**contact, **meta}  # the conversation's copy has the identifier
        contact = contact or meta
        if not contact:
            raise InvalidMessage("an incoming message needs its sender")
        return Note(
            contact_ref(contact, proven=proven),
            content,
            author="customer",
            conversation=conversation_id,
        )
    return Ignore(f"{kind or 'unknown'} message (agent replies are not customer statements)")


def interpret(payload: Any, *, trust_identifier: bool = False) -> Action:
    """The action a Chatwoot webhook asks for; events Trustline does not use are ignored.

    `trust_identifier` (TRUSTLINE_CHATWOOT_TRUSTED_IDENTIFIER): only the business sets
    contacts' identifiers on this host, so they may link contacts without proof.
    """
    if not isinstance(payload, dict):
        raise InvalidMessage("the body must be a JSON object")
    event = payload.get("event")
    if event == "message_created":
        return _message(payload, trust_identifier=trust_identifier)
    if event in ("contact_created", "contact_updated"):
        return ContactUpdate(contact_ref(payload, proven=trust_identifier))
    if event == "conversation_status_changed":
        conversation_id = text_field(payload, "id", required=True, limit=MAX_ID)
        status = text_field(payload, "status", required=True, limit=40)
        key = conversation_key(conversation_id, _account(payload))
        assert key is not None
        return ConversationStatus(key, status)
    return Ignore(f"event {str(event)[:60]!r} is not handled")
