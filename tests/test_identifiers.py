"""Tests for nlp.identifiers: secrets and identifiers that must be masked in call notes."""

from __future__ import annotations

import itertools
import json
import random
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp.identifiers import (
    CueFileError,
    IdentifierCues,
    IdentifierMatch,
    find_identifiers,
    iban_valid,
    load_cues,
    luhn_valid,
    nino_valid,
    sin_valid,
    ssn_valid,
)

REPO_ROOT = Path(__file__).parents[1]
CUES_PATH = REPO_ROOT / "nlp" / "lang" / "en" / "identifiers.json"
DEV_NOTES = REPO_ROOT.parent / "shared" / "data" / "notes-dev.jsonl"
IDENTIFIER_CATEGORIES = {"payment_card", "bank_account", "national_id", "credential"}


@pytest.fixture(scope="module")
def cues() -> IdentifierCues:
    return load_cues(CUES_PATH)


def found(text: str, cues: IdentifierCues) -> list[tuple[str, str, str]]:
    """What a reader sees: (masked text, category, kind) per match."""
    return [(text[m.start : m.end], m.category, m.kind) for m in find_identifiers(text, cues)]


def disjoint(matches: list[IdentifierMatch]) -> bool:
    return all(a.end <= b.start for a, b in itertools.pairwise(matches))


