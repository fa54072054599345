"""The consent engine as pure decisions: purposes x consent states x fact kinds (issue 3).

No database, no server, no clock: every decision gets its `now` from the test.
"""

from __future__ import annotations

import ast
import copy
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import consent
from assistant.consent import (
    CHANNELS,
    REASONS,
    STATUSES,
    ConsentRecord,
    ConsentState,
    Decision,
    decide,
    may_use_channel,
)
from assistant.policy import DEFAULT_POLICY_PATH, Policy, Purpose, load_policy, parse_policy

DAY = timedelta(days=1)
T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
NOW = T0 + 30 * DAY
POLICY = load_policy()

HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the working tree
    suppress_health_check=[HealthCheck.too_slow],
)


def record(
    purpose: str,
    status: str,
    *,
    id: int = 1,
    channel: str | None = None,
    start: datetime = T0,
    end: datetime | None = None,
    recorded: datetime | None = None,
    customer: str = "cust-1",
) -> ConsentRecord:
    return ConsentRecord(
        id=id,
        customer_id=customer,
        purpose=purpose,
        channel=channel,
        status=status,
        lawful_basis="consent",
        source="agent",
        method="verbal",
        evidence={"agent": "a-7", "note_id": 12, "wording_version": "test-1"},
        effective_from=start,
        effective_to=end,
        recorded_at=recorded if recorded is not None else start,
    )


def state(*records: ConsentRecord) -> ConsentState:
    return ConsentState(records)


def with_art9(*categories: str) -> Policy:
    """The shipped policy with `categories` mapped to its Art. 9(2)(a) purpose."""
    raw = _default_raw()
    for category in categories:
        raw["data_categories"]["sensitive"][category] = "special_category_care"
    return parse_policy(raw)


def _default_raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    return data


# -- facts of the extraction contract -----------------------------------------------------

EVIDENCE = {"start": 0, "end": 4, "text": "note"}
PREFERENCE_VALUES = {
    "contact_channel": "email",
    "contact_time": "evening",
    "language": "fr",
    "interest": "winter jacket",
    "delivery": "locker",
    "payment": "paypal",
    "size": "M",
}
COMPLAINT_CATEGORIES = (
    "billing",
    "delivery",
    "product_quality",
    "service",
    "returns_refunds",
    "website_app",
    "privacy",
    "pricing",
    "other",
)
SPECIAL = (
    "health",
    "religion",
    "ethnicity",
    "political",
    "sexual_orientation",
    "union",
    "biometric",
    "genetic",
)
SECRETS = ("payment_card", "bank_account", "national_id", "credential")


def preference(field: str, polarity: str = "positive") -> dict[str, Any]:
    return {
        "kind": "preference",
        "field": field,
        "value": PREFERENCE_VALUES[field],
        "polarity": polarity,
        "evidence": EVIDENCE,
        "confidence": 0.9,
    }


def complaint(category: str) -> dict[str, Any]:
    return {
        "kind": "complaint",
        "category": category,
        "severity": "medium",
        "repeat": False,
        "status": "open",
        "evidence": EVIDENCE,
        "confidence": 0.9,
    }


def sensitive(category: str) -> dict[str, Any]:
    return {"kind": "sensitive", "category": category, "evidence": EVIDENCE, "confidence": 0.9}


def consent_fact(action: str, purpose: str, channel: str | None = None) -> dict[str, Any]:
    fact = {"kind": "consent", "action": action, "purpose": purpose}
    if channel is not None:
        fact["channel"] = channel
    return {**fact, "evidence": EVIDENCE, "confidence": 0.9}


SERVICE_FACTS = {
    **{f"preference.{f}": preference(f) for f in ("contact_channel", "contact_time", "language")},
    "preference.contact_channel.negative": preference("contact_channel", "negative"),
    **{f"complaint.{c}": complaint(c) for c in COMPLAINT_CATEGORIES},
}
PERSONALIZATION_FACTS = {
    **{f"preference.{f}": preference(f) for f in ("interest", "size", "delivery", "payment")},
    "preference.interest.negative": preference("interest", "negative"),
}
SPECIAL_FACTS = {f"sensitive.{c}": sensitive(c) for c in SPECIAL}
SECRET_FACTS = {f"sensitive.{c}": sensitive(c) for c in SECRETS}
CONSENT_FACTS = {
    "consent.grant.marketing.email": consent_fact("grant", "marketing", "email"),
    "consent.grant.personalization": consent_fact("grant", "personalization"),
    "consent.grant.analytics": consent_fact("grant", "analytics"),
    "consent.grant.data_sharing": consent_fact("grant", "data_sharing"),
    "consent.withdraw.marketing.phone": consent_fact("withdraw", "marketing", "phone"),
    "consent.withdraw.all": consent_fact("withdraw", "all"),
    "consent.erase.all": consent_fact("erase", "all"),
    "consent.access.all": consent_fact("access", "all"),
}


