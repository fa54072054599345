"""The store interface: what the services and workers need of a database, with no
engine in sight. `assistant.store.sqlite` implements it on SQLite through sqlite-utils
(the embedded default); `assistant.store.postgres` on PostgreSQL.

An implementation owns its SQL, its transactions, how it learns that another process
wrote (SQLite's `PRAGMA data_version`, PostgreSQL's LISTEN/NOTIFY) and how it reports
the ids of the rows it inserts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..consent import ConsentState
from ..domain.events import Event
from ..domain.facts import Supersession


class Store(Protocol):
    """One handle on the store, used by one thread at a time."""

    def transaction(self) -> AbstractContextManager[object]:
        """One write transaction: everything in the block commits together or not at
        all (a nested block is a savepoint)."""
        ...

    def change_token(self) -> int:
        """A number that changes whenever another handle commits a write: a worker
        compares it between passes to know whether to look for new work."""
        ...

    def publish(self, event: Event) -> int:
        """Append `event` to the outbox in the current transaction; returns its id."""
        ...

    def events_after(
        self, after_id: int, customer_id: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Events with id > after_id (optionally of one customer), oldest first."""
        ...

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's row, or None."""
        ...

    def consent_state(self, customer_id: str) -> ConsentState:
        """The customer's consent ledger, oldest record first."""
        ...

    # -- customers and identities

    def insert_customer(
        self, customer_id: str, name: str | None, email: str | None, phone: str | None, at: str
    ) -> None: ...

    def update_customer(
        self, customer_id: str, name: str | None, email: str | None, phone: str | None, at: str
    ) -> None:
        """Sets the values given (None keeps the stored one)."""
        ...

    def identity_owner(self, source: str, external_id: str) -> str | None: ...

    def insert_identity(self, customer_id: str, source: str, external_id: str, at: str) -> None: ...

    def identities(self, customer_id: str) -> list[dict[str, Any]]: ...

    # -- the consent ledger (append-only) and the proposals found in notes

    def consent_ledger(self, customer_id: str) -> list[dict[str, Any]]: ...

    def insert_consent(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append a ledger record (evidence a mapping, times ISO text); returns its row."""
        ...

    def pending_proposals(self, customer_id: str) -> list[dict[str, Any]]: ...

    def proposal(self, customer_id: str, proposal_id: int) -> dict[str, Any] | None: ...

    def close_proposal(self, proposal_id: int, status: str, consent_id: int) -> None: ...

    def insert_proposal(
        self,
        customer_id: str,
        note_id: int,
        purpose: Any,
        channel: Any,
        evidence_text: str,
        at: str,
    ) -> dict[str, Any]: ...

    # -- notes, decisions and facts

    def insert_note(
        self, customer_id: str, agent: str, source: str, redacted_text: str, at: str
    ) -> int:
        """Store a note's redacted text; returns its id."""
        ...

    def insert_decision(self, decision: Mapping[str, Any]) -> dict[str, Any]: ...

    def insert_fact(self, fact: Mapping[str, Any]) -> int:
        """Store a fact (`attrs` a mapping); returns its id."""
        ...

    def fact(self, fact_id: int) -> dict[str, Any] | None: ...

    def customer_fact(
        self, customer_id: str, fact_id: int, *, kind: str | None = None
    ) -> dict[str, Any] | None:
        """Fact `fact_id` if it is the customer's (and of `kind`, when given)."""
        ...

    def update_status(self, fact_id: int, status: str, attrs: Mapping[str, Any], at: str) -> None:
        """A complaint's status (kept in its attrs too)."""
        ...

    def active_facts(self, customer_id: str) -> list[dict[str, Any]]: ...

    def mark_removed(self, fact_id: int, at: str, actor: str, reason: str) -> None: ...

    def mark_superseded(self, fact_id: int, by: int, at: str) -> None: ...

    def superseded_by(
        self, customer_id: str, rule: Supersession, fact_id: int, note_id: int
    ) -> list[dict[str, Any]]:
        """The active preferences new fact `fact_id` of note `note_id` replaces."""
        ...

    # -- data-subject rights and retention

    def insert_request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Open a data-subject request; returns its row."""
        ...

    def requests(self, customer_id: str, *, only_open: bool = False) -> list[dict[str, Any]]: ...

    def complete_requests(self, customer_id: str, kind: str, at: str) -> None: ...

    def all_facts(self, customer_id: str) -> list[dict[str, Any]]:
        """Every fact of the customer, removed and superseded ones too."""
        ...

    def decisions(self, customer_id: str) -> list[dict[str, Any]]: ...

    def notes(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's notes as exported (their redacted text)."""
        ...

    def insert_tombstone(
        self, customer_hash: str, identity_hashes: list[str], suppressions: list[str], at: str
    ) -> None: ...

    def count_rows(self, customer_id: str, tables: Iterable[str]) -> dict[str, int]:
        """How many rows of the customer each of `tables` holds."""
        ...

    def forget_inbound(self, customer_id: str, rename: Callable[[str, str], str]) -> None:
        """Inbound messages about the customer keep neither their conversation nor their
        body, and their delivery id becomes `rename(source, message_id)`."""
        ...

    def delete_customer(self, customer_id: str) -> None:
        """The customer and everything of hers (the audit log keeps her pseudonym)."""
        ...

    def purge_facts(self, purpose: str, before: str) -> int: ...

    def purge_notes(self, before: str) -> int:
        """Notes older than `before` that no fact refers to."""
        ...

    def scrub(self) -> bool:
        """After an erasure committed: leave no earlier copy of erased data in the
        engine's files. False when that could not be done now (logged, not raised)."""
        ...

    # -- the audit log (hash-chained; subjects pseudonymised)

    def audit(
        self,
        *,
        at: str,
        actor: str,
        action: str,
        subject: str | None,
        details: dict[str, Any] | None = None,
    ) -> None: ...

    def keyed_digest(self, customer_id: str, value: str) -> str: ...


# =====================================================================================
# Repositories beside `Store` (issue 14): what the web, webhook and CLI layers need of the
# database, so that none of them writes SQL. Each is implemented on SQLite in
# `assistant.store.sqlite` (`webhooks.py`, ...). Times are ISO text unless a parameter
# says seconds (float, the epoch); rows are dicts of column values.
# =====================================================================================


class WebhookStore(Protocol):
    """Webhook subscriptions and their secrets, the outbox (events to messages and
    deliveries), claims under a lease and their outcomes, and the inbound inbox."""

    def transaction(self) -> AbstractContextManager[object]:
        """As `Store.transaction`."""
        ...

    def audit(
        self,
        *,
        at: str,
        actor: str,
        action: str,
        subject: str | None,
        details: dict[str, Any] | None = None,
    ) -> None: ...

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """As `Store.customer`."""
        ...

    def outbox_waiting(self) -> bool:
        """Whether any event waits in the webhook outbox (read without the write lock)."""
        ...

    def outbox_cursor(self) -> int:
        """The outbox position fanned out so far."""
        ...

    def outbox_batch(self, after: int, limit: int) -> list[dict[str, Any]]:
        """Outbox entries after `after`, oldest first: seq, and the event's id, type and
        customer_id (None when the event was deleted since)."""
        ...

    def advance_outbox(self, seq: int) -> None:
        """The cursor moves to `seq`; the entries up to it leave the outbox."""
        ...

    def subscription_filters(self) -> list[dict[str, Any]]:
        """Every subscription's id, event_types (a list), active (bool) and start_seq."""
        ...

    def insert_message(
        self, msg_id: str, seq: int, event_id: int, type: str, customer_id: str | None, at: str
    ) -> int:
        """A webhook message (its webhook-id `msg_id`) for the event; returns its id."""
        ...

    def insert_deliveries(
        self,
        message_id: int,
        subscription_ids: Iterable[int],
        customer_id: str | None,
        next_attempt_at: float,
        at: str,
    ) -> None:
        """One pending delivery of the message per subscription."""
        ...

    def due_deliveries(self, now: float, limit: int) -> list[dict[str, Any]]:
        """The head (oldest open delivery) of each (subscription, customer) chain of an
        active subscription, when due at `now` (pending and due, or its lease run out):
        id, attempts, subscription_id, url, msg_id, event_id. Inside a transaction the
        rows returned are this handle's to lease: an engine whose writers run side by
        side locks them (PostgreSQL: FOR UPDATE SKIP LOCKED); SQLite has one writer."""
        ...

    def event(self, event_id: int) -> dict[str, Any] | None:
        """The event row (its data as JSON text), or None once deleted (an erasure)."""
        ...

    def cancel_delivery(self, delivery_id: int, reason: str, at: str) -> None:
        """The delivery is cancelled (its event is gone) and forgets its customer."""
        ...

    def lease_delivery(self, delivery_id: int, until: float, token: str, at: str) -> None:
        """The delivery is `sending` under claim `token` until `until` (seconds)."""
        ...

    def insert_attempt(
        self,
        delivery_id: int,
        attempt: int,
        at: str,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
    ) -> None: ...

    def finish_attempt(
        self,
        delivery_id: int,
        token: str,
        *,
        status: str,
        attempts: int,
        next_attempt_at: float | None,
        last_status: int | None,
        last_error: str | None,
        at: str,
        delivered_at: str | None,
    ) -> bool:
        """Record an attempt's outcome, only while `token` still holds the delivery's
        claim (a worker whose lease was taken records nothing); True when it did."""
        ...

    def disable_subscription(self, subscription_id: int, reason: str, at: str) -> None:
        """The subscription stops (if still active), saying why."""
        ...

    def release_deliveries(self, claims: Sequence[tuple[int, str]]) -> None:
        """(delivery id, claim token) pairs go back to pending, if still so claimed."""
        ...

    def next_due(self) -> float | None:
        """When the earliest chain head (of an active subscription) falls due, in
        seconds: its retry time, or the end of its lease; None when nothing waits."""
        ...

    def webhook_work_waiting(self) -> int:
        """Outbox entries, open deliveries of active subscriptions and inbound messages
        not yet processed, together."""
        ...

    def deliveries(
        self,
        *,
        status: str | None,
        subscription_id: int | None,
        customer_id: str | None,
        limit: int,
    ) -> list[dict[str, Any]]: ...

    def delivery(self, delivery_id: int) -> dict[str, Any] | None:
        """One delivery as `deliveries` lists it."""
        ...

    def attempt_log(self, delivery_id: int) -> list[dict[str, Any]]:
        """The delivery's attempts, oldest first: attempt, at, status_code, error,
        duration_ms."""
        ...

    def dead_deliveries(self, subscription_id: int | None = None) -> list[int]:
        """The ids of the dead letters (of one subscription), oldest first."""
        ...

    def delivery_status(self, delivery_id: int) -> str | None: ...

    def requeue_delivery(
        self, delivery_id: int, next_attempt_at: float, note: str, at: str
    ) -> None:
        """A fresh set of attempts from `next_attempt_at` (a replay)."""
        ...

    def erasure_messages(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        """The customer.erased messages (id, msg_id, customer_id, created_at)."""
        ...

    def message_deliveries(self, message_id: int) -> list[dict[str, Any]]:
        """The deliveries of one message (with their subscription's url), oldest first."""
        ...

    def prune_webhooks(self, before: str) -> int:
        """Delivered and cancelled deliveries updated before `before` (not erasures),
        messages left without deliveries, and processed inbound messages; returns how
        many deliveries went."""
        ...

    def delivery_counts(self) -> list[dict[str, Any]]:
        """How many deliveries each subscription has per status: subscription_id,
        status, n."""
        ...

    def subscription(self, subscription_id: int) -> dict[str, Any] | None:
        """The subscription's row (event_types as JSON text), or None."""
        ...

    def subscriptions(self) -> list[dict[str, Any]]:
        """Every subscription's row, oldest first."""
        ...

    def insert_subscription(
        self, url: str, event_types: list[str], description: str | None, at: str
    ) -> int:
        """A new active subscription, which gets the events published from now on (its
        start_seq is the outbox's last position); returns its id."""
        ...

    def update_subscription(
        self,
        subscription_id: int,
        *,
        at: str,
        url: str | None = None,
        event_types: list[str] | None = None,
        active: bool | None = None,
        disabled_reason: str | None = None,
    ) -> None:
        """Sets what is given (with `active`, its `disabled_reason` too) and updated_at."""
        ...

    def insert_secret(self, subscription_id: int, secret: str, at: str) -> None:
        """A new signing secret of the subscription (no expiry)."""
        ...

    def keep_only_secret(self, subscription_id: int, at: str, until: str) -> None:
        """The newest secret still valid at `at` now expires at `until`; older ones go."""
        ...

    def signing_secrets(self, subscription_id: int, at: str) -> list[str]:
        """The secrets that sign at `at`, newest first."""
        ...

    def inbox_seen(self, source: str, message_ids: Sequence[str]) -> dict[str, Any] | None:
        """The inbound message (id, status) of `source` under any of `message_ids`."""
        ...

    def insert_inbox(
        self,
        *,
        source: str,
        message_id: str,
        type: str | None,
        status: str,
        body: bytes | None,
        received_at: str,
        processed_at: str | None,
    ) -> int: ...

    def inbox_message(self, inbox_id: int) -> dict[str, Any] | None:
        """The inbound message's row (body as bytes, None once processed), or None."""
        ...

    def inbox_status(self, inbox_id: int) -> str | None: ...

    def count_inbox_attempt(self, inbox_id: int) -> None:
        """One more attempt at processing the message."""
        ...

    def finish_inbox(
        self,
        inbox_id: int,
        *,
        status: str,
        error: str | None,
        at: str,
        customer_id: str | None,
        note_id: int | None,
        conversation: str | None,
    ) -> None:
        """The message's outcome; its body is dropped."""
        ...

    def stale_inbox(self, before: str, limit: int) -> list[dict[str, Any]]:
        """Messages still `received` that arrived before `before`, oldest first: id,
        attempts."""
        ...

    def give_up_inbox(self, inbox_id: int, error: str, at: str) -> None:
        """A message still `received` fails with `error`; its body is dropped."""
        ...

    def inbox_listing(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Inbound messages (of one status), newest first, without their bodies."""
        ...

    def conversation_notes(self, source: str, conversation: str) -> list[int]:
        """The notes the inbox stored from one conversation's messages."""
        ...

    def open_complaints(self, note_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The open complaints (id, customer_id) raised in the notes `note_ids`."""
        ...

    def delete_identity(self, customer_id: str, source: str, external_id: str) -> bool:
        """Unlink the identity; True when the customer had it."""
        ...


class KeyStore(Protocol):
    """API keys, kept as digests only."""

    def insert_api_key(self, name: str, key_hash: str, scopes: list[str], at: str) -> None:
        """Store a new key's digest with its scopes (in its own transaction, or the
        caller's)."""
        ...

    def active_api_key(self, key_hash: str) -> dict[str, Any] | None:
        """The key of digest `key_hash` unless revoked: id, name, scopes (a list)."""
        ...


class SidebarStore(Protocol):
    """What the sidebar's panels and its event hub read besides `Store`."""

    def proposal(self, customer_id: str, proposal_id: int) -> dict[str, Any] | None:
        """As `Store.proposal`."""
        ...

    def last_event_id(self, customer_id: str | None = None) -> int:
        """The latest event's id (of one customer), 0 when there is none."""
        ...

    def agent_names(self, agent_ids: Iterable[str]) -> dict[str, str]:
        """The name each agent gave in their latest sidebar session (agents who never
        opened one are left out)."""
        ...

    def note_sources(self, note_ids: Iterable[int]) -> dict[int, str]:
        """The source (agent, chatwoot, ...) of each of the notes."""
        ...


class CustomerPageStore(Protocol):
    """The customer's own page and its links (only a digest of each token is kept)."""

    def transaction(self) -> AbstractContextManager[object]:
        """As `Store.transaction`."""
        ...

    def audit(
        self,
        *,
        at: str,
        actor: str,
        action: str,
        subject: str | None,
        details: dict[str, Any] | None = None,
    ) -> None: ...

    def requests(self, customer_id: str, *, only_open: bool = False) -> list[dict[str, Any]]:
        """As `Store.requests` (oldest first)."""
        ...

    def insert_link(
        self, customer_id: str, token_hash: str, created_by: str, created_at: str, expires_at: str
    ) -> int:
        """Store a new link's digest; returns the link's id."""
        ...

    def link(self, token_hash: str) -> dict[str, Any] | None:
        """The link of digest `token_hash` (id, customer_id, expires_at, revoked_at), if
        its customer still exists."""
        ...

    def revoke_links(self, customer_id: str, at: str, link_id: int | None = None) -> int:
        """Revoke the customer's live links (or just `link_id`); returns how many."""
        ...

    def note_texts(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's notes: id, source, redacted_text."""
        ...

    def facts_under_rectification(self, customer_id: str) -> set[int]:
        """The facts an open rectification request of the customer names."""
        ...

    def open_request_id(
        self, customer_id: str, kind: str, fact_id: int | None, channel: str
    ) -> int | None:
        """An open request of `kind` about `fact_id` (None: about no fact) made through
        `channel`, if there is one."""
        ...


class IdempotencyStore(Protocol):
    """The answers kept for the API's Idempotency-Key, per customer and key."""

    def kept_response(self, customer_id: str, key: str) -> dict[str, Any] | None:
        """The answer kept under `key`: request_hash, status, response (decoded)."""
        ...

    def keep_response(
        self,
        customer_id: str,
        key: str,
        request_hash: str,
        status: int,
        response: Mapping[str, Any],
        at: str,
    ) -> None:
        """Keep the answer (in the caller's transaction)."""
        ...