# --- validators -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4242424242424242", True),
        ("4242 4242 4242 4242", True),
        ("4242-4242-4242-4242", True),
        ("79927398713", True),
        ("4242424242424241", False),
        ("79927398710", False),
        ("", False),
        ("4242x4242", False),
        ("\u0664\u0662", False),  # Arabic-Indic digits are not card digits
    ],
)
def test_luhn_valid(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("DE89 3704 0044 0532 0130 00", True),
        ("DE89370400440532013000", True),
        ("PL61 1090 1014 0000 0712 1981 2874", True),
        ("GB29 NWBK 6016 1331 9268 19", True),
        ("gb29 nwbk 6016 1331 9268 19", True),
        ("FR14 2004 1010 0505 0001 3M02 606", True),
        ("NO93 8601 1117 947", True),
        ("DE89 3704 0044 0532 0130 01", False),  # checksum
        ("DE88 3704 0044 0532 0130 00", False),  # check digits
        ("DE89 3704 0044 0532 0130 0", False),  # too short for DE
        ("GB89 3704 0044 0532 0130 00", False),  # DE digits under GB
        ("XX89 3704 0044 0532 0130 00", False),  # no such country
        ("", False),
    ],
)
def test_iban_valid(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid


@pytest.mark.parametrize(
    ("ssn", "valid"),
    [
        ("219-09-9999", True),
        ("078-05-1120", True),
        ("219 09 9999", True),
        ("219099999", True),
        ("000-12-3456", False),
        ("666-12-3456", False),
        ("900-12-3456", False),
        ("999-12-3456", False),
        ("219-00-9999", False),
        ("219-09-0000", False),
        ("219-09-999", False),
        ("21a-09-9999", False),
    ],
)
def test_ssn_valid(ssn: str, valid: bool) -> None:
    assert ssn_valid(ssn) is valid


@pytest.mark.parametrize(
    ("nino", "valid"),
    [
        ("QQ 12 34 56 C", True),  # HMRC's specimen, masked like a real one
        ("AB123456C", True),
        ("AB 123456 D", True),
        ("ab123456a", True),
        ("DA123456C", False),  # first letter D
        ("FA123456C", False),
        ("AO123456C", False),  # second letter O
        ("AV123456C", False),
        ("GB123456C", False),  # unallocated prefix
        ("NK123456C", False),
        ("TN123456C", False),
        ("ZZ123456C", False),
        ("AB123456E", False),  # suffix beyond D
        ("AB12345C", False),
        ("AB123456", False),  # suffix required without a cue
    ],
)
def test_nino_valid(nino: str, valid: bool) -> None:
    assert nino_valid(nino) is valid


@pytest.mark.parametrize(
    ("sin", "valid"),
    [
        ("046 454 286", True),
        ("046-454-286", True),
        ("046454286", True),
        ("130 692 544", True),
        ("046 454 287", False),
        ("000 000 000", False),
        ("046 454 28", False),
    ],
)
def test_sin_valid(sin: str, valid: bool) -> None:
    assert sin_valid(sin) is valid


# --- payment cards ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("read out 4242-4242-4242-4242 - stopped her", "4242-4242-4242-4242", "visa"),
        ("alternative Amex 3782 822463 10005 for phone auth", "3782 822463 10005", "amex"),
        ("read card no. 5105105105105100 aloud", "5105105105105100", "mastercard"),
        ("gave full no. 4000 0566 5566 5556 before", "4000 0566 5566 5556", "visa"),
        ("card 5555 5555 5555 4444 before I could", "5555 5555 5555 4444", "mastercard"),
        ("My card is 4111 1111 1111 1111 - can", "4111 1111 1111 1111", "visa"),
        ("card 4222222222222.", "4222222222222", "visa"),
        ("mc 2223 0031 2200 3222", "2223 0031 2200 3222", "mastercard"),
        ("amex 3714 496353 98431", "3714 496353 98431", "amex"),
        ("discover 6011 1111 1111 1117", "6011 1111 1111 1117", "discover"),
        ("discover 6500 0000 0000 0002", "6500 0000 0000 0002", "discover"),
        ("discover 6440 0000 0000 0005", "6440 0000 0000 0005", "discover"),
        ("diners 3056 930902 5904", "3056 930902 5904", "diners"),
        ("diners 3852 0000 0232 37", "3852 0000 0232 37", "diners"),
        ("diners 36227206271667", "36227206271667", "diners"),
        ("jcb 3530 1113 3330 0000", "3530 1113 3330 0000", "jcb"),
        ("unionpay 6200 0000 0000 0005", "6200 0000 0000 0005", "unionpay"),
        ("maestro 6759 6498 2643 8453", "6759 6498 2643 8453", "maestro"),
        ("maestro 5000 0000 0000 0009", "5000 0000 0000 0009", "maestro"),
        ("card 4242  4242  4242  4242 ok", "4242  4242  4242  4242", "visa"),
        ("card 4242 - 4242 - 4242 - 4242 ok", "4242 - 4242 - 4242 - 4242", "visa"),
        ("card 42424 24242 424242 ok", "42424 24242 424242", "visa"),
    ],
)
def test_card_found(text: str, secret: str, kind: str, cues: IdentifierCues) -> None:
    assert found(text, cues) == [(secret, "payment_card", kind)]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("order 88421 4242 4242 4242 4242", "4242 4242 4242 4242"),
        ("(4242424242424242)", "4242424242424242"),
    ],
)
def test_card_inside_longer_digit_run(text: str, secret: str, cues: IdentifierCues) -> None:
    assert [s for s, _, _ in found(text, cues)] == [secret]


def test_a_loose_iban_shape_hides_no_card(cues: IdentifierCues) -> None:
    # "is 48..." is Iceland's IBAN prefix: a shape with a space and words in it is no IBAN
    text = "PIN is 4821, card 4111 1111 1111 1111, thanks"
    assert ("4111 1111 1111 1111", "payment_card", "visa") in found(text, cues)