# -- consent states, built for the purpose the fact maps to -------------------------------


def _other(purpose: str) -> str:
    return "analytics" if purpose != "analytics" else "data_sharing"


SCENARIOS: dict[str, Callable[[str], ConsentState]] = {
    "none": lambda p: state(),
    "granted": lambda p: state(record(p, "granted")),
    "withdrawn": lambda p: state(record(p, "withdrawn")),
    "denied": lambda p: state(record(p, "denied")),
    "granted_then_withdrawn": lambda p: state(
        record(p, "granted"), record(p, "withdrawn", id=2, start=T0 + DAY)
    ),
    "withdrawn_then_granted": lambda p: state(
        record(p, "withdrawn"), record(p, "granted", id=2, start=T0 + DAY)
    ),
    "denied_then_granted": lambda p: state(
        record(p, "denied"), record(p, "granted", id=2, start=T0 + DAY)
    ),
    "expired_grant": lambda p: state(record(p, "granted", end=T0 + 10 * DAY)),
    "future_grant": lambda p: state(record(p, "granted", start=NOW + DAY, recorded=T0)),
    # effective_to is exclusive, effective_from inclusive
    "grant_ending_now": lambda p: state(record(p, "granted", end=NOW)),
    "grant_starting_now": lambda p: state(record(p, "granted", start=NOW)),
    "all_withdrawn": lambda p: state(
        record(p, "granted"), record("all", "withdrawn", id=2, start=T0 + DAY)
    ),
    "all_denied": lambda p: state(record("all", "denied")),
    "all_withdrawn_then_granted": lambda p: state(
        record("all", "withdrawn"), record(p, "granted", id=2, start=T0 + DAY)
    ),
    # consent is specific: a blanket grant counts for nothing
    "all_granted": lambda p: state(record("all", "granted")),
    "channel_grant_only": lambda p: state(record(p, "granted", channel="email")),
    "granted_then_channel_withdrawn": lambda p: state(
        record(p, "granted"), record(p, "withdrawn", id=2, channel="email", start=T0 + DAY)
    ),
    "other_purpose_granted": lambda p: state(record(_other(p), "granted")),
    "other_purpose_withdrawn": lambda p: state(record(_other(p), "withdrawn")),
    # a bounded objection ends; the grant recorded before it is in force again
    "withdrawal_expired": lambda p: state(
        record(p, "granted"), record(p, "withdrawn", id=2, start=T0 + DAY, end=T0 + 10 * DAY)
    ),
    "withdrawal_scheduled": lambda p: state(
        record(p, "granted"), record(p, "withdrawn", id=2, start=NOW + DAY, recorded=T0 + DAY)
    ),
    # recorded later, effective earlier: the latest recorded wins
    "backdated_withdrawal": lambda p: state(
        record(p, "granted", start=T0 + 5 * DAY),
        record(p, "withdrawn", id=2, start=T0, recorded=T0 + 6 * DAY),
    ),
    # recorded at the same instant: the refusal wins, whatever the ids
    "same_instant_grant_and_withdrawal": lambda p: state(
        record(p, "withdrawn", id=1), record(p, "granted", id=2)
    ),
}

Expected = tuple[str, str, int | None]  # outcome, reason, consent_record_id

