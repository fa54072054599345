"""What the sidebar's panels show, read from the domain (one function per panel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .. import profile as domain
from ..policy import Policy
from .session import Agent

DEMO_PREFIX = "demo-"


@dataclass(frozen=True, slots=True)
class ConsentRow:
    purpose: str
    status: str  # granted, withdrawn, denied, never_asked
    needs_consent: bool  # False: an objectable purpose (legitimate interest, contract)
    lawful_basis: str
    wording: str
    wording_version: str
    channels: dict[str, str]
    per_channel: bool


def script(policy: Policy, purpose: str) -> tuple[str, str]:
    """(wording, version) of a purpose, or ("", "") when the policy has none."""
    try:
        return policy.wording(purpose)
    except KeyError:
        return "", ""


def visible(agent: Agent, customer_id: str) -> bool:
    """Demo sessions see demo customers only (the demo must never expose real data)."""
    return not agent.is_demo or customer_id.startswith(DEMO_PREFIX)


def find_customer(
    db: sqlite_utils.Database, agent: Agent, customer_id: str
) -> dict[str, Any] | None:
    if not visible(agent, customer_id):
        return None
    try:
        return domain.get_customer(db, customer_id)
    except domain.NotFound:
        return None


def resolve(db: sqlite_utils.Database, agent: Agent, external_id: str) -> str | None:
    """The customer the host calls `external_id`, in the agent's identity source."""
    found = domain.resolve_identity(db, agent.source, external_id)
    return found if found is not None and visible(agent, found) else None


def last_event_id(db: sqlite_utils.Database, customer_id: str) -> int:
    """Where a stream for this customer starts: its latest event.

    Per customer, not global: the events table may reuse the ids of deleted rows (an
    erasure deletes the erased customer's events), but never below a live row's id.
    """
    found = db.execute(
        "SELECT coalesce(max(id), 0) FROM events WHERE customer_id = ?", [customer_id]
    ).fetchone()
    return int(found[0])


def profile_panel(
    db: sqlite_utils.Database, policy: Policy, agent: Agent, customer_id: str
) -> dict[str, Any]:
    """The profile panel: customer, consent per purpose, proposals, complaints, facts.

    Data-subject requests are shown to supervisors only. `version` is the customer's
    latest event id, read first: the panel shows at least that state, so the page can
    skip a live update that is not newer than what it shows.
    """
    version = last_event_id(db, customer_id)
    view = domain.profile(db, policy, customer_id)
    consents = []
    for name, purpose in policy.purposes.items():
        current = view["consents"][name]
        wording, wording_version = script(policy, name)
        consents.append(
            ConsentRow(
                purpose=name,
                status=current["status"],
                needs_consent=purpose.needs_consent,
                lawful_basis=purpose.lawful_basis,
                wording=wording,
                wording_version=wording_version,
                channels=dict(current["channels"]),
                per_channel=purpose.enforcement == "consent_required_per_channel",
            )
        )
    proposals = []
    for proposal in view["consent_proposals"]:
        wording, wording_version = script(policy, proposal["purpose"])
        proposals.append({**proposal, "wording": wording, "wording_version": wording_version})
    return {
        "version": version,
        "customer": view["customer"],
        "identities": view["identities"],
        "consents": consents,
        "proposals": proposals,
        "complaints": view["complaints"],
        "open_complaints": sum(1 for c in view["complaints"] if c.get("status") == "open"),
        "preferences": view["preferences"],
        "requests": view["requests"] if agent.is_supervisor else [],
    }