@pytest.mark.parametrize(
    ("text", "secrets"),
    [
        # issue 11: the expiry and code read straight after a card are masked with it
        ("4242 4242 4242 4242 123 was the cvv", ["4242 4242 4242 4242", "123"]),
        ("4111111111111111|09/27|163", ["4111111111111111", "09/27", "163"]),
        (
            "card 4242424242424242 0926 861 - cust rattled all three off",
            ["4242424242424242", "0926", "861"],
        ),
    ],
)
def test_card_details_after_a_card(text: str, secrets: list[str], cues: IdentifierCues) -> None:
    assert [s for s, _, _ in found(text, cues)] == secrets


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        # issue 11: every separator, glued to words, Unicode digits, read in pieces
        ("card 4242.4242.4242.4242 ok", "4242.4242.4242.4242"),
        ("card 4242/4242/4242/4242 ok", "4242/4242/4242/4242"),
        ("card 4242_4242_4242_4242 ok", "4242_4242_4242_4242"),
        ("card 4242,4242,4242,4242 ok", "4242,4242,4242,4242"),
        ("card 4242\t4242\n4242   4242 ok", "4242\t4242\n4242   4242"),
        ("card 4242\u20134242\u20144242\u22124242 ok", "4242\u20134242\u20144242\u22124242"),
        ("card 4242\u20094242\u202f4242\u00a04242 ok", "4242\u20094242\u202f4242\u00a04242"),
        ("x4242424242424242", "4242424242424242"),
        ("4242424242424242x", "4242424242424242"),
        ("cc4242424242424242exp", "4242424242424242"),
        ("card \uff14\uff12\uff14\uff12 4242 4242 4242", "\uff14\uff12\uff14\uff12 4242 4242 4242"),
        ("card " + "\u0664\u0662" * 8, "\u0664\u0662" * 8),  # Arabic-Indic digits
        ("4242 4242 then 4242 4242", "4242 4242 then 4242 4242"),
        ("UATP 1354 1234 5678 911", "1354 1234 5678 911"),
        (
            "card is four two four two four two four two four two four two four two four two ok",
            "four two four two four two four two four two four two four two four two",
        ),
    ],
)
def test_card_written_any_way(text: str, secret: str, cues: IdentifierCues) -> None:
    assert [s for s, c, _ in found(text, cues) if c == "payment_card"] == [secret]


def test_two_cards_in_one_run(cues: IdentifierCues) -> None:
    text = "4242 4242 4242 4242 5555 5555 5555 4444"
    assert [s for s, _, _ in found(text, cues)] == ["4242 4242 4242 4242", "5555 5555 5555 4444"]


@pytest.mark.parametrize(
    "text",
    [
        "card 4242 4242 4242 4241 declined",  # Luhn-invalid
        "card 4242424242424241",
        "Call-out fee on card ending 3391 waived",
        "on card ending 0417. bank shows both",
        "card ending 1234",
        "order 88421",
        "Order 60219. Can you send the rest",
        "call me on +44 7700 900123 after 6",
        "mobile 07700 900123",
        "delivered 2024-05-01",
        "1000 0000 0000 0008",  # Luhn-valid, no issuer starts with 1
        "7000 0000 0000 0005",
        "9000 0000 0000 0001",
        "42424242424242424242",  # 20 digits
        "amex 3782 8224 6310 0050",  # Amex prefix, wrong length
        "£1,234.56 refunded",
        "ticket 4471, 3 calls",
    ],
)
def test_card_not_flagged(text: str, cues: IdentifierCues) -> None:
    assert [f for f in found(text, cues) if f[1] == "payment_card"] == []


def test_card_security_code_after_cue(cues: IdentifierCues) -> None:
    text = "card 4242424242424242 exp 12/26 cvv 123"
    assert found(text, cues) == [
        ("4242424242424242", "payment_card", "visa"),
        ("12/26", "payment_card", "card_expiry"),
        ("123", "payment_card", "card_security_code"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "policy expires 12/26, renewal quote sent",  # no card beside it
        "voucher code WELCOME10, nor BLACKFRIDAY25",
        "error code 0x80070005 paying",
    ],
)
def test_dates_and_codes_without_a_secret_stay(text: str, cues: IdentifierCues) -> None:
    assert found(text, cues) == []


# --- bank accounts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("IBAN DE89 3704 0044 0532 0130 00; £25 fee", "DE89 3704 0044 0532 0130 00"),
        ("transfer from PL61 1090 1014 0000 0712 1981 2874.", "PL61 1090 1014 0000 0712 1981 2874"),
        ("pay GB29 NWBK 6016 1331 9268 19 GBP", "GB29 NWBK 6016 1331 9268 19"),
        ("iban gb29 nwbk 6016 1331 9268 19", "gb29 nwbk 6016 1331 9268 19"),
        ("IBAN DE89370400440532013000.", "DE89370400440532013000"),
        ("FR14 2004 1010 0505 0001 3M02 606", "FR14 2004 1010 0505 0001 3M02 606"),
        ("NO93-8601-1117-947", "NO93-8601-1117-947"),
    ],
)
def test_iban_found(text: str, secret: str, cues: IdentifierCues) -> None:
    assert found(text, cues) == [(secret, "bank_account", "iban")]