CONSENT_REQUIRED: dict[str, Expected] = {
    "none": ("blocked", "no_consent", None),
    "granted": ("stored", "consent_granted", 1),
    "withdrawn": ("blocked", "consent_withdrawn", 1),
    "denied": ("blocked", "consent_denied", 1),
    "granted_then_withdrawn": ("blocked", "consent_withdrawn", 2),
    "withdrawn_then_granted": ("stored", "consent_granted", 2),
    "denied_then_granted": ("stored", "consent_granted", 2),
    "expired_grant": ("blocked", "no_consent", None),
    "future_grant": ("blocked", "no_consent", None),
    "grant_ending_now": ("blocked", "no_consent", None),
    "grant_starting_now": ("stored", "consent_granted", 1),
    "all_withdrawn": ("blocked", "consent_withdrawn", 2),
    "all_denied": ("blocked", "consent_denied", 1),
    "all_withdrawn_then_granted": ("stored", "consent_granted", 2),
    "all_granted": ("blocked", "no_consent", None),
    "channel_grant_only": ("blocked", "no_consent", None),
    "granted_then_channel_withdrawn": ("stored", "consent_granted", 1),
    "other_purpose_granted": ("blocked", "no_consent", None),
    "other_purpose_withdrawn": ("blocked", "no_consent", None),
    "withdrawal_expired": ("stored", "consent_granted", 1),
    "withdrawal_scheduled": ("stored", "consent_granted", 1),
    "backdated_withdrawal": ("blocked", "consent_withdrawn", 2),
    "same_instant_grant_and_withdrawal": ("blocked", "consent_withdrawn", 1),
}

LI: Expected = ("stored", "legitimate_interest", None)
OBJECTABLE: dict[str, Expected] = {
    "none": LI,
    "granted": LI,
    "withdrawn": ("blocked", "objected", 1),
    "denied": ("blocked", "objected", 1),
    "granted_then_withdrawn": ("blocked", "objected", 2),
    "withdrawn_then_granted": LI,
    "denied_then_granted": LI,
    "expired_grant": LI,
    "future_grant": LI,
    "grant_ending_now": LI,
    "grant_starting_now": LI,
    # withdrawing "all" consents ends consent-based processing; an objection to
    # legitimate-interest processing has to name the purpose
    "all_withdrawn": LI,
    "all_denied": LI,
    "all_withdrawn_then_granted": LI,
    "all_granted": LI,
    "channel_grant_only": LI,
    # an objection to one channel is about contact, not about keeping the facts
    "granted_then_channel_withdrawn": LI,
    "other_purpose_granted": LI,
    "other_purpose_withdrawn": LI,
    "withdrawal_expired": LI,
    "withdrawal_scheduled": LI,
    "backdated_withdrawal": ("blocked", "objected", 2),
    "same_instant_grant_and_withdrawal": ("blocked", "objected", 1),
}


def test_every_scenario_has_an_expectation() -> None:
    assert set(SCENARIOS) == set(CONSENT_REQUIRED) == set(OBJECTABLE)


def check(decision: Decision, expected: Expected) -> None:
    assert (decision.outcome, decision.reason, decision.consent_record_id) == expected
    assert decision.allowed is (expected[0] == "stored")
    assert decision.reason in REASONS


# -- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("fact", SERVICE_FACTS.values(), ids=SERVICE_FACTS)
def test_service_facts_are_stored_unless_the_customer_objects(
    fact: dict[str, Any], scenario: str
) -> None:
    decision = decide(fact, SCENARIOS[scenario]("service"), POLICY, NOW)
    check(decision, OBJECTABLE[scenario])
    assert decision.purpose == "service"
    assert decision.lawful_basis == "legitimate_interest"


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("fact", PERSONALIZATION_FACTS.values(), ids=PERSONALIZATION_FACTS)
def test_personalization_facts_need_a_grant_in_force(fact: dict[str, Any], scenario: str) -> None:
    decision = decide(fact, SCENARIOS[scenario]("personalization"), POLICY, NOW)
    check(decision, CONSENT_REQUIRED[scenario])
    assert decision.purpose == "personalization"
    assert decision.lawful_basis == "consent"


@pytest.mark.parametrize("purpose", ["special_category_care", "personalization", "service"])
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("fact", SPECIAL_FACTS.values(), ids=SPECIAL_FACTS)
def test_special_categories_are_never_stored_by_default(
    fact: dict[str, Any], scenario: str, purpose: str
) -> None:
    decision = decide(fact, SCENARIOS[scenario](purpose), POLICY, NOW)
    check(decision, ("blocked", "special_category", None))
    assert decision.purpose is None


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("fact", SPECIAL_FACTS.values(), ids=SPECIAL_FACTS)
def test_special_categories_mapped_to_art9_need_explicit_consent(
    fact: dict[str, Any], scenario: str
) -> None:
    policy = with_art9(*SPECIAL)
    decision = decide(fact, SCENARIOS[scenario]("special_category_care"), policy, NOW)
    check(decision, CONSENT_REQUIRED[scenario])
    assert decision.purpose == "special_category_care"
    assert decision.lawful_basis == "explicit_consent"


