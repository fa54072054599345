"""What the customer's page shows, read from the domain: her consents as one state, her
preferences and complaints with where each came from, what it is used for and what she
gets for it, and her requests. No Flask: the view renders what this returns.

Only redacted text ever reaches the page: notes are stored redacted, and a fact's
evidence offsets point into the redacted note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from .. import services
from ..consent import CHANNELS, ConsentState
from ..consent_state import ChannelState, PurposeState, effective
from ..policy import Policy, Purpose
from ..store.interface import CustomerPageStore
from ..store.sqlite.customer_page import customer_page_store
from .i18n import current as current_translations
from .i18n import gettext as _

# Channels a per-channel purpose always lists (the marketing wording names these); others
# appear once the customer has a record for them.
USUAL_CHANNELS = ("email", "sms", "phone", "post")
PAGE_VERSION = "customer-page-1"  # recorded with every choice made on the page
_SENTENCE_END = re.compile(r"[.!?\n]")
MAX_SENTENCE = 400


@dataclass(frozen=True, slots=True)
class PurposeChoice:
    """One purpose as the customer sees it: the domain's effective state (the same the
    sidebar, the API and `trustline profile` show) and what she may do about it."""

    purpose: str
    title: str
    wording: str
    wording_version: str
    benefit: str
    lawful_basis: str
    objectable: bool  # processed unless she objects (no consent asked)
    state: PurposeState
    since: str | None  # when the records that decide the state were made, the latest
    channels: tuple[ChannelState, ...]  # per-channel purposes: the channels listed
    can_grant: bool

    @property
    def status(self) -> str:
        """One of `consent_state.PURPOSE_STATUSES`."""
        return self.state.status

    @property
    def summary(self) -> str:
        """The state in the domain's words ("Granted for e-mail only"), in the page's
        language: the domain's phrases are gettext message ids."""
        return self.state.summary_in(current_translations().gettext)

    @property
    def per_channel(self) -> bool:
        return self.state.per_channel


def consent_choices(state: ConsentState, policy: Policy, now: datetime) -> list[PurposeChoice]:
    """The customer's consents per purpose and channel, read from the domain's one
    consent state (`consent_state.effective`), in the policy's order."""
    out = []
    for name, current in effective(state, policy, now).items():
        purpose = policy.purposes[name]
        if purpose.enforcement == "never_store":
            continue
        named = {c.channel for c in current.channels}
        listed = [c for c in CHANNELS if c in USUAL_CHANNELS or c in named]
        out.append(
            PurposeChoice(
                purpose=name,
                title=purpose.title or name.replace("_", " ").capitalize(),
                wording=purpose.wording,
                wording_version=purpose.wording_version,
                benefit=purpose.benefit,
                lawful_basis=purpose.lawful_basis,
                objectable=not purpose.needs_consent,
                state=current,
                since=_since(state, current),
                channels=tuple(current.channel(c) for c in listed) if current.per_channel else (),
                can_grant=purpose.needs_consent and purpose.self_service_grant,
            )
        )
    return out


def _since(state: ConsentState, current: PurposeState) -> str | None:
    """When the latest of the records in force for the purpose was made."""
    ids = {current.purpose_wide.record_id, *(c.record_id for c in current.channels)} - {None}
    made = [r.recorded_at for r in state.records if r.id in ids]
    return services.iso(max(made)) if made else None


# -- facts -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evidence:
    """The masked sentence a fact was read from, split around the words it rests on."""

    before: str
    marked: str
    after: str


@dataclass(frozen=True, slots=True)
class FactItem:
    id: int
    kind: str  # preference, complaint
    fact: dict[str, Any]  # the contract's keys (field, value, polarity / category...)
    noted_at: str
    source: str  # the note's source: agent, sidebar, api, crm, chatwoot...
    evidence: Evidence
    purpose: str
    purpose_title: str
    lawful_basis: str
    benefit: str
    kept_until: str | None
    correction_asked: bool