@pytest.mark.parametrize(
    "text",
    [
        "IBAN DE89 3704 0044 0532 0130 01",  # bad checksum
        "IBAN DE89 3704 0044 0532 0130 0012",  # too long for DE, glued digits
        "IBAN XX89 3704 0044 0532 0130 00",
        "ref AB12 CD34 EF56 GH78",
    ],
)
def test_iban_not_flagged(text: str, cues: IdentifierCues) -> None:
    assert [f for f in found(text, cues) if f[2] == "iban"] == []


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("took the new account number 31926819 and reset the DD", "31926819", "account_number"),
        ("acct no. 12345678", "12345678", "account_number"),
        ("Acct No.12345678", "12345678", "account_number"),
        ("account number: 123456", "123456", "account_number"),
        ("a/c 1234 5678 confirmed", "1234 5678", "account_number"),
        ("account number for the joint account is 12345678", "12345678", "account_number"),
        ("sort code 20-00-00", "20-00-00", "sort_code"),
        ("sort-code 20 00 00.", "20 00 00", "sort_code"),
        ("sort code is 200000", "200000", "sort_code"),
        ("routing number 021000021", "021000021", "routing_number"),
        ("ABA routing number: 021000021", "021000021", "routing_number"),
    ],
)
def test_bank_number_after_cue(text: str, secret: str, kind: str, cues: IdentifierCues) -> None:
    assert found(text, cues) == [(secret, "bank_account", kind)]


@pytest.mark.parametrize(
    "text",
    [
        "Account ref WU-229104.",
        "account number CS-20981",
        "account number 20981-CS",
        "customer account number 12345678",
        "order number 12345678",
        "policy 12345678 renewed",
        "tracking number 12345678",
        "account number ending 6789",
        "account number 12345",  # too short
        "sort code 20-00-0",
        "the account was 12345678 days old",  # no cue
        "12345678",
    ],
)
def test_bank_number_not_flagged(text: str, cues: IdentifierCues) -> None:
    assert found(text, cues) == []


# --- national ids -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("my SSN. It's 219-09-9999, I've typed it", "219-09-9999", "ssn"),
        ("read out her full SSN 078-05-1120 though", "078-05-1120", "ssn"),
        ("ssn 219 09 9999", "219 09 9999", "ssn"),
        ("SSN 219099999", "219099999", "ssn"),
        ("social security number is 219099999.", "219099999", "ssn"),
        ("046 454 286", "046 454 286", "ca_sin"),
        ("SIN 046-454-286", "046-454-286", "ca_sin"),
        ("SIN 046454286", "046454286", "ca_sin"),
        ("social insurance number: 046454286", "046454286", "ca_sin"),
        ("read out her NI number QQ 12 34 56 C for the ISA", "QQ 12 34 56 C", "uk_nino"),
        ("nino AB123456C", "AB123456C", "uk_nino"),
        ("AB 12 34 56 C", "AB 12 34 56 C", "uk_nino"),
        ("NI number ab123456c", "ab123456c", "uk_nino"),
        ("national insurance no. AB123456", "AB123456", "uk_nino"),
        ("passport number 533401234", "533401234", "passport"),
        ("passport no. X12345678", "X12345678", "passport"),
        ("Passport: C01X00T47.", "C01X00T47", "passport"),
    ],
)
def test_national_id_found(text: str, secret: str, kind: str, cues: IdentifierCues) -> None:
    assert found(text, cues) == [(secret, "national_id", kind)]