@pytest.mark.parametrize("category", SPECIAL)
def test_enabling_one_special_category_leaves_the_others_blocked(category: str) -> None:
    policy = with_art9(category)
    granted = state(record("special_category_care", "granted"))
    for other in SPECIAL:
        decision = decide(sensitive(other), granted, policy, NOW)
        assert decision.allowed is (other == category), other


@pytest.mark.parametrize("policy", [POLICY, with_art9(*SPECIAL)], ids=["default", "art9"])
@pytest.mark.parametrize("purpose", ["special_category_care", "personalization", "service"])
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("fact", SECRET_FACTS.values(), ids=SECRET_FACTS)
def test_secrets_are_never_stored(
    fact: dict[str, Any], scenario: str, purpose: str, policy: Policy
) -> None:
    decision = decide(fact, SCENARIOS[scenario](purpose), policy, NOW)
    check(decision, ("blocked", "never_store_secret", None))
    assert decision.purpose is None


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("fact", CONSENT_FACTS.values(), ids=CONSENT_FACTS)
def test_consent_statements_go_to_the_ledger_not_the_profile(
    fact: dict[str, Any], scenario: str
) -> None:
    purpose = fact["purpose"] if fact["purpose"] != "all" else "marketing"
    decision = decide(fact, SCENARIOS[scenario](purpose), POLICY, NOW)
    check(decision, ("blocked", "consent_statement", None))


# -- policies other than the default -----------------------------------------------------------


def _purpose(name: str, basis: str, enforcement: str, **kw: Any) -> Purpose:
    return Purpose(
        name=name,
        description=f"{name} for tests",
        lawful_basis=basis,
        enforcement=enforcement,
        retention_days=30,
        wording=f"{name} wording",
        wording_version=f"{name}-1",
        **kw,
    )


CUSTOM = Policy(
    version="test",
    purposes={
        "fulfilment": _purpose("fulfilment", "contract", "objectable"),
        "records": _purpose("records", "legal_obligation", "objectable"),
        "newsletter": _purpose("newsletter", "consent", "consent_required_per_channel"),
        "parked": _purpose("parked", "consent", "never_store"),
    },
    data_categories={
        ("preference", "delivery"): "fulfilment",
        ("preference", "payment"): "records",
        ("preference", "interest"): "newsletter",
        ("preference", "size"): "parked",
        ("preference", "language"): None,
    },
)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("delivery", ("stored", "contract", None)),
        ("payment", ("stored", "legal_obligation", None)),
        ("interest", ("blocked", "no_consent", None)),
        ("size", ("blocked", "never_store", None)),
        ("language", ("blocked", "no_purpose", None)),  # mapped to null
        ("contact_time", ("blocked", "no_purpose", None)),  # not mapped at all: fail closed
    ],
)
def test_a_custom_policy_decides_by_its_own_mapping(field: str, expected: Expected) -> None:
    check(decide(preference(field), state(), CUSTOM, NOW), expected)


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ((), ("blocked", "no_consent", None)),
        ((record("newsletter", "granted", channel="email"),), ("blocked", "no_consent", None)),
        ((record("newsletter", "granted"),), ("stored", "consent_granted", 1)),
        (
            (
                record("newsletter", "granted"),
                record("newsletter", "withdrawn", id=2, channel="sms", start=T0 + DAY),
            ),
            ("stored", "consent_granted", 1),
        ),
    ],
    ids=["none", "one_channel", "purpose_wide", "purpose_wide_minus_sms"],
)
def test_facts_for_a_per_channel_purpose_need_a_purpose_wide_grant(
    records: tuple[ConsentRecord, ...], expected: Expected
) -> None:
    check(decide(preference("interest"), ConsentState(records), CUSTOM, NOW), expected)


@pytest.mark.parametrize("field", ["delivery", "payment"])
def test_objecting_to_a_contract_purpose_blocks_it(field: str) -> None:
    purpose = CUSTOM.purpose_for(preference(field))
    assert purpose is not None
    decision = decide(preference(field), state(record(purpose, "withdrawn")), CUSTOM, NOW)
    check(decision, ("blocked", "objected", 1))


