"""The inbound inbox: record a message with its dedup key, then process it once.

`record` stores the message (its strings already redacted by the caller: nothing
unmasked reaches a file) and its (source, webhook-id) key in one transaction before any
work, so the sender can get its 2xx at once. `process` then carries the
message out and marks it processed in a single transaction of its own: a crash between
the two leaves a `received` row that the worker processes later (`drain`), and a
message is never applied twice. The raw body is deleted once processed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from nlp import ExtractionResult, Extractor, TrustlineNLPError

from .. import services
from ..domain.customers import Identity
from ..domain.errors import ProfileError
from ..policy import Policy
from ..redaction import redact, redact_values
from ..store.interface import WebhookStore
from ..store.sqlite.webhooks import webhook_store
from . import chatwoot, messages
from .actions import (
    Action,
    ConsentChange,
    ContactUpdate,
    ConversationStatus,
    CustomerRef,
    Ignore,
    InvalidMessage,
    LinkIdentity,
    Note,
    UnlinkIdentity,
)
from .errors import WebhookError

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # a message failing this often for unexpected reasons is set aside
STATUSES = ("received", "processed", "ignored", "failed")


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def interpret(source: str, payload: Any, *, trust_identifier: bool = False) -> Action:
    """The action a message of `source` asks for (raises InvalidMessage);
    `trust_identifier` as in `chatwoot.interpret`."""
    if source == chatwoot.SOURCE:
        return chatwoot.interpret(payload, trust_identifier=trust_identifier)
    return messages.interpret(payload)


def _type_of(source: str, payload: Any) -> str | None:
    key = "event" if source == chatwoot.SOURCE else "type"
    value = payload.get(key) if isinstance(payload, dict) else None
    return str(value)[:100] if value is not None else None


# -- before recording: what can be refused while the sender still waits ----------------


def precheck(
    db: sqlite_utils.Database, policy: Policy, source: str, action: Action, max_chars: int
) -> None:
    """Refuse what would surely fail later: unknown customers, purposes (422), texts over
    the extractor's limit (422), an identity owned by another customer (409). Chatwoot
    contacts are created on first sight."""
    if isinstance(action, Note) and len(action.text) > max_chars:
        raise WebhookError(422, "text_too_long", f"the text is longer than {max_chars} characters")
    if isinstance(action, ConsentChange):
        known = action.purpose in policy.purposes or (
            action.purpose == "all" and action.status != "granted"
        )
        if not known:
            raise WebhookError(422, "unknown_purpose", f"unknown purpose {action.purpose!r}")
    if isinstance(action, LinkIdentity):
        owner = services.resolve_identity(db, source, action.external_id)
        if owner is not None and owner != action.customer.customer_id:
            raise WebhookError(
                409, "identity_conflict", "that external id belongs to another customer"
            )
    ref: CustomerRef | None = None
    if isinstance(action, Note | ConsentChange | UnlinkIdentity):
        ref = action.customer
    if ref is not None and not ref.create and _find(db, source, ref) is None:
        raise WebhookError(422, "unknown_customer", "no such customer (link the identity first)")


def _find(db: sqlite_utils.Database, source: str, ref: CustomerRef) -> str | None:
    if ref.customer_id is not None:
        found = webhook_store(db).customer(ref.customer_id)
        return str(found["id"]) if found else None
    if ref.external_id is not None:
        return services.resolve_identity(db, source, ref.external_id)
    return None


def seen(db: sqlite_utils.Database, source: str, message_id: str) -> dict[str, Any] | None:
    """The first copy of a message (id, status), also when its customer was erased since
    (her messages keep only a digest of their id)."""
    return webhook_store(db).inbox_seen(
        source, [message_id, services.erased_message_id(source, message_id)]
    )


# -- recording -----------------------------------------------------------------------------


def record(
    db: sqlite_utils.Database,
    source: str,
    message_id: str,
    body: bytes,
    payload: Any,
    *,
    ignored: bool = False,
    now: datetime | None = None,
) -> tuple[int, bool, str]:
    """Store the message under its dedup key; returns (id, new, status).

    A duplicate stores nothing and returns the first copy's id and status. A message
    that will be ignored keeps only its key, never its body.
    """
    at = _iso(now or datetime.now(UTC))
    store: WebhookStore = webhook_store(db)
    with store.transaction():
        found = seen(db, source, message_id)
        if found is not None:
            return int(found["id"]), False, str(found["status"])
        status = "ignored" if ignored else "received"
        inbox_id = store.insert_inbox(
            source=source,
            message_id=message_id,
            type=_type_of(source, payload),
            status=status,
            body=None if ignored else body,
            received_at=at,
            processed_at=at if ignored else None,
        )
    return inbox_id, True, status


# -- processing ----------------------------------------------------------------------------


def _customer(
    db: sqlite_utils.Database, extractor: Extractor, source: str, ref: CustomerRef, actor: str
) -> str:
    """The customer `ref` names; a Chatwoot contact seen first is linked or created."""
    found = _find(db, source, ref)
    if found is not None:
        return found
    if ref.external_id is None or not ref.create:
        raise ProfileError(404, "unknown_customer", "no such customer")
    identity = Identity(source, ref.external_id)
    vouched = _vouched(db, ref)
    customer_id = ref.identifier if vouched and ref.identifier else f"{source}-{ref.external_id}"
    services.upsert_customer(
        db,
        customer_id,
        actor=actor,
        name=None if vouched or ref.name is None else redact(extractor, ref.name),
        email=ref.email,
        phone=ref.phone,
        identities=[identity],
    )
    return customer_id


def _vouched(db: sqlite_utils.Database, ref: CustomerRef) -> bool:
    """Whether the contact's identifier names a customer we know."""
    return bool(ref.identifier and webhook_store(db).customer(ref.identifier))