def facts(
    db: sqlite_utils.Database, policy: Policy, view: dict[str, Any], customer_id: str
) -> tuple[list[FactItem], list[FactItem]]:
    """(complaints, open first; preferences) of the profile `view`, with provenance."""
    store: CustomerPageStore = customer_page_store(db)
    notes = {n["id"]: n for n in store.note_texts(customer_id)}
    asked = store.facts_under_rectification(customer_id)

    def item(f: dict[str, Any]) -> FactItem:
        prov = f["provenance"]
        note = notes.get(prov["note_id"]) or {}
        ev = prov["evidence"]
        purpose = policy.purposes.get(prov["purpose"])
        kept = None
        if purpose is not None and purpose.retention_days is not None:
            created = services.parse_time(prov["at"])
            assert created is not None
            kept = services.iso(created + timedelta(days=purpose.retention_days))
        return FactItem(
            id=int(f["id"]),
            kind=str(f["kind"]),
            fact=f,
            noted_at=str(prov["at"]),
            source=str(note.get("source") or ""),
            evidence=sentence(note.get("redacted_text") or "", ev["start"], ev["end"], ev["text"]),
            purpose=str(prov["purpose"]),
            purpose_title=(purpose.title if purpose and purpose.title else str(prov["purpose"])),
            lawful_basis=str(prov["lawful_basis"]),
            benefit=purpose.benefit if purpose else "",
            kept_until=kept,
            correction_asked=int(f["id"]) in asked,
        )

    return [item(f) for f in view["complaints"]], [item(f) for f in view["preferences"]]


def sentence(text: str, start: int | None, end: int | None, fallback: str | None) -> Evidence:
    """The sentence of the redacted note `text` around [start, end), the span marked."""
    if start is None or end is None or not (0 <= start <= end <= len(text)):
        return Evidence("", fallback or "", "")
    begin = 0
    for found in _SENTENCE_END.finditer(text, 0, start):
        begin = found.end()
    # From the span's last character: a span ending with its full stop ends the sentence.
    stop = _SENTENCE_END.search(text, end - 1 if end > start else end)
    finish = stop.end() if stop else len(text)
    before, after = text[begin:start].lstrip(), text[end:finish].rstrip()
    if len(before) > MAX_SENTENCE:
        before = "…" + before[-MAX_SENTENCE:]
    if len(after) > MAX_SENTENCE:
        after = after[:MAX_SENTENCE] + "…"
    return Evidence(before, text[start:end], after)


# -- requests ------------------------------------------------------------------------------


def requests(db: sqlite_utils.Database, customer_id: str) -> list[dict[str, Any]]:
    """Her data-subject requests, open ones first, newest first."""
    store: CustomerPageStore = customer_page_store(db)
    found = store.requests(customer_id)[::-1]  # newest first
    return sorted(found, key=lambda r: r["status"] != "open")


@dataclass(frozen=True, slots=True)
class FactGroup:
    """The facts held for one purpose, under what it is for and what she gets."""

    purpose: str
    title: str
    benefit: str
    lawful_basis: str
    complaints: tuple[FactItem, ...]
    preferences: tuple[FactItem, ...]


def by_purpose(
    policy: Policy, complaints: list[FactItem], preferences: list[FactItem]
) -> list[FactGroup]:
    """Facts grouped by the purpose they are held for, in the policy's order."""
    order = {name: n for n, name in enumerate(policy.purposes)}
    names = sorted({f.purpose for f in complaints + preferences}, key=lambda p: order.get(p, 99))
    groups = []
    for name in names:
        mine = [f for f in complaints if f.purpose == name]
        first = (mine or [f for f in preferences if f.purpose == name])[0]
        groups.append(
            FactGroup(
                purpose=name,
                title=first.purpose_title,
                benefit=first.benefit,
                lawful_basis=first.lawful_basis,
                complaints=tuple(mine),
                preferences=tuple(f for f in preferences if f.purpose == name),
            )
        )
    return groups


def page(db: sqlite_utils.Database, policy: Policy, customer_id: str) -> dict[str, Any]:
    """Everything the page shows for `customer_id` (NotFound when erased)."""
    view = services.profile(db, policy, customer_id)
    complaints, preferences = facts(db, policy, view, customer_id)
    return {
        "customer": view["customer"],
        "consents": consent_choices(
            services.consent_state(db, customer_id), policy, services.utcnow()
        ),
        "groups": by_purpose(policy, complaints, preferences),
        "requests": requests(db, customer_id),
        "controller": policy.controller.get("name", ""),
    }


# -- the words on the page ---------------------------------------------------------------


def button_label(objectable: bool, per_channel: bool, status: str, channel: str | None) -> str:
    """The words of a button that changes a consent."""
    if status == "granted":
        if channel:
            return _("Allow by %(channel)s", channel=channel_name(channel))
        return _("Yes, I agree")
    if channel:
        return _("Stop by %(channel)s", channel=channel_name(channel))
    if per_channel:
        return _("Stop on every channel")
    return _("I object: stop this") if objectable else _("No, stop this")


