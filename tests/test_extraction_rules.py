"""Behaviour of the rule components on hand-written notes (not from the dev set)."""

from __future__ import annotations

from typing import Any

import pytest

from nlp import Extractor


def prefs(extractor: Extractor, text: str) -> set[tuple[str, str, str]]:
    result = extractor.extract(text)
    return {
        (f.attrs["field"], str(f.attrs["value"]), f.attrs["polarity"])
        for f in result.facts
        if f.kind == "preference"
    }


def facts_of(extractor: Extractor, text: str, kind: str) -> list[dict[str, Any]]:
    return [f.to_dict() for f in extractor.extract(text).facts if f.kind == kind]


# -- negation and contrast --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Caller says sms yes, phone no.",
            {("contact_channel", "sms", "positive"), ("contact_channel", "phone", "negative")},
        ),
        (
            "She prefers letters rather than email.",
            {("contact_channel", "post", "positive"), ("contact_channel", "email", "negative")},
        ),
        ("Member no longer wants texts from us.", {("contact_channel", "sms", "negative")}),
        ("Customer doesn't mind calls at all.", {("contact_channel", "phone", "positive")}),
        (
            "Wants updates by WhatsApp, not email.",
            {
                ("contact_channel", "whatsapp", "positive"),
                ("contact_channel", "email", "negative"),
            },
        ),
        ("please don't ring him, he is on nights", {("contact_channel", "phone", "negative")}),
        ("no emails pls", {("contact_channel", "email", "negative")}),
        ("No calls pls.", {("contact_channel", "phone", "negative")}),
        (
            "Prefers email, no calls.",
            {("contact_channel", "email", "positive"), ("contact_channel", "phone", "negative")},
        ),
    ],
)
def test_channel_polarity_survives_contrast_and_negation(
    extractor: Extractor, text: str, expected: set[tuple[str, str, str]]
) -> None:
    assert expected <= prefs(extractor, text)


@pytest.mark.parametrize(
    "text",
    [
        "Sent the payment link by SMS.",
        "Emailed the invoice to her this morning.",
        "Confirmation sent by email.",
        "Agent called the courier about the parcel.",
    ],
)
def test_what_the_agent_did_is_not_a_preference(extractor: Extractor, text: str) -> None:
    assert not {p for p in prefs(extractor, text) if p[0] == "contact_channel"}


# -- clock times ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "polarity"),
    [
        ("Best to ring him after 6pm.", "evening", "positive"),
        ("Please call before 11am.", "morning", "positive"),
        ("Call her afternoons only.", "afternoon", "positive"),
        ("Never call before 9am please.", "morning", "negative"),
        ("Happy to be contacted at weekends.", "weekend", "positive"),
    ],
)
def test_clock_times_map_to_parts_of_day(
    extractor: Extractor, text: str, value: str, polarity: str
) -> None:
    assert ("contact_time", value, polarity) in prefs(extractor, text)


def test_a_time_span_in_weeks_is_not_a_contact_time(extractor: Extractor) -> None:
    assert not any(p[0] == "contact_time" for p in prefs(extractor, "Strap broke after 2 wks."))


def test_delivery_slots_are_not_contact_times(extractor: Extractor) -> None:
    text = "Engineer booked for Tuesday morning, delivery after 2pm."
    assert not any(p[0] == "contact_time" for p in prefs(extractor, text))


# -- languages, payment, delivery, size, interests ---------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Cust speaks Turkish, would like calls in Turkish.", "tr"),
        ("Wants all letters in Welsh please.", "cy"),
        ("Prefers to deal with us in Dutch.", "nl"),
    ],
)
def test_languages_become_iso_codes(extractor: Extractor, text: str, code: str) -> None:
    assert ("language", code, "positive") in prefs(extractor, text)


def test_content_in_a_language_is_an_interest_not_a_language(extractor: Extractor) -> None:
    found = prefs(extractor, "Loves Japanese films and anime.")
    assert not any(p[0] == "language" for p in found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Would like to pay by bank transfer.", ("payment", "bank_transfer", "positive")),
        ("Switching from card to PayPal.", ("payment", "paypal", "positive")),
        ("Switching from card to PayPal.", ("payment", "card", "negative")),
        ("Wants to spread it over monthly instalments.", ("payment", "installments", "positive")),
        ("Prefers parcel locker delivery.", ("delivery", "locker", "positive")),
        ("Will collect in store.", ("delivery", "store_pickup", "positive")),
        ("Size M in the fleece please.", ("size", "M", "positive")),
    ],
)
def test_payment_delivery_and_size(
    extractor: Extractor, text: str, expected: tuple[str, str, str]
) -> None:
    assert expected in prefs(extractor, text)


