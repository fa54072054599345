"""The services: the domain's rules carried out through the store, one transaction per
change (with its audit entry and events). Web views, the CLI and the webhook workers
call these; they import neither Flask nor click. Each takes a `Handle`: a store
(`assistant.store.interface.Store`, SQLite's or PostgreSQL's) or a sqlite-utils handle,
which it wraps in the SQLite store.

- `customers`: reading, creating and updating customers and identities.
- `consent_ledger`: appending consent records, confirming proposals.
- `notes`: `save_note`, the write path (extraction outside the transaction).
- `facts`: removing and correcting facts, resolving complaints.
- `rights`: data-subject requests, erasure, retention.
- `profiles`: the profile view and the export.
"""

from ..domain.clock import iso, parse_time, utcnow
from ..domain.consent_ledger import already_granted
from ..domain.customers import Identity
from ..domain.errors import NotFound, ProfileError
from ..domain.facts import fact_key, fact_view
from ..domain.rights import erased_message_id
from .consent_ledger import confirm_proposal, record_consent
from .customers import get_customer, identities_of, resolve_identity, upsert_customer
from .facts import correct_fact, remove_fact, set_complaint_status
from .notes import ingest_note, save_note
from .profiles import export, profile
from .records import Handle, consent_ledger, consent_state
from .rights import erase, open_request, purge

__all__ = [
    "Handle",
    "Identity",
    "NotFound",
    "ProfileError",
    "already_granted",
    "confirm_proposal",
    "consent_ledger",
    "consent_state",
    "correct_fact",
    "erase",
    "erased_message_id",
    "export",
    "fact_key",
    "fact_view",
    "get_customer",
    "identities_of",
    "ingest_note",
    "iso",
    "open_request",
    "parse_time",
    "profile",
    "purge",
    "record_consent",
    "remove_fact",
    "resolve_identity",
    "save_note",
    "set_complaint_status",
    "upsert_customer",
    "utcnow",
]
