"""Plain-language labels for the sidebar's templates (registered as Jinja filters)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from nlp.facts import COMPLAINT_CATEGORIES

from ..consent_state import CHANNEL_NAMES


def _split(words: str) -> list[str]:
    return words.split()


FIELDS = {
    "contact_channel": "Contact",
    "contact_time": "Contact time",
    "language": "Language",
    "interest": "Interest",
    "delivery": "Delivery",
    "payment": "Payment",
    "size": "Size",
}
VALUES = {
    **CHANNEL_NAMES,
    "store_pickup": "store pickup",
    "bank_transfer": "bank transfer",
    "gift_card": "gift card",
    "installments": "instalments",
}
CATEGORIES = {
    "billing": "billing",
    "delivery": "delivery",
    "product_quality": "product quality",
    "service": "service",
    "returns_refunds": "returns and refunds",
    "website_app": "website or app",
    "privacy": "privacy",
    "pricing": "pricing",
    "other": "other",
    "payment_card": "card number",
    "bank_account": "bank account number",
    "national_id": "national id number",
    "credential": "password or secret answer",
    "health": "health",
    "religion": "religion",
    "ethnicity": "ethnic origin",
    "political": "political opinion",
    "sexual_orientation": "sexual orientation",
    "union": "trade union membership",
    "biometric": "biometric data",
    "genetic": "genetic data",
}
BASES = {
    "consent": "consent, Art. 6(1)(a)",
    "explicit_consent": "explicit consent, Art. 9(2)(a)",
    "contract": "contract, Art. 6(1)(b)",
    "legal_obligation": "legal obligation, Art. 6(1)(c)",
    "legitimate_interest": "legitimate interest, Art. 6(1)(f)",
}
CONSENT_STATUS = {
    "granted": "Granted",
    "withdrawn": "Withdrawn",
    "denied": "Refused",
    "never_asked": "Never asked",
}
BLOCKED_REASONS = {
    "special_category": "special category, never stored",
    "objected": "the customer objected",
    "no_purpose": "no purpose in the policy",
    "never_store": "the policy never stores it",
    "unknown_purpose": "unknown purpose",
    "unknown_kind": "not a profile fact",
    "never_store_secret": "never stored",
}
DSR_KINDS = {"erase": "Erasure (Art. 17)", "access": "Access (Art. 15)"}
SOURCES = {
    "sidebar": "sidebar note",
    "agent": "agent note",
    "api": "CRM (API)",
    "chatwoot": "Chatwoot message",
    "demo": "demo note",
    "webhook": "CRM message",
}
# Free-text values the extractor normalises (lowercase, lemmas): shown as written.
AS_WRITTEN_FIELDS = frozenset({"interest", "size", "contact_time"})
_TAG = re.compile(r"</?[A-Za-z][^<>]*>?|[<>]")
_TAG_NAMES = frozenset(_split("a b i u p em br div img span font small strong script style"))
_WORD = re.compile(r"\w+", re.UNICODE)


def words(name: str | None) -> str:
    return (name or "").replace("_", " ")


def purpose_label(name: str | None) -> str:
    return words(name).capitalize() if name else "—"


def value_label(value: Any) -> str:
    return VALUES.get(str(value), words(str(value)))


def no_markup(text: str) -> str:
    """`text` without anything that looks like an HTML tag (shown as text, never run)."""
    return " ".join(_TAG.sub(" ", text).split())


def as_written(value: str, evidence: str) -> str:
    """`value` (normalised by the extractor: "nike running shoe") as the sentence it was
    read from writes it ("Nike running shoes"), without markup: the value's words found
    in the evidence, each allowing an ending (plurals), leaving out what is left of a tag
    ("b" of "<b>"); the value itself, cleaned, when they are not found."""
    tokens = _WORD.findall(no_markup(value))
    text = no_markup(evidence)
    words_only = [t for t in tokens if t.lower() not in _TAG_NAMES]
    for run in (tokens, words_only):
        if not run:
            continue
        pattern = r"\W+".join(re.escape(t) + r"\w*" for t in run)
        found = re.search(rf"(?<!\w){pattern}", text, re.IGNORECASE)
        if found:
            return found.group(0)
    return " ".join(words_only or tokens) or no_markup(value)


def fact_value(fact: Mapping[str, Any], evidence: str | None = None) -> str:
    """A preference's value in words: the customer's own for free text."""
    value = str(fact.get("value") or "")
    provenance = fact.get("provenance")
    if isinstance(provenance, Mapping) and provenance.get("extractor") == "correction":
        return no_markup(value)  # typed by an agent, as the customer said it
    if evidence is None:
        evidence = provenance["evidence"]["text"] if isinstance(provenance, Mapping) else ""
    if fact.get("field") in AS_WRITTEN_FIELDS and evidence:
        return as_written(value, evidence)
    return value_label(value) if value in VALUES else no_markup(words(value))


def fact_label(kind: str, attrs: Mapping[str, Any], evidence: str | None = None) -> str:
    """One short line naming a fact of the extraction contract."""
    if kind == "preference":
        field = FIELDS.get(str(attrs.get("field")), words(attrs.get("field")))
        value = fact_value(attrs, evidence)
        if attrs.get("polarity") == "negative":
            value = f"not {value}"
        detail = f" ({no_markup(str(attrs['detail']))})" if attrs.get("detail") else ""
        return f"{field}: {value}{detail}"
    if kind == "complaint":
        category = CATEGORIES.get(str(attrs.get("category")), words(attrs.get("category")))
        extra = [str(attrs.get("severity") or "")]
        if attrs.get("repeat"):
            extra.append("repeat")
        return f"Complaint: {category} ({', '.join(e for e in extra if e)})"
    if kind == "consent":
        action, purpose = attrs.get("action"), purpose_label(attrs.get("purpose")).lower()
        channel = f" by {value_label(attrs['channel'])}" if attrs.get("channel") else ""
        if action == "grant":
            return f"Agrees to {purpose}{channel}"
        if action == "withdraw":
            scope = "everything" if attrs.get("purpose") == "all" else purpose
            return f"Withdraws {scope}{channel}"
        if action == "erase":
            return "Asks to erase their data"
        return "Asks for a copy of their data"
    category = CATEGORIES.get(str(attrs.get("category")), words(attrs.get("category")))
    return category[:1].upper() + category[1:]


def basis_label(basis: str | None) -> str:
    return BASES.get(basis or "", words(basis) or "—")


def chip_outcome(chip: Any) -> str:
    """What saving will do with a composer chip, in a few words."""
    if chip.outcome == "stored":
        return f"stored · {purpose_label(chip.purpose).lower()}"
    if chip.outcome == "needs_consent":
        return f"needs consent · {purpose_label(chip.purpose).lower()}"
    if chip.outcome == "masked":
        return "masked · never stored"
    if chip.outcome == "consent":
        action = chip.attrs.get("action")
        if action == "grant":
            if chip.reason == "consent_already_granted":
                return "already granted · nothing to confirm"
            return "consent to confirm"
        if action == "withdraw":
            return "withdrawal · applies on save"
        return "request · due in 30 days"
    return "blocked · " + BLOCKED_REASONS.get(chip.reason, words(chip.reason))


def parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def date(value: str | None) -> str:
    parsed = parse(value)
    return parsed.astimezone(UTC).strftime("%-d %b %Y") if parsed else ""


def datetime_label(value: str | None) -> str:
    parsed = parse(value)
    return parsed.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC") if parsed else ""


def _fact(fact: Mapping[str, Any]) -> str:
    return fact_label(str(fact["kind"]), fact)


def _chip(chip: Any) -> str:
    return fact_label(str(chip.kind), chip.attrs, str(chip.evidence))


def capfirst(text: str) -> str:
    """The first letter upper case, the rest as it is ("WhatsApp", not "Whatsapp")."""
    return text[:1].upper() + text[1:]


def _source(source: str) -> str:
    return SOURCES.get(source, words(source))


def _field(field: str) -> str:
    return FIELDS.get(field, words(field).capitalize())


def _category(category: str) -> str:
    label = CATEGORIES.get(category, words(category))
    return label[:1].upper() + label[1:]


def _consent_status(status: str) -> str:
    return CONSENT_STATUS.get(status, words(status))


def _dsr_kind(kind: str) -> str:
    return DSR_KINDS.get(kind, words(kind))


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        fact_label=_fact,
        chip_label=_chip,
        chip_outcome=chip_outcome,
        purpose_label=purpose_label,
        basis_label=basis_label,
        value_label=value_label,
        consent_status=_consent_status,
        dsr_kind=_dsr_kind,
        human_date=date,
        human_datetime=datetime_label,
        fact_value=fact_value,
        capfirst=capfirst,
        source_label=_source,
        field_label=_field,
        category_label=_category,
    )
    # Globals, not a context processor: the event stream renders _fact.html directly.
    app.jinja_env.globals["complaint_categories"] = COMPLAINT_CATEGORIES