def test_updating_a_card_is_not_a_payment_preference(extractor: Extractor) -> None:
    assert not prefs(extractor, "Cust updated the expired card on the account.")


@pytest.mark.parametrize(
    ("text", "head"),
    [
        ("Really keen on the new trail running shoes.", "shoe"),
        ("Interested in organic baby food.", "food"),
        ("Loves vintage vinyl records and jazz.", "record"),
    ],
)
def test_interests_are_clean_noun_phrases(extractor: Extractor, text: str, head: str) -> None:
    values = [v for f, v, p in prefs(extractor, text) if f == "interest" and p == "positive"]
    assert any(v.split()[-1] == head for v in values), values
    assert all(not v.startswith(("the ", "new ")) for v in values)


# -- shorthand and offsets ----------------------------------------------------------------


def test_shorthand_is_understood_without_moving_offsets(extractor: Extractor) -> None:
    text = "14:02 cust wnats cb tmrw; pref txt w/ updates - dosnt want emails"
    result = extractor.extract(text)
    found = prefs(extractor, text)
    assert ("contact_channel", "sms", "positive") in found
    assert ("contact_channel", "email", "negative") in found
    for fact in result.facts:
        assert text[fact.evidence.start : fact.evidence.end] == fact.evidence.text


def test_all_caps_notes_are_read_like_normal_ones(extractor: Extractor) -> None:
    text = "CUST WANTS EMAIL ONLY, NO PHONE CALLS. CHARGED TWICE FOR ORDER 5521, VERY ANGRY."
    found = prefs(extractor, text)
    assert ("contact_channel", "email", "positive") in found
    assert ("contact_channel", "phone", "negative") in found
    complaints = facts_of(extractor, text, "complaint")
    assert [c["category"] for c in complaints] == ["billing"]
    assert complaints[0]["evidence"]["text"].isupper()  # evidence is the original text


# -- complaints --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Cust was double charged for the March bill.", "billing"),
        ("Parcel marked as delivered but never arrived.", "delivery"),
        ("The kettle stopped working after a week.", "product_quality"),
        ("Agent was rude and hung up on her.", "service"),
        ("Returned the jacket a month ago, still no refund.", "returns_refunds"),
        ("App crashes every time she opens it.", "website_app"),
        ("Keeps getting spam texts she never signed up for, wants them stopped.", "privacy"),
        ("Unhappy that the price went up by 20% without notice.", "pricing"),
    ],
)
def test_complaint_categories(extractor: Extractor, text: str, category: str) -> None:
    assert category in {c["category"] for c in facts_of(extractor, text, "complaint")}


def test_a_channel_preference_is_not_a_complaint(extractor: Extractor) -> None:
    assert facts_of(extractor, "Prefers email, no calls.", "complaint") == []


def test_several_complaints_in_one_note(extractor: Extractor) -> None:
    text = "Charged twice for the order. Also the app keeps crashing at checkout."
    categories = {c["category"] for c in facts_of(extractor, text, "complaint")}
    assert {"billing", "website_app"} <= categories


@pytest.mark.parametrize(
    ("text", "attr", "value"),
    [
        (
            "Third call about the broken boiler, says he will go to the ombudsman.",
            "severity",
            "high",
        ),
        ("Parcel late again, second time this month.", "repeat", True),
        ("Item arrived broken; replacement sent, cust happy with that.", "status", "resolved"),
        ("Item arrived broken; escalated to the warehouse team.", "status", "open"),
    ],
)
def test_complaint_attributes(extractor: Extractor, text: str, attr: str, value: object) -> None:
    complaints = facts_of(extractor, text, "complaint")
    assert complaints, text
    assert complaints[0][attr] == value


@pytest.mark.parametrize(
    "text",
    [
        "Cust asked for the opening hours of the Leeds store. Answered.",
        "Address updated to the new flat. No other changes.",
        "Closed, no complaint.",
    ],
)
def test_routine_notes_have_no_complaint(extractor: Extractor, text: str) -> None:
    assert facts_of(extractor, text, "complaint") == []