def _new_customer_id(db: sqlite_utils.Database, source: str, ref: CustomerRef) -> str:
    """The id a contact seen first is created under."""
    if ref.identifier and _vouched(db, ref):
        return ref.identifier
    return f"{source}-{ref.external_id}"


def _customer_id(db: sqlite_utils.Database, source: str, ref: CustomerRef) -> str | None:
    """The customer `_customer` will find or create for `ref` (reading only), or None
    when it would refuse."""
    found = _find(db, source, ref)
    if found is not None:
        return found
    if ref.external_id is None or not ref.create:
        return None
    return _new_customer_id(db, source, ref)


def _resolve_conversation(
    db: sqlite_utils.Database, source: str, action: ConversationStatus, actor: str
) -> dict[str, Any]:
    """A resolved conversation resolves the complaints raised in its messages."""
    if action.status != "resolved":
        return {}
    store: WebhookStore = webhook_store(db)
    notes = store.conversation_notes(source, action.conversation)
    resolved = []
    for fact in store.open_complaints(notes):
        services.set_complaint_status(db, fact["customer_id"], fact["id"], "resolved", actor=actor)
        resolved.append(fact["id"])
    return {"resolved_complaints": resolved}


def apply(
    db: sqlite_utils.Database,
    extractor: Extractor,
    policy: Policy,
    source: str,
    action: Action,
    *,
    message_id: str,
) -> dict[str, Any]:
    """Carry out one action other than a note (inside the caller's transaction);
    returns what to remember about it (its customer). Notes go through `save_note`."""
    actor = source
    if isinstance(action, Ignore | Note):
        return {}
    if isinstance(action, ContactUpdate):
        customer_id = _customer(db, extractor, source, action.customer, actor)
        services.upsert_customer(
            db, customer_id, actor=actor, email=action.customer.email, phone=action.customer.phone
        )
        return {"customer_id": customer_id}
    if isinstance(action, LinkIdentity):
        linked = action.customer.customer_id
        assert linked is not None
        services.upsert_customer(
            db, linked, actor=actor, identities=[Identity(source, action.external_id)]
        )
        return {"customer_id": linked}
    if isinstance(action, UnlinkIdentity):
        customer_id = _customer(db, extractor, source, action.customer, actor)
        store: WebhookStore = webhook_store(db)
        if store.delete_identity(customer_id, source, action.external_id):
            store.audit(
                at=_iso(datetime.now(UTC)),
                actor=actor,
                action="identity.unlinked",
                subject=customer_id,
                details={"source": source},
            )
        return {"customer_id": customer_id}
    if isinstance(action, ConsentChange):
        customer_id = _customer(db, extractor, source, action.customer, actor)
        effective = datetime.fromisoformat(action.effective_from) if action.effective_from else None
        services.record_consent(
            db,
            policy,
            customer_id,
            purpose=action.purpose,
            status=action.status,
            channel=action.channel,
            actor=actor,
            source="crm",
            method="preference_centre",
            evidence={
                "source": source,
                "webhook_id": message_id,
                **redact_values(extractor, action.evidence),
            },
            effective_from=effective,
        )
        return {"customer_id": customer_id}
    return _resolve_conversation(db, source, action, actor)


def save_note(
    db: sqlite_utils.Database,
    store: WebhookStore,
    extractor: Extractor,
    policy: Policy,
    source: str,
    action: Note,
    inbox_id: int,
    result: ExtractionResult,
    at: str,
) -> str:
    """Store the note of message `inbox_id` through `services.save_note` (the path of the
    API and the sidebar), its extraction `result` already made outside the transaction.
    The note, its customer (a Chatwoot contact seen first is created) and the message
    marked processed commit together, so the message is applied once: returns
    "processed", or the message's status when another worker took it first. Raises
    ProfileError for what the message itself gets wrong (nothing is kept then)."""
    customer_id = _customer_id(db, source, action.customer)
    taken: list[str] = []

    def before() -> bool:  # inside the transaction, before the note is stored
        current = store.inbox_status(inbox_id)
        if current != "received":
            taken.append(current or "missing")  # another worker won
            return True
        if _customer(db, extractor, source, action.customer, source) != customer_id:
            # An identity was linked meanwhile: the message stays received, to be tried
            # again (a retry reads the customer afresh).
            raise RuntimeError(f"inbound message {inbox_id}: its customer changed meanwhile")
        return False

    def after(stored: dict[str, Any]) -> None:  # in the same transaction
        store.finish_inbox(
            inbox_id,
            status="processed",
            error=None,
            at=at,
            customer_id=customer_id,
            note_id=stored["note"]["id"],
            conversation=action.conversation,
        )

    saved = services.save_note(
        db,
        extractor,
        policy,
        customer_id or "",  # None: `_customer` refuses in `before`
        action.text,
        agent=redact(extractor, action.author),  # the CRM's free text, audited
        source=source,
        extract=lambda _text: result,
        before=before,
        after=after,
    )
    return "processed" if saved is not None else taken[0]