@pytest.mark.parametrize(
    "fact",
    [
        {"kind": "opinion", "value": "likes us"},
        {"kind": None},
        {},
        {"kind": "sensitive"},  # no category: fail closed
        {"kind": "sensitive", "category": "shoe_size"},
        {"kind": "SENSITIVE", "category": "health"},
    ],
    ids=["unknown_kind", "null_kind", "empty", "no_category", "unknown_category", "upper_kind"],
)
def test_facts_outside_the_contract_are_blocked(fact: dict[str, Any]) -> None:
    granted_everything = state(*(record(p, "granted", id=i) for i, p in enumerate(POLICY.purposes)))
    check(
        decide(fact, granted_everything, with_art9(*SPECIAL), NOW),
        ("blocked", "unknown_kind", None),
    )


@pytest.mark.parametrize(
    "fact",
    [
        {"kind": "preference", "field": "shoe_colour", "value": "red", "polarity": "positive"},
        {"kind": "preference", "value": "red", "polarity": "positive"},
    ],
    ids=["unknown_field", "no_field"],
)
def test_a_preference_the_policy_does_not_map_is_blocked(fact: dict[str, Any]) -> None:
    granted_everything = state(*(record(p, "granted", id=i) for i, p in enumerate(POLICY.purposes)))
    check(decide(fact, granted_everything, POLICY, NOW), ("blocked", "no_purpose", None))


# -- channels ---------------------------------------------------------------------------------

ChannelExpected = dict[str, Expected]  # channel -> expected

CHANNEL_SCENARIOS: dict[str, tuple[tuple[ConsentRecord, ...], ChannelExpected]] = {
    "none": (
        (),
        {"email": ("blocked", "no_consent", None), "sms": ("blocked", "no_consent", None)},
    ),
    "purpose_granted": (
        (record("marketing", "granted"),),
        {"email": ("stored", "consent_granted", 1), "sms": ("stored", "consent_granted", 1)},
    ),
    "email_granted": (
        (record("marketing", "granted", channel="email"),),
        {"email": ("stored", "consent_granted", 1), "sms": ("blocked", "no_consent", None)},
    ),
    "email_denied": (
        (record("marketing", "denied", channel="email"),),
        {"email": ("blocked", "consent_denied", 1), "sms": ("blocked", "no_consent", None)},
    ),
    "purpose_granted_then_email_withdrawn": (
        (
            record("marketing", "granted"),
            record("marketing", "withdrawn", id=2, channel="email", start=T0 + DAY),
        ),
        {"email": ("blocked", "consent_withdrawn", 2), "sms": ("stored", "consent_granted", 1)},
    ),
    "email_withdrawn_then_purpose_granted": (
        (
            record("marketing", "withdrawn", channel="email"),
            record("marketing", "granted", id=2, start=T0 + DAY),
        ),
        {"email": ("stored", "consent_granted", 2), "sms": ("stored", "consent_granted", 2)},
    ),
    "email_granted_then_purpose_withdrawn": (
        (
            record("marketing", "granted", channel="email"),
            record("marketing", "withdrawn", id=2, start=T0 + DAY),
        ),
        {
            "email": ("blocked", "consent_withdrawn", 2),
            "sms": ("blocked", "consent_withdrawn", 2),
        },
    ),
    "purpose_withdrawn_then_email_granted": (
        (
            record("marketing", "withdrawn"),
            record("marketing", "granted", id=2, channel="email", start=T0 + DAY),
        ),
        {"email": ("stored", "consent_granted", 2), "sms": ("blocked", "consent_withdrawn", 1)},
    ),
    "email_granted_then_all_withdrawn": (
        (
            record("marketing", "granted", channel="email"),
            record("all", "withdrawn", id=2, start=T0 + DAY),
        ),
        {
            "email": ("blocked", "consent_withdrawn", 2),
            "sms": ("blocked", "consent_withdrawn", 2),
        },
    ),
    "purpose_granted_then_all_withdrawn_by_email": (
        (
            record("marketing", "granted"),
            record("all", "withdrawn", id=2, channel="email", start=T0 + DAY),
        ),
        {"email": ("blocked", "consent_withdrawn", 2), "sms": ("stored", "consent_granted", 1)},
    ),
    "all_granted": (
        (record("all", "granted", channel="email"),),
        {"email": ("blocked", "no_consent", None), "sms": ("blocked", "no_consent", None)},
    ),
    "email_grant_expired": (
        (record("marketing", "granted", channel="email", end=T0 + 10 * DAY),),
        {"email": ("blocked", "no_consent", None), "sms": ("blocked", "no_consent", None)},
    ),
    "email_grant_future": (
        (record("marketing", "granted", channel="email", start=NOW + DAY, recorded=T0),),
        {"email": ("blocked", "no_consent", None), "sms": ("blocked", "no_consent", None)},
    ),
    "other_purpose_granted": (
        (record("personalization", "granted"),),
        {"email": ("blocked", "no_consent", None), "sms": ("blocked", "no_consent", None)},
    ),
    # same instant: the refusal wins over the grant, whichever is more specific or newer by id
    "same_instant_email_grant_and_purpose_withdrawal": (
        (
            record("marketing", "granted", id=2, channel="email"),
            record("marketing", "withdrawn", id=1),
        ),
        {
            "email": ("blocked", "consent_withdrawn", 1),
            "sms": ("blocked", "consent_withdrawn", 1),
        },
    ),
    # same instant, same status: the channel-specific record is the one relied on
    "same_instant_purpose_and_email_grant": (
        (
            record("marketing", "granted", id=2),
            record("marketing", "granted", id=1, channel="email"),
        ),
        {"email": ("stored", "consent_granted", 1), "sms": ("stored", "consent_granted", 2)},
    ),
}