@pytest.mark.parametrize(
    "text",
    [
        "SSN 666-12-3456",
        "000-12-3456",
        "912-09-9999",
        "219-00-9999",
        "219-09-0000",
        "219099999",  # bare 9 digits need a cue
        "ref 046454286",
        "046 454 287",  # Luhn-invalid SIN
        "SIN 046454287",
        "DA 12 34 56 C",
        "GB123456C",
        "AB123456E",
        "passport renewal due",
        "passport expires 2027",
        "passport photo rejected",
        "X12345678",
        "call +1 415 555 2671 today",
        "Tel 0044 207 946 0958",
    ],
)
def test_national_id_not_flagged(text: str, cues: IdentifierCues) -> None:
    assert [f for f in found(text, cues) if f[1] == "national_id"] == []


# --- credentials ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("Cust gave account PIN 7731 and", "7731", "pin"),
        ("PIN is 4821", "4821", "pin"),
        ("PIN: '4821'", "4821", "pin"),
        ("the PIN for her debit card is 4821, she said", "4821", "pin"),
        ("security answer 'Rover' (first pet) when", "Rover", "security_answer"),
        ("security answer \u2018Rover\u2019", "Rover", "security_answer"),
        ("gave me her password 'Bluebell!88' to 'help'", "Bluebell!88", "password"),
        ('her password "Bluebell!88" ok', "Bluebell!88", "password"),
        ("her password is \u201cBluebell!88\u201d ok", "Bluebell!88", "password"),
        ("her password \u00ab Soleil \u00bb ok", "Soleil", "password"),
        ("so he told me his password is Zeus4ever - advised", "Zeus4ever", "password"),
        ("his password's Zeus4ever", "Zeus4ever", "password"),
        ("password: hunter2;", "hunter2", "password"),
        ("pwd=Zeus4ever", "Zeus4ever", "password"),
        ("password Zeus4ever", "Zeus4ever", "password"),
        ("password for the app is Hunter22.", "Hunter22", "password"),
        ("password was set to Bluebell88", "Bluebell88", "password"),
        ("password is p@ss.w0rd.", "p@ss.w0rd", "password"),
        ("password is giraffe", "giraffe", "password"),
        ("mother's maiden name is Smith", "Smith", "security_answer"),
        ("Mother\u2019s maiden name: O'Brien.", "O'Brien", "security_answer"),
        ("mothers maiden name is Smith", "Smith", "security_answer"),
        ("memorable word: giraffe", "giraffe", "memorable_word"),
        ("memorable word is giraffe, confirmed", "giraffe", "memorable_word"),
        ("passcode 0000", "0000", "passcode"),
        ("Passcode is ABCD", "ABCD", "passcode"),
    ],
)
def test_credential_value_found(text: str, secret: str, kind: str, cues: IdentifierCues) -> None:
    assert found(text, cues) == [(secret, "credential", kind)]


@pytest.mark.parametrize(
    "text",
    [
        (
            "I reset my password twice and it still says invalid credentials - the new one is "
            "Sunflower#2024 if that helps."
        ),
        "changed the password, the new one: Sunflower#2024",
    ],
)
def test_credential_followup_in_same_sentence(text: str, cues: IdentifierCues) -> None:
    assert found(text, cues) == [("Sunflower#2024", "credential", "password")]


def test_secret_looking_value_near_its_cue_is_masked(cues: IdentifierCues) -> None:
    # issue 11: in doubt, mask; a password-shaped word in the next sentence is the password
    assert found("forgot her password. The new one is Sunflower#2024", cues) == [
        ("Sunflower#2024", "credential", "password")
    ]


def test_followup_takes_the_kind_of_its_cue(cues: IdentifierCues) -> None:
    text = "changed her PIN, the new one is 9032"
    assert found(text, cues) == [("9032", "credential", "pin")]


def test_followup_without_cue_masks_only_a_secret_looking_value(cues: IdentifierCues) -> None:
    assert found("the new one is Sunflower#2024", cues) == [
        ("Sunflower#2024", "credential", "password")
    ]
    assert found("the new one is blue, order ORD-55821", cues) == []


def test_second_cue_in_qualifier_owns_the_value(cues: IdentifierCues) -> None:
    text = "I changed my password and my PIN is now 4821."
    assert found(text, cues) == [("4821", "credential", "pin")]