def process(
    db: sqlite_utils.Database,
    extractor: Extractor,
    policy: Policy,
    inbox_id: int,
    *,
    trust_identifier: bool = False,
    payload: Any = None,
    now: datetime | None = None,
) -> str:
    """Process one recorded message exactly once; returns its status afterwards.

    Errors the message itself causes (an unknown customer, a conflicting identity) mark
    it failed; anything else (a locked database, a crash) leaves it `received` for the
    worker to try again, at most MAX_ATTEMPTS times. `payload` is the message as
    received, when the process that received it still holds it; otherwise the kept
    copy is used, whose strings were redacted before it was written.
    """
    at = _iso(now or datetime.now(UTC))
    store: WebhookStore = webhook_store(db)
    found = store.inbox_message(inbox_id)
    if found is None or found["status"] != "received":
        return str(found["status"]) if found else "missing"
    source = str(found["source"])
    with store.transaction():
        store.count_inbox_attempt(inbox_id)
    error: str | None = None
    action: Action | None = None
    result: ExtractionResult | None = None
    try:
        if payload is None:
            payload = json.loads(bytes(found["body"]).decode("utf-8"))
        action = interpret(source, payload, trust_identifier=trust_identifier)
        if isinstance(action, Note):
            result = extractor.extract(action.text)  # the slow part, outside the transaction
    except (InvalidMessage, ValueError, TrustlineNLPError) as exc:
        error = f"invalid: {exc}"[:500]
    if error is None and isinstance(action, Note) and result is not None:
        try:
            status = save_note(db, store, extractor, policy, source, action, inbox_id, result, at)
        except ProfileError as exc:  # nothing was kept: the failure is recorded below
            error = f"{exc.code}: {exc.message}"[:500]
        else:
            log.info("inbound %s message %s: %s", source, inbox_id, status)
            return status
    with store.transaction():
        current = store.inbox_status(inbox_id)
        if current != "received":
            return current or "missing"  # another worker won
        remembered: dict[str, Any] = {}
        if error is None and action is not None:
            try:
                with store.transaction():  # a savepoint: a refused action leaves nothing
                    remembered = apply(
                        db,
                        extractor,
                        policy,
                        source,
                        action,
                        message_id=str(found["message_id"]),
                    )
            except ProfileError as exc:
                error = f"{exc.code}: {exc.message}"[:500]
        status = "failed" if error else ("ignored" if isinstance(action, Ignore) else "processed")
        store.finish_inbox(
            inbox_id,
            status=status,
            error=error,
            at=at,
            customer_id=remembered.get("customer_id"),
            note_id=remembered.get("note_id"),
            conversation=remembered.get("conversation"),
        )
    log.info("inbound %s message %s: %s", source, inbox_id, status)
    return status


def drain(
    db: sqlite_utils.Database,
    extractor_of: Callable[[], Extractor],
    policy: Policy,
    *,
    older_than: float,
    limit: int = 50,
    trust_identifier: bool = False,
    now: datetime | None = None,
) -> int:
    """Process messages left `received` for more than `older_than` seconds (their request
    died before processing them); returns how many were taken up."""
    when = now or datetime.now(UTC)
    cutoff = _iso(when - timedelta(seconds=older_than))
    store: WebhookStore = webhook_store(db)
    waiting = store.stale_inbox(cutoff, limit)
    for item in waiting:
        if item["attempts"] >= MAX_ATTEMPTS:
            with store.transaction():
                store.give_up_inbox(
                    item["id"], f"gave up after {MAX_ATTEMPTS} attempts", _iso(when)
                )
            continue
        try:
            process(
                db,
                extractor_of(),
                policy,
                item["id"],
                trust_identifier=trust_identifier,
                now=when,
            )
        except Exception:  # one bad message must not stop the worker
            log.exception("inbound message %s could not be processed", item["id"])
    return len(waiting)


def listing(
    db: sqlite_utils.Database, *, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Inbound messages, newest first, without their bodies."""
    if status is not None and status not in STATUSES:
        raise WebhookError(400, "invalid_status", f"status is one of {', '.join(STATUSES)}")
    return webhook_store(db).inbox_listing(status, max(1, min(limit, 1000)))
