"""Data-subject rights: requests (erasure, access, correction) due in a month, what an
erasure keeps (a tombstone of digests and the objections), and retention."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from ..consent import ConsentState
from ..policy import Policy
from .errors import ProfileError

DSR_DUE = timedelta(days=30)  # "one month" (GDPR Art. 12(3)); the UI shows the date
DSR_KINDS = ("erase", "access", "rectify")
EXPORT_FORMAT = "trustline-export/1"
# The tables an erasure counts (and deletes, through the customer's cascade).
ERASED_TABLES = ("notes", "facts", "consents", "identities", "decisions", "events")


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def check_request_kind(kind: str) -> None:
    if kind not in DSR_KINDS:
        raise ProfileError(400, "invalid_request_kind", f"kind must be one of {DSR_KINDS}")


def suppressions(state: ConsentState) -> list[str]:
    """The objections an erasure keeps ("purpose:channel"), or a re-imported contact
    would be marketed to."""
    return sorted(
        {
            f"{r.purpose}:{r.channel or '*'}"
            for r in state.records
            if r.status in ("withdrawn", "denied")
        }
    )


def identity_hashes(
    customer: Mapping[str, Any], identities: Iterable[Mapping[str, Any]]
) -> list[str]:
    """The digests a tombstone keeps of a customer's identities, e-mail and phone."""
    hashes = sorted(digest(f"{i['source']}:{i['external_id']}") for i in identities)
    for value in (customer.get("email"), customer.get("phone")):
        if value:
            hashes.append(digest(f"contact:{value.strip().lower()}"))
    return hashes


def erased_message_id(source: str, message_id: str) -> str:
    """What an erased customer's inbound message keeps of its id: a digest, still
    matched against replays (inside the signature's tolerance) but naming nothing."""
    return "erased:" + digest(f"{source}:{message_id}")


def retention_cutoffs(policy: Policy, at: datetime) -> dict[str, datetime]:
    """Per purpose with a time-to-live: facts created before this time are past it."""
    return {
        name: at - timedelta(days=purpose.retention_days)
        for name, purpose in policy.purposes.items()
        if purpose.retention_days is not None
    }


def note_cutoff(policy: Policy, at: datetime) -> datetime | None:
    """Notes no fact refers to are kept as long as the longest retention, then purged."""
    keep = max(
        (p.retention_days for p in policy.purposes.values() if p.retention_days), default=None
    )
    return None if keep is None else at - timedelta(days=keep)