@pytest.mark.parametrize("channel", ["email", "sms"])
@pytest.mark.parametrize("scenario", CHANNEL_SCENARIOS)
def test_marketing_needs_consent_for_each_channel(scenario: str, channel: str) -> None:
    records, expected = CHANNEL_SCENARIOS[scenario]
    decision = may_use_channel("marketing", channel, ConsentState(records), POLICY, NOW)
    check(decision, expected[channel])
    assert (decision.purpose, decision.lawful_basis) == ("marketing", "consent")


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("purpose", "expected_without_records", "expected_with_grant"),
    [
        ("service", LI, LI),
        ("personalization", ("blocked", "no_consent", None), ("stored", "consent_granted", 1)),
        ("marketing", ("blocked", "no_consent", None), ("stored", "consent_granted", 1)),
        ("analytics", ("blocked", "no_consent", None), ("stored", "consent_granted", 1)),
        ("data_sharing", ("blocked", "no_consent", None), ("stored", "consent_granted", 1)),
        (
            "special_category_care",
            ("blocked", "no_consent", None),
            ("stored", "consent_granted", 1),
        ),
    ],
)
def test_every_purpose_on_every_channel(
    purpose: str, channel: str, expected_without_records: Expected, expected_with_grant: Expected
) -> None:
    check(may_use_channel(purpose, channel, state(), POLICY, NOW), expected_without_records)
    granted = state(record(purpose, "granted", channel=channel))
    check(may_use_channel(purpose, channel, granted, POLICY, NOW), expected_with_grant)


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_objection_to_service_calls_covers_only_that_channel(channel: str) -> None:
    objected = state(record("service", "withdrawn", channel="phone"))
    expected = ("blocked", "objected", 1) if channel == "phone" else LI
    check(may_use_channel("service", channel, objected, POLICY, NOW), expected)


@pytest.mark.parametrize("channel", ["fax", "", "EMAIL", "pigeon"])
def test_an_unknown_channel_is_refused(channel: str) -> None:
    granted = state(record("marketing", "granted"))
    check(
        may_use_channel("marketing", channel, granted, POLICY, NOW),
        ("blocked", "unknown_channel", None),
    )


@pytest.mark.parametrize("purpose", ["all", "newsletter", "", "Marketing"])
def test_an_unknown_purpose_is_refused(purpose: str) -> None:
    decision = may_use_channel(purpose, "email", state(record("marketing", "granted")), POLICY, NOW)
    check(decision, ("blocked", "unknown_purpose", None))


def test_a_never_store_purpose_is_never_used() -> None:
    decision = may_use_channel("parked", "email", state(record("parked", "granted")), CUSTOM, NOW)
    check(decision, ("blocked", "never_store", None))


# -- ConsentState.current ------------------------------------------------------------------------


def test_current_is_none_without_records() -> None:
    assert state().current("marketing", "email", NOW) is None