# -- consent ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "action", "purpose", "channel"),
    [
        ("Please stop sending me promotional emails.", "withdraw", "marketing", "email"),
        ("No more sales calls please.", "withdraw", "marketing", "phone"),
        ("Happy for us to text her about offers.", "grant", "marketing", "sms"),
        ("Does not want his data shared with third parties.", "withdraw", "data_sharing", None),
        (
            "Ok to personalise recommendations from her purchase history.",
            "grant",
            "personalization",
            None,
        ),
        ("Opted out of analytics cookies.", "withdraw", "analytics", None),
        ("Wants her account and all her data deleted.", "erase", "all", None),
        ("Asked for a copy of all personal data we hold (SAR).", "access", "all", None),
    ],
)
def test_consent_statements(
    extractor: Extractor, text: str, action: str, purpose: str, channel: str | None
) -> None:
    found = {
        (c["action"], c["purpose"], c.get("channel")) for c in facts_of(extractor, text, "consent")
    }
    assert (action, purpose, channel) in found


def test_marketing_opt_out_is_consent_not_channel_preference(extractor: Extractor) -> None:
    text = "Take him off the marketing email list."
    assert not any(p[0] == "contact_channel" for p in prefs(extractor, text))
    assert facts_of(extractor, text, "consent")


# -- special categories ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category", "word"),
    [
        ("Cust mentioned she has asthma, prefers email.", "health", "asthma"),
        ("He is a practising Sikh and asked about turban-friendly helmets.", "religion", "Sikh"),
        ("Caller is a shop steward for the RMT.", "union", "steward"),
        (
            "She says she is bisexual and felt the ad was offensive.",
            "sexual_orientation",
            "bisexual",
        ),
        ("Customer is Roma and felt profiled by staff.", "ethnicity", "Roma"),
        ("Wants his fingerprint data removed from the app.", "biometric", "fingerprint"),
        ("Shared her BRCA1 result with the nurse line.", "genetic", "BRCA1"),
    ],
)
def test_special_categories_are_masked(
    extractor: Extractor, text: str, category: str, word: str
) -> None:
    result = extractor.extract(text)
    assert category in {f.attrs["category"] for f in result.facts if f.kind == "sensitive"}
    assert word not in result.redacted_text
    assert f"[{category.upper()}]" in result.redacted_text


@pytest.mark.parametrize(
    "text",
    [
        "Cust's dog was diagnosed with diabetes, wants the renal diet food.",
        "She is worried about health effects of the new mast.",
        "Recommended LGBTQ+ films row appeared on the kids profile.",
    ],
)
def test_pets_and_general_worries_are_not_special_categories(
    extractor: Extractor, text: str
) -> None:
    result = extractor.extract(text)
    assert not [f for f in result.facts if f.kind == "sensitive"]
    assert result.redacted_text == text


def test_only_sensitive_spans_are_masked(extractor: Extractor) -> None:
    text = "Card 4111 1111 1111 1111 read out; reach her at jo@example.com or 07700 900123."
    result = extractor.extract(text)
    assert result.redacted_text == (
        "Card [PAYMENT_CARD] read out; reach her at jo@example.com or 07700 900123."
    )


# -- real customer messages: what is not a preference, a consent or a special category ----


@pytest.mark.parametrize(
    "text",
    [
        "Good afternoon, my router keeps dropping.",
        "I'm not getting a password reset email when I request one.",
        "Your site will not let me login to my yahoo email.",
        "I don't own the phone any more and can't sign in.",
        "No chat help, no contact. Disappointing customer service.",
        "I just had to sign in twice to use the app.",
        "Hewlett Packard lost me as a customer after 20+ years of purchases.",
    ],
)
def test_mentions_of_channels_are_not_preferences(extractor: Extractor, text: str) -> None:
    assert not prefs(extractor, text)


def test_a_request_after_a_rarely_is_still_a_request(extractor: Extractor) -> None:
    found = prefs(extractor, "I rarely use twitter so please call me on 0161 496 0000.")
    assert ("contact_channel", "phone", "positive") in found


def test_dm_me_is_chat(extractor: Extractor) -> None:
    assert ("contact_channel", "chat", "positive") in prefs(extractor, "Please DM me directly.")


@pytest.mark.parametrize(
    "text",
    [
        "It only installs this printer as a black printer.",
        "I bought a great white shark card and never got the bonus.",
    ],
)
def test_colour_words_are_not_ethnicity(extractor: Extractor, text: str) -> None:
    assert not facts_of(extractor, text, "sensitive")


def test_colour_word_about_a_person_is_ethnicity(extractor: Extractor) -> None:
    sensitive = facts_of(extractor, "She believes it was because she is Black.", "sensitive")
    assert [f["category"] for f in sensitive] == ["ethnicity"]


