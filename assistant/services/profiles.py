"""Reading the profile: the view agents see, and the export of everything held
(Art. 15 / 20)."""

from __future__ import annotations

from typing import Any

from ..consent_state import effective
from ..domain.clock import iso, utcnow
from ..domain.facts import fact_view
from ..domain.rights import EXPORT_FORMAT
from ..policy import Policy
from .customers import get_customer, identities_of
from .records import Handle, active_facts, consent_ledger, consent_state, store_of


def profile(db: Handle, policy: Policy, customer_id: str) -> dict[str, Any]:
    """The profile view: identities, consent per purpose, open complaints first, facts."""
    customer = get_customer(db, customer_id)
    consents = {
        name: purpose.to_dict()
        for name, purpose in effective(consent_state(db, customer_id), policy, utcnow()).items()
    }
    facts = [fact_view(f) for f in active_facts(db, customer_id)]
    complaints = [f for f in facts if f["kind"] == "complaint"]
    complaints.sort(key=lambda f: (f.get("status") != "open", -int(f["id"])))
    return {
        "customer": {k: customer[k] for k in ("id", "name", "email", "phone", "created_at")},
        "identities": identities_of(db, customer_id),
        "consents": consents,
        "complaints": complaints,
        "preferences": [f for f in facts if f["kind"] == "preference"],
        "consent_proposals": store_of(db).pending_proposals(customer_id),
        "requests": store_of(db).requests(customer_id, only_open=True),
    }


def export(db: Handle, policy: Policy, customer_id: str) -> dict[str, Any]:
    """Art. 15 / 20: everything held on the customer, machine-readable."""
    view = profile(db, policy, customer_id)
    store = store_of(db)
    all_facts = store.all_facts(customer_id)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": iso(utcnow()),
        "policy_version": policy.version,
        "customer": view["customer"],
        "identities": view["identities"],
        "profile": {"complaints": view["complaints"], "preferences": view["preferences"]},
        "facts": [fact_view(f) for f in all_facts],
        "consents": consent_ledger(db, customer_id),
        "decisions": store.decisions(customer_id),
        "notes": store.notes(customer_id),
        "requests": store.requests(customer_id),
    }