@pytest.mark.parametrize(
    "text",
    [
        "Cust needed PUK code, verified via security questions, PUK given. Phone unlocked.",
        "advised never to share, forced a reset.",
        "reset her password",
        "password reset link sent",
        "clicked the 'password reset' link",
        "her 'security answer' was wrong and 'she' said so",
        "verified via security questions",
        "PIN given",
        "PIN is correct",
        "pin 12 on the connector",
        "changed her password twice",
        "password was reset",
        "password is not working",
        "password is the same as before",
        "password is case-sensitive",
        "security answer was correct",
        "security answer is her first pet",
        "memorable word checked",
        "maiden name given",
        "password twice",
        "spinning 4821 times",  # 'pin' inside a word
    ],
)
def test_credential_not_flagged(text: str, cues: IdentifierCues) -> None:
    assert found(text, cues) == []


# --- offsets, overlaps, unicode ---------------------------------------------------------


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "\U0001f600 ",
        "\U0001f44d\U0001f3fd\U0001f44d ",
        "Caf\u00e9 na\u00efve \u4e2d\u6587 ",
        "\u0130\u0130 ",
    ],
)
@pytest.mark.parametrize(
    "secret_line",
    [
        "card 4242 4242 4242 4242 declined",
        "IBAN DE89 3704 0044 0532 0130 00 ok",
        "PIN is 4821 ok",
        "password 'Bluebell!88' ok",
        "SSN 219-09-9999 ok",
    ],
)
def test_offsets_exact_after_unicode(prefix: str, secret_line: str, cues: IdentifierCues) -> None:
    plain = find_identifiers(secret_line, cues)
    text = prefix + secret_line
    shifted = find_identifiers(text, cues)
    assert len(plain) == len(shifted) == 1
    assert shifted[0].start == plain[0].start + len(prefix)
    assert text[shifted[0].start : shifted[0].end] == secret_line[plain[0].start : plain[0].end]


def test_match_fields(cues: IdentifierCues) -> None:
    text = "PIN is 4821"
    assert find_identifiers(text, cues) == [IdentifierMatch(7, 11, "credential", "pin")]


def test_matches_are_sorted_and_disjoint(cues: IdentifierCues) -> None:
    text = (
        "PIN 7731, security answer 'Rover'. Card 4242 4242 4242 4242, IBAN DE89 3704 0044 "
        "0532 0130 00, SSN 219-09-9999, sort code 20-00-00, acct no 31926819, "
        "NI QQ 12 34 56 C, password is Zeus4ever."
    )
    matches = find_identifiers(text, cues)
    assert [text[m.start : m.end] for m in matches] == [
        "7731",
        "Rover",
        "4242 4242 4242 4242",
        "DE89 3704 0044 0532 0130 00",
        "219-09-9999",
        "20-00-00",
        "31926819",
        "QQ 12 34 56 C",
        "Zeus4ever",
    ]
    assert disjoint(matches)


def test_longer_match_wins_overlap(cues: IdentifierCues) -> None:
    # The cue would take the first 12 digits; the card is longer and checksum-proven.
    text = "account number 4242 4242 4242 4242"
    assert found(text, cues) == [("4242 4242 4242 4242", "payment_card", "visa")]


def test_cued_ssn_and_shape_give_one_match(cues: IdentifierCues) -> None:
    assert found("SSN 219-09-9999", cues) == [("219-09-9999", "national_id", "ssn")]


@pytest.mark.parametrize("text", ["", " ", "\n\n", "PIN", "password:", "IBAN"])
def test_empty_and_truncated_text(text: str, cues: IdentifierCues) -> None:
    assert find_identifiers(text, cues) == []


# --- large inputs: must finish (run once, no timing assert) -----------------------------


def test_two_megabytes_of_digits_and_spaces(cues: IdentifierCues) -> None:
    rng = random.Random(13)
    text = "".join(rng.choice("0123456789 ") for _ in range(2_000_000))
    matches = find_identifiers(text, cues)
    assert disjoint(matches)