def test_current_for_the_whole_purpose_ignores_channel_records() -> None:
    email = record("marketing", "granted", channel="email")
    assert state(email).current("marketing", None, NOW) is None
    assert state(email).current("marketing", "email", NOW) == email


def test_current_picks_the_latest_recorded_in_force() -> None:
    old = record("marketing", "granted")
    new = record("marketing", "withdrawn", id=2, start=T0 + DAY)
    assert state(new, old).current("marketing", "sms", NOW) == new
    assert state(new, old).current("marketing", "sms", T0 + DAY / 2) == old
    assert state(new, old).current("marketing", "sms", T0 - DAY) is None


def test_current_applies_an_all_withdrawal_to_every_purpose() -> None:
    everything = record("all", "withdrawn")
    for purpose in POLICY.purposes:
        assert state(everything).current(purpose, None, NOW) == everything


def test_order_of_records_does_not_matter() -> None:
    records = [
        record("marketing", "granted"),
        record("marketing", "withdrawn", id=2, channel="email", start=T0 + DAY),
        record("all", "withdrawn", id=3, start=T0 + 2 * DAY, end=T0 + 3 * DAY),
        record("marketing", "granted", id=4, channel="sms", start=T0 + 4 * DAY),
    ]
    rng = random.Random(3)
    expected = {c: may_use_channel("marketing", c, state(*records), POLICY, NOW) for c in CHANNELS}
    for _ in range(20):
        rng.shuffle(records)
        for channel in CHANNELS:
            got = may_use_channel("marketing", channel, state(*records), POLICY, NOW)
            assert got == expected[channel]


# -- time -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        (T0 - timedelta(microseconds=1), False),
        (T0, True),
        (T0 + 10 * DAY - timedelta(microseconds=1), True),
        (T0 + 10 * DAY, False),
    ],
    ids=["before", "from", "last_instant", "to"],
)
def test_a_grant_counts_only_inside_its_period(at: datetime, allowed: bool) -> None:
    granted = state(record("personalization", "granted", end=T0 + 10 * DAY))
    assert decide(preference("interest"), granted, POLICY, at).allowed is allowed


def test_time_zones_are_compared_as_instants() -> None:
    paris = timezone(timedelta(hours=1))
    granted = state(record("personalization", "granted", start=T0))
    just_before = (T0 - timedelta(minutes=1)).astimezone(paris)
    assert decide(preference("interest"), granted, POLICY, just_before).allowed is False
    assert decide(preference("interest"), granted, POLICY, T0.astimezone(paris)).allowed is True


def test_the_decision_follows_now_not_the_clock() -> None:
    # A grant that starts in 2100: if the engine read the real clock it would disagree.
    far = datetime(2100, 1, 1, tzinfo=UTC)
    granted = state(record("personalization", "granted", start=far))
    assert decide(preference("interest"), granted, POLICY, far).allowed is True
    assert decide(preference("interest"), granted, POLICY, far - DAY).allowed is False