def shown(purpose: Purpose, status: str, channel: str | None) -> str:
    """What the customer read where she pressed the button: recorded as the evidence
    of her choice (with the purpose's wording and its version)."""
    label = button_label(
        not purpose.needs_consent,
        purpose.enforcement == "consent_required_per_channel",
        status,
        channel,
    )
    return f"{purpose.title or purpose.name}: {label}"


def channel_name(channel: str | None) -> str:
    names = {
        "email": _("e-mail"),
        "phone": _("phone"),
        "sms": _("text message"),
        "post": _("post"),
        "chat": _("chat"),
        "whatsapp": _("WhatsApp"),
        "app": _("our app"),
    }
    return names.get(channel or "", channel or "")


def channel_status_text(status: str) -> str:
    """A channel's state (`consent_state.CHANNEL_STATUSES`) in a word or two."""
    return {
        "granted": _("Yes"),
        "withdrawn": _("Stopped"),
        "denied": _("No"),
        "expired": _("Ended"),
        "never_asked": _("Not asked"),
    }.get(status, status)


def basis_text(basis: str) -> str:
    return {
        "consent": _("Because you agreed to it."),
        "explicit_consent": _("Because you explicitly agreed to it."),
        "legitimate_interest": _(
            "Because we need it to serve you well (our legitimate interest). You can object."
        ),
        "contract": _("Because we need it to deliver what you asked us for (contract)."),
        "legal_obligation": _("Because the law requires it."),
    }.get(basis, basis)


def rule_text(basis: str) -> str:
    """When a purpose may be pursued (its lawful basis), said before the customer chose."""
    if basis == "consent":
        return _("Only if you agree.")
    if basis == "explicit_consent":
        return _("Only if you explicitly agree.")
    return basis_text(basis)


def source_text(source: str) -> str:
    if source in ("agent", "sidebar", "cli", "demo"):
        return _("Noted by our team while talking with you")
    if source == "api":
        return _("Recorded in our customer system")
    return _("From a message in our customer system (%(source)s)", source=source)


def fact_text(fact: dict[str, Any]) -> str:
    """A fact in plain words ("You prefer to be contacted by e-mail")."""
    if fact["kind"] == "complaint":
        subject = fact.get("subject")
        category = complaint_category(str(fact.get("category", "")))
        if subject:
            return _(
                "A complaint about %(category)s: %(subject)s", category=category, subject=subject
            )
        return _("A complaint about %(category)s", category=category)
    field, value = str(fact.get("field")), str(fact.get("value"))
    positive = fact.get("polarity") != "negative"
    if field == "contact_channel":
        shown = channel_name(value)
        if positive:
            return _("You prefer to be contacted by %(channel)s", channel=shown)
        return _("You prefer not to be contacted by %(channel)s", channel=shown)
    labels = {
        "contact_time": _("When you like to be contacted"),
        "language": _("Your language"),
        "interest": _("Something you are interested in"),
        "delivery": _("How you like your deliveries"),
        "payment": _("How you like to pay"),
        "size": _("Your size"),
    }
    label = labels.get(field, field.replace("_", " "))
    if positive:
        return _("%(label)s: %(value)s", label=label, value=value.replace("_", " "))
    return _("%(label)s: not %(value)s", label=label, value=value.replace("_", " "))


def complaint_category(category: str) -> str:
    return {
        "billing": _("billing"),
        "delivery": _("a delivery"),
        "product_quality": _("a product's quality"),
        "service": _("our service"),
        "returns_refunds": _("a return or refund"),
        "website_app": _("our website or app"),
        "privacy": _("privacy"),
        "pricing": _("prices"),
        "other": _("something else"),
    }.get(category, category.replace("_", " "))


def request_text(kind: str) -> str:
    return {
        "erase": _("Erase everything you hold about me"),
        "access": _("A copy of everything you hold about me"),
        "rectify": _("Correct something you hold about me"),
    }.get(kind, kind)


def day(value: str | None) -> str:
    """An ISO time as the date it fell on, in words ("15 January 2026")."""
    when = services.parse_time(value) if value else None
    if when is None:
        return ""
    months = (
        _("January"),
        _("February"),
        _("March"),
        _("April"),
        _("May"),
        _("June"),
        _("July"),
        _("August"),
        _("September"),
        _("October"),
        _("November"),
        _("December"),
    )
    return _(
        "%(day)s %(month)s %(year)s", day=when.day, month=months[when.month - 1], year=when.year
    )
