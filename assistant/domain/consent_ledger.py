"""The consent ledger's rules: what may be recorded, what a grant found in a note asks
for, and what a confirmation must repeat. The ledger itself is append-only (the store
keeps it); decisions on it are `assistant.consent.decide`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..consent import ConsentRecord, ConsentState
from ..consent_state import purpose_state
from ..policy import Policy
from .clock import parse_time
from .errors import ProfileError

CONSENT_STATUSES = ("granted", "withdrawn", "denied")


def check_consent(policy: Policy, purpose: str, status: str) -> None:
    """ProfileError 400 unless a record of `status` for `purpose` may be appended."""
    if purpose not in policy.purposes and purpose != "all":
        raise ProfileError(
            400,
            "unknown_purpose",
            f"unknown purpose {purpose!r}; the policy declares {', '.join(policy.purposes)}"
            + ("" if status == "granted" else ", or 'all' to withdraw every one"),
        )
    if status not in CONSENT_STATUSES:
        raise ProfileError(400, "invalid_status", "status must be granted, withdrawn or denied")
    if purpose == "all" and status == "granted":
        raise ProfileError(
            400, "unspecific_consent", "consent must name a purpose; 'all' can only be withdrawn"
        )


def lawful_basis(policy: Policy, purpose: str) -> str:
    """The lawful basis a record for `purpose` is kept under ("all": consent)."""
    return policy.purposes[purpose].lawful_basis if purpose in policy.purposes else "consent"


def consent_record(r: Mapping[str, Any]) -> ConsentRecord:
    """A stored ledger row (times as ISO text, evidence as JSON text) as a record."""
    effective_from = parse_time(r["effective_from"])
    recorded_at = parse_time(r["recorded_at"])
    assert effective_from is not None and recorded_at is not None
    return ConsentRecord(
        id=r["id"],
        customer_id=r["customer_id"],
        purpose=r["purpose"],
        channel=r["channel"],
        status=r["status"],
        lawful_basis=r["lawful_basis"],
        source=r["source"],
        method=r["method"],
        evidence=json.loads(r["evidence"]),
        effective_from=effective_from,
        effective_to=parse_time(r["effective_to"]),
        recorded_at=recorded_at,
    )


def withdrawal_from_note(
    policy: Policy,
    customer_id: str,
    purpose: str,
    channel: str | None,
    now: datetime,
    *,
    record_id: int | None,
) -> ConsentRecord:
    """The record a withdrawal found in a note appends at `now` (its evidence aside)."""
    return ConsentRecord(
        id=record_id,
        customer_id=customer_id,
        purpose=purpose,
        channel=channel,
        status="withdrawn",
        lawful_basis=lawful_basis(policy, purpose),
        source="agent",
        method="note",
        evidence={},
        effective_from=now,
        effective_to=None,
        recorded_at=now,
    )


def already_granted(
    state: ConsentState, policy: Policy, statement: Mapping[str, Any], at: datetime
) -> bool:
    """True when a grant found in a note asks for what a record in force already grants
    (the purpose, or its channel): no proposal, nothing to confirm again."""
    purpose = policy.purposes.get(str(statement.get("purpose")))
    if purpose is None:
        return False
    channel = statement.get("channel")
    return purpose_state(state, purpose, at).covers(str(channel) if channel else None)


def check_wording(policy: Policy, purpose: str, wording: str, wording_version: str) -> None:
    """A confirmation records what the customer heard: the policy's own script of that
    version, word for word (ProfileError 400 otherwise)."""
    try:
        script, version = policy.wording(purpose)
    except KeyError as exc:
        raise ProfileError(400, "no_wording", str(exc.args[0])) from exc
    if wording_version != version:
        raise ProfileError(
            400,
            "unknown_wording_version",
            f"the policy has no wording version {wording_version!r} for {purpose!r} "
            f"(the current one is {version!r})",
        )
    if wording.strip() != script:
        raise ProfileError(
            400,
            "wording_mismatch",
            f"'wording' is not the policy's script {version!r} for {purpose!r}: send the "
            "text shown to the customer, word for word",
        )