def test_two_megabytes_of_random_text(cues: IdentifierCues) -> None:
    rng = random.Random(17)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " \n\u2019\u00e9"
    text = "".join(rng.choice(alphabet) for _ in range(2_000_000))
    matches = find_identifiers(text, cues)
    assert all(0 <= m.start < m.end <= len(text) for m in matches)


@pytest.mark.parametrize(
    "chunk",
    ["password '", "DE89 ", "PIN is ", "sort code 20-", "4242 ", "- - - ", "'\u2019" * 3],
)
def test_repetitive_adversarial_text(chunk: str, cues: IdentifierCues) -> None:
    text = chunk * (1_000_000 // len(chunk))
    matches = find_identifiers(text, cues)
    assert disjoint(matches)


# --- cue data ---------------------------------------------------------------------------


def test_every_cue_group_is_documented() -> None:
    data = json.loads(CUES_PATH.read_text(encoding="utf-8"))
    assert data["_doc"].strip()
    for name, group in data.items():
        if isinstance(group, dict):
            assert group.get("_doc", "").strip(), f"group {name!r} has no _doc"


SAMPLE_VALUES = {
    "card_security_code": "123",
    "account_number": "31926819",
    "sort_code": "20-00-00",
    "routing_number": "021000021",
    "ssn": "219099999",
    "ca_sin": "046454286",
    "uk_nino": "AB123456C",
    "passport": "533401234",
    "password": "Zeus4ever",
    "pin": "4821",
    "passcode": "0000",
    "security_answer": "'Rover'",
    "memorable_word": "'giraffe'",
    "transit_number": "00011",
    "itin": "912-70-1234",
    "uk_nhs": "943 476 5919",
    "ca_ramq": "TREM 8501 0112",
    "ca_ohip": "1234-567-890-AB",
    "health_card": "9876543217",
    "driving_licence": "MORGA657054SM9IJ",
    "one_time_code": "482913",
    "api_key": "sk9Fq2LmX81ZpQ7w",
}


def _every_cue() -> list[tuple[str, str, str]]:
    data = json.loads(CUES_PATH.read_text(encoding="utf-8"))
    return [
        (category, kind, phrase)
        for category, group in data.items()
        if isinstance(group, dict)
        for kind, phrases in group.get("cues", {}).items()
        for phrase in phrases
    ]


@pytest.mark.parametrize(("category", "kind", "phrase"), _every_cue())
def test_every_cue_phrase_announces_its_kind(
    category: str, kind: str, phrase: str, cues: IdentifierCues
) -> None:
    if kind == "card_expiry":  # an expiry is masked only beside a card
        text = f"Card 4242424242424242, {phrase.upper()} 09/27 on the call"
        assert found(text, cues)[1] == ("09/27", category, kind)
        return
    value = SAMPLE_VALUES[kind]
    text = f"Caller gave {phrase.upper()} {value} on the call"
    assert found(text, cues) == [(value.strip("'"), category, kind)]


FRENCH = {
    "_doc": "Indices fran\u00e7ais.",
    "language": "fr",
    "links": {"_doc": "Mots de liaison.", "phrases": ["est", "\u00e9tait"]},
    "credential": {
        "_doc": "Secrets.",
        "cues": {"password": ["mot de passe"], "pin": ["code pin", "code secret"]},
        "followups": ["le nouveau"],
        "not_values": ["le", "la", "r\u00e9initialis\u00e9"],
    },
    "national_id": {
        "_doc": "Identifiants.",
        "cues": {"ca_sin": ["NAS", "num\u00e9ro d'assurance sociale"]},
    },
}


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("Son mot de passe est Soleil#7.", "Soleil#7", "password"),
        ("MOT DE PASSE \u00ab Soleil \u00bb", "Soleil", "password"),
        ("code secret 4821", "4821", "pin"),
        ("NAS 046454286", "046454286", "ca_sin"),
        ("Num\u00e9ro d\u2019assurance sociale : 046454286", "046454286", "ca_sin"),
        ("mot de passe chang\u00e9, le nouveau est Lune#9", "Lune#9", "password"),
    ],
)
def test_another_language_needs_only_data(text: str, secret: str, kind: str) -> None:
    french = IdentifierCues.from_mapping(FRENCH, source="fr")
    category = "national_id" if kind == "ca_sin" else "credential"
    assert found(text, french) == [(secret, category, kind)]