def test_naive_times_are_refused() -> None:
    naive = datetime(2025, 2, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(preference("interest"), state(), POLICY, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        may_use_channel("marketing", "email", state(), POLICY, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        record("marketing", "granted", start=naive)


# -- purity ---------------------------------------------------------------------------------------


def test_same_inputs_same_decision_and_inputs_untouched() -> None:
    fact = preference("interest")
    records = state(record("personalization", "granted"), record("all", "withdrawn", id=2))
    before = (copy.deepcopy(fact), records)
    first = decide(fact, records, POLICY, NOW)
    assert all(decide(fact, records, POLICY, NOW) == first for _ in range(5))
    assert (fact, records) == before


def test_the_module_does_no_io_and_reads_no_clock() -> None:
    tree = ast.parse(Path(consent.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    # nlp.facts holds only the contract's constants (no spaCy, no I/O)
    assert imported <= {"__future__", "collections.abc", "dataclasses", "datetime", "typing"} | {
        ".policy",
        "nlp.facts",
    }
    forbidden = {"now", "utcnow", "today", "time", "open", "print", "input", "read_text"}
    called = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    assert not called & forbidden


# -- records, states and decisions refuse what could be misread ---------------------------------


def test_a_record_needs_a_known_status() -> None:
    with pytest.raises(ValueError, match="status"):
        record("marketing", "maybe")
    assert set(STATUSES) == {"granted", "withdrawn", "denied"}


def test_a_record_needs_a_known_lawful_basis() -> None:
    with pytest.raises(ValueError, match="lawful basis"):
        ConsentRecord(
            id=None,
            customer_id="c",
            purpose="marketing",
            channel=None,
            status="granted",
            lawful_basis="because",
            source="web",
            method="checkbox",
            evidence={},
            effective_from=T0,
            effective_to=None,
            recorded_at=T0,
        )


def test_a_record_with_an_empty_period_is_never_in_force() -> None:
    empty = record("marketing", "granted", start=T0, end=T0)
    assert state(empty).current("marketing", None, T0) is None


def test_a_state_holds_one_customer() -> None:
    with pytest.raises(ValueError, match="one customer"):
        state(record("marketing", "granted"), record("marketing", "granted", customer="other"))


def test_a_decision_is_stored_or_blocked() -> None:
    with pytest.raises(ValueError, match="outcome"):
        Decision("maybe", None, None, "no_consent", None)


# -- properties over random ledgers ------------------------------------------------------------

PURPOSES = ("service", "personalization", "marketing", "special_category_care", "all")
TIMES = st.integers(min_value=-5, max_value=40).map(lambda d: T0 + d * DAY)


@st.composite
def ledgers(draw: st.DrawFn) -> list[ConsentRecord]:
    out = []
    for i in range(draw(st.integers(min_value=0, max_value=6))):
        start = draw(TIMES)
        length = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=20)))
        out.append(
            record(
                draw(st.sampled_from(PURPOSES)),
                draw(st.sampled_from(STATUSES)),
                id=i + 1,
                channel=draw(st.sampled_from([None, "email", "sms"])),
                start=start,
                end=None if length is None else start + length * DAY,
                recorded=draw(TIMES),
            )
        )
    return out


ALL_FACTS = [
    *SERVICE_FACTS.values(),
    *PERSONALIZATION_FACTS.values(),
    *SPECIAL_FACTS.values(),
    *SECRET_FACTS.values(),
    *CONSENT_FACTS.values(),
]
ART9 = with_art9(*SPECIAL)


@HYPOTHESIS
@given(ledgers(), st.sampled_from(ALL_FACTS), TIMES, st.randoms(use_true_random=False))
def test_any_ledger_any_order_same_decision(
    records: list[ConsentRecord], fact: dict[str, Any], now: datetime, rng: random.Random
) -> None:
    first = decide(fact, ConsentState(tuple(records)), ART9, now)
    rng.shuffle(records)
    assert decide(fact, ConsentState(tuple(records)), ART9, now) == first
    assert first.reason in REASONS


@HYPOTHESIS
@given(ledgers(), st.sampled_from(ALL_FACTS), TIMES)
def test_any_ledger_fails_closed(
    records: list[ConsentRecord], fact: dict[str, Any], now: datetime
) -> None:
    decision = decide(fact, ConsentState(tuple(records)), ART9, now)
    by_id = {r.id: r for r in records}
    if fact["kind"] == "consent" or fact.get("category") in SECRETS:
        assert not decision.allowed
    purpose = ART9.purposes.get(decision.purpose or "")
    if decision.allowed and purpose is not None and purpose.needs_consent:
        # stored on consent: the record relied on is a grant for that purpose, in force
        relied = by_id[decision.consent_record_id]
        assert relied.status == "granted" and relied.purpose == purpose.name
        assert relied.channel is None and relied.in_force(now)
    if decision.reason in {"objected", "consent_withdrawn", "consent_denied"}:
        relied = by_id[decision.consent_record_id]
        assert relied.status != "granted" and relied.in_force(now)
        assert relied.purpose in {decision.purpose, "all"}


@HYPOTHESIS
@given(ledgers(), st.sampled_from(CHANNELS), TIMES)
def test_any_ledger_marketing_channel_needs_a_grant_covering_it(
    records: list[ConsentRecord], channel: str, now: datetime
) -> None:
    decision = may_use_channel("marketing", channel, ConsentState(tuple(records)), POLICY, now)
    if decision.allowed:
        relied = next(r for r in records if r.id == decision.consent_record_id)
        assert relied.status == "granted" and relied.purpose == "marketing"
        assert relied.channel in {None, channel} and relied.in_force(now)
        later_refusals = [
            r
            for r in records
            if r.status != "granted"
            and r.covers("marketing", channel)
            and r.in_force(now)
            and r.recorded_at >= relied.recorded_at
        ]
        assert later_refusals == []
