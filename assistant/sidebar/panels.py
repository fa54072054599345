"""What the sidebar's panels show, read from the domain (one function per panel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .. import services
from ..consent_state import PurposeState, effective
from ..policy import Policy
from ..store.interface import SidebarStore
from ..store.sqlite.sidebar import sidebar_store
from .session import Agent

DEMO_PREFIX = "demo-"
# Writers that are no person with a sidebar session.
AGENT_NAMES = {"demo-agent": "Demo agent", "cli": "Command line"}


@dataclass(frozen=True, slots=True)
class ConsentRow:
    """One purpose's row: its effective state (consent_state) and the script to ask."""

    purpose: str
    state: PurposeState
    lawful_basis: str
    wording: str
    wording_version: str

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def summary(self) -> str:
        return self.state.summary

    @property
    def needs_consent(self) -> bool:
        return self.state.needs_consent

    @property
    def per_channel(self) -> bool:
        return self.state.per_channel

    @property
    def can_withdraw(self) -> bool:
        """A purpose-wide grant (or, needing no consent, no objection yet) to end."""
        if not self.needs_consent:
            return self.status == "not_needed"
        return self.state.purpose_wide.granted

    @property
    def channel_grants(self) -> tuple[str, ...]:
        """Channels granted by a record of their own, each withdrawn on its own."""
        if self.state.purpose_wide.granted:
            return ()
        return tuple(c.channel for c in self.state.channels if c.granted and not c.from_purpose)

    @property
    def ask_channels(self) -> tuple[str, ...]:
        """Per-channel purposes: the channels not granted yet, asked one at a time."""
        return self.state.askable_channels if self.per_channel else ()

    @property
    def can_ask(self) -> bool:
        if not self.needs_consent or not self.wording:
            return False
        if self.per_channel:
            return bool(self.ask_channels) and not self.state.purpose_wide.granted
        return not self.state.purpose_wide.granted

    @property
    def ask_id(self) -> str:
        """The Ask popover's id, new whenever the state changes: a popover kept open
        across a live update (hx-preserve) is one whose question still stands."""
        granted = "-".join(self.state.granted_channels) or "none"
        return f"ask-{self.purpose}-{self.status}-{granted}"


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
        return services.get_customer(db, customer_id)
    except services.NotFound:
        return None


def resolve(db: sqlite_utils.Database, agent: Agent, external_id: str) -> str | None:
    """The customer the host calls `external_id`, in the agent's identity source."""
    found = services.resolve_identity(db, agent.source, external_id)
    return found if found is not None and visible(agent, found) else None


def last_event_id(db: sqlite_utils.Database, customer_id: str) -> int:
    """Where a stream for this customer starts: its latest event.

    Per customer, not global: the events table may reuse the ids of deleted rows (an
    erasure deletes the erased customer's events), but never below a live row's id.
    """
    store: SidebarStore = sidebar_store(db)
    return store.last_event_id(customer_id)


def profile_panel(
    db: sqlite_utils.Database, policy: Policy, agent: Agent, customer_id: str
) -> dict[str, Any]:
    """The profile panel: customer, consent per purpose, proposals, complaints, facts.

    Data-subject requests are shown to supervisors only. `version` is the customer's
    latest event id, read first: the panel shows at least that state, so the page can
    skip a live update that is not newer than what it shows.
    """
    version = last_event_id(db, customer_id)
    view = services.profile(db, policy, customer_id)
    states = effective(services.consent_state(db, customer_id), policy, services.utcnow())
    consents = []
    for name, purpose in policy.purposes.items():
        wording, wording_version = script(policy, name)
        consents.append(
            ConsentRow(name, states[name], purpose.lawful_basis, wording, wording_version)
        )
    _describe_facts(db, [*view["complaints"], *view["preferences"]])
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


def _describe_facts(db: sqlite_utils.Database, facts: list[dict[str, Any]]) -> None:
    """Add what the "Why?" popover and duplicate complaints need to each fact: the
    agent's name (from their sidebar sessions; the id when they never used one) and the
    source of the note it was read from."""
    agents = {str(f["provenance"]["agent"]) for f in facts}
    notes = {int(f["provenance"]["note_id"]) for f in facts if f["provenance"]["note_id"]}
    store: SidebarStore = sidebar_store(db)
    names = store.agent_names(agents)
    sources = store.note_sources(notes)
    for fact in facts:
        agent = str(fact["provenance"]["agent"])
        fact["agent_name"] = names.get(agent) or AGENT_NAMES.get(agent) or agent
        fact["note_source"] = sources.get(int(fact["provenance"]["note_id"] or 0), "")