def test_french_negative_word() -> None:
    french = IdentifierCues.from_mapping(FRENCH, source="fr")
    assert found("mot de passe est r\u00e9initialis\u00e9", french) == []


def _with(**changes: object) -> dict[str, object]:
    data: dict[str, object] = json.loads(json.dumps(FRENCH))
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (_with(credential={"cues": {"password": ["mot de passe"]}}), "TL012"),
        (_with(links={"_doc": " ", "phrases": []}), "TL012"),
        (_with(colour={"_doc": "x"}), "TL013"),
        (_with(credential={"_doc": "x", "cue": {}}), "TL013"),
        (_with(language=""), "TL013"),
        (_with(credential={"_doc": "x", "cues": {"pasword": ["mot de passe"]}}), "TL014"),
        (_with(credential={"_doc": "x", "cues": {"ssn": ["nas"]}}), "TL014"),
        (_with(credential={"_doc": "x", "cues": {"pin": "code pin"}}), "TL015"),
        (_with(credential={"_doc": "x", "cues": {"pin": ["code pin", ""]}}), "TL015"),
        (_with(credential={"_doc": "x", "cues": {"pin": ["code"], "password": ["Code"]}}), "TL016"),
    ],
)
def test_bad_cue_data_names_its_error(data: dict[str, object], code: str) -> None:
    with pytest.raises(CueFileError, match=f"^{code} "):
        IdentifierCues.from_mapping(data, source="test")


def test_missing_cue_file(tmp_path: Path) -> None:
    with pytest.raises(CueFileError, match=r"^TL011 "):
        load_cues(tmp_path / "nope.json")


def test_cue_file_not_json(tmp_path: Path) -> None:
    path = tmp_path / "identifiers.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CueFileError, match=r"^TL011 "):
        load_cues(path)


def test_cues_are_immutable(cues: IdentifierCues) -> None:
    with pytest.raises(AttributeError):
        cues.language = "fr"  # type: ignore[misc]


# --- development notes ------------------------------------------------------------------


def _dev_notes() -> list[dict[str, object]]:
    if not DEV_NOTES.exists():
        return []
    return [json.loads(line) for line in DEV_NOTES.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.skipif(not DEV_NOTES.exists(), reason="../shared/data is absent")  # allowed: dev data
def test_dev_notes_identifiers_match_gold(cues: IdentifierCues) -> None:
    missed: list[tuple[object, object]] = []
    extra: list[tuple[object, object]] = []
    for note in _dev_notes():
        text = note["text"]
        assert isinstance(text, str)
        gold_facts = note["gold"]
        assert isinstance(gold_facts, list)
        gold = {
            (g["category"], g["span"])
            for g in gold_facts
            if g["kind"] == "sensitive" and g["category"] in IDENTIFIER_CATEGORIES
        }
        got = {(m.category, text[m.start : m.end]) for m in find_identifiers(text, cues)}
        missed += [(note["id"], g) for g in gold - got]
        extra += [(note["id"], g) for g in got - gold]
    assert missed == []
    assert extra == []


# --- any text ---------------------------------------------------------------------------

NOTE_PIECES = st.sampled_from(
    [
        *"0123456789 -'\".:=#\n\u2019\u00ab\u00bbABCDEQZabcdez\u0130\U0001f600",
        *["PIN ", "password ", "is ", "sort code ", "SSN ", "new one ", "IBAN ", "DE89 ", "4242 "],
    ]
)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(NOTE_PIECES, max_size=40))
def test_any_text_gives_sorted_disjoint_spans(pieces: list[str], cues: IdentifierCues) -> None:
    text = "".join(pieces)
    matches = find_identifiers(text, cues)
    assert all(0 <= m.start < m.end <= len(text) for m in matches)
    assert disjoint(matches)