@pytest.mark.parametrize(
    "text",
    [
        "The seller marked it shipped without a tracking number.",
        "You deleted my account for no reason, I want it back.",
        "Do you offer linked files for email to third parties?",
    ],
)
def test_events_and_questions_are_not_consent_statements(extractor: Extractor, text: str) -> None:
    assert facts_of(extractor, text, "consent") == []


# -- found on a second independent sample (tests/data/notes-holdout-2.jsonl) ---------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Said ring her mobile rather than email next time.",
            ("contact_channel", "email", "negative"),
        ),
        (
            "Said ring her mobile rather than email next time.",
            ("contact_channel", "phone", "positive"),
        ),
        ("Wears XL in coats, M in shirts.", ("size", "XL", "positive")),
        ("Wants orders sent to the locker rather than home.", ("delivery", "home", "negative")),
        ("Finds phone calls really stressful.", ("contact_channel", "phone", "negative")),
    ],
)
def test_second_holdout_patterns(
    extractor: Extractor, text: str, expected: tuple[str, str, str]
) -> None:
    assert expected in prefs(extractor, text)


@pytest.mark.parametrize(
    "text",
    [
        "Morning! Quick question about my bill.",
        "Please fix my home screen, it keeps freezing.",
        "I never pick up unknown numbers.",
    ],
)
def test_greetings_screens_and_phone_habits_are_not_preferences(
    extractor: Extractor, text: str
) -> None:
    found = prefs(extractor, text)
    assert not [p for p in found if p[0] in ("contact_time", "delivery")]


def test_a_refund_not_received_is_a_returns_complaint_across_segments(
    extractor: Extractor,
) -> None:
    text = "Refund for returned boots - still not received after 5 wks."
    assert {c["category"] for c in facts_of(extractor, text, "complaint")} == {"returns_refunds"}


def test_late_with_words_in_between_is_a_delivery_complaint(extractor: Extractor) -> None:
    text = "Ordered a roast, it turned up an hour and a half late. Disgusting."
    assert "delivery" in {c["category"] for c in facts_of(extractor, text, "complaint")}


def test_a_tracking_number_is_not_analytics(extractor: Extractor) -> None:
    assert facts_of(extractor, "Receipt emailed. Tracking no. JD0001234567.", "consent") == []


def test_party_councillor_is_political(extractor: Extractor) -> None:
    result = extractor.extract("As a Labour councillor I'd rather my details weren't shared.")
    assert "Labour" not in result.redacted_text


def test_a_security_answer_read_out_as_a_name_is_masked(extractor: Extractor) -> None:
    result = extractor.extract("Cust said her mothers maiden name Fitzgerald on speaker.")
    assert "Fitzgerald" not in result.redacted_text
    assert "[CREDENTIAL]" in result.redacted_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CUST SAYS NEVER RING BEFORE 10 - WORKS NIGHTS.", ("contact_time", "morning", "negative")),
        (
            "Not keen on phone calls - said drop her a line by email.",
            ("contact_channel", "phone", "negative"),
        ),
        ("Call weekday afternoons only.", ("contact_time", "afternoon", "positive")),
    ],
)
def test_spaced_dashes_and_time_compounds(
    extractor: Extractor, text: str, expected: tuple[str, str, str]
) -> None:
    assert expected in prefs(extractor, text)


def test_a_product_named_after_a_time_is_not_a_contact_time(extractor: Extractor) -> None:
    found = prefs(extractor, "Loves the spa, asked about the winter wellness weekend.")
    assert not [p for p in found if p[0] == "contact_time"]


def test_a_missed_engineer_visit_is_a_service_complaint(extractor: Extractor) -> None:
    text = "Cust says engineer didn't turn up for the boiler service, 2nd missed appt."
    assert {c["category"] for c in facts_of(extractor, text, "complaint")} == {"service"}


def test_a_preference_message_is_not_a_complaint(extractor: Extractor) -> None:
    text = "Yes please to the personalised picks! Next-day delivery is a must for me."
    assert facts_of(extractor, text, "complaint") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Interested in hiking boots, size 6.", "hiking boot"),
        ("Also interested in adding critical illness cover.", "critical illness cover"),
    ],
)
def test_gerunds_describe_or_act_on_an_interest(
    extractor: Extractor, text: str, value: str
) -> None:
    assert ("interest", value, "positive") in prefs(extractor, text)
