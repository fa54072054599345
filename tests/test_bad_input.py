"""The Python API on text as it really arrives: control bytes, scripts, emoji, odd sizes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nlp import Extractor, TextTooLongError

CARD = "4111 1111 1111 1111"

# Texts without secrets or special-category data: redaction must leave them untouched.
CLEAN_TEXTS = {
    "control_chars": "cust\x07 prefers\x1b email\x0b\x0c ok\x7f\x1f\x08 thx\x1c",
    "nul_bytes": "prefers\x00 email\x00\x00 no calls\x00",
    "only_nul": "\x00" * 50,
    "c1_controls": "caller\x85said\x9b hi \x90 prefers sms",
    "emoji": "😡😡 parcel late AGAIN 📦 prefers email 👍🏽 👨‍👩‍👧 🇫🇷 ❤️",
    "emoji_only": "😡" * 40,
    "arabic": "العميل يفضل البريد الإلكتروني ولا يريد مكالمات. prefers email",
    "hebrew": "הלקוח מעדיף אימייל, prefers sms",
    "bidi_controls": "\u202eprefers email\u202c \u200fno calls\u200e \u2066x\u2069",
    "combining": "Cafe\u0301 prefe\u0301rs e\u0308mail, n\u0303o calls",
    "zalgo": "t̸̡̛̖e̷̢x̶̨t̴̰ m̵e̴ p̷l̶s̸ " * 3,
    "zero_width": "pre\u200bfers\u200c em\u200dail\ufeff, \u2060no calls",
    "cjk_mixed": "客户更喜欢电子邮件 prefers email 電話はやめて",
    "empty": "",
    "whitespace_only": " \t\n\r\n  \u00a0\u2003\u3000 ",
    "newlines_only": "\n" * 200,
    "punctuation_only": "!!!???...---;;;,,,(((]]]",
    "all_caps": "CUSTOMER FURIOUS, PARCEL LATE AGAIN!!! WANTS A REFUND. PREFERS EMAIL, NO CALLS.",
    "all_caps_special_letters": "İSTANBUL ẞTRASSE ΣΊΣΥΦΟΣ ǅ ﬁ PREFERS EMAIL ONLY",
    "windows_line_endings": "Cust called re late delivery.\r\nPrefers email.\r\n\r\nNo calls.\r\n",
    "old_mac_line_endings": "Late delivery.\rPrefers email.\rNo calls.",
    "one_long_token": "x" * 20_000,
    "markup": "<b>prefers</b> email &amp; <script>alert(1)</script>",
}


@pytest.mark.parametrize("text", CLEAN_TEXTS.values(), ids=CLEAN_TEXTS.keys())
def test_odd_text_is_extracted_without_error(
    extractor: Extractor, contract: Callable[[str, dict[str, Any]], None], text: str
) -> None:
    result = extractor.extract(text)
    contract(text, result.to_dict())
    assert result.text == text
    assert not result.by_kind("sensitive")
    assert result.redacted_text == text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("card\x00", "\x00"),
        ("card\x1b ", "\x07"),
        ("💳", " 😡"),
        ("\u200f", "\u200f"),
        ("بطاقة ", " رفضت"),
        ("כרטיס ", " נדחה"),
        ("Card\r\n", "\r\nthanks"),
        ("CARD ", " DECLINED AGAIN, FURIOUS"),
        ("carte n\u0303 ", " refuse\u0301e"),
    ],
    ids=["nul", "control", "emoji", "rtl_mark", "arabic", "hebrew", "crlf", "caps", "combining"],
)
def test_card_number_is_masked_in_odd_text(
    extractor: Extractor,
    contract: Callable[[str, dict[str, Any]], None],
    before: str,
    after: str,
) -> None:
    text = f"{before}{CARD}{after}"
    result = extractor.extract(text)
    contract(text, result.to_dict())
    assert CARD not in result.redacted_text
    assert "[PAYMENT_CARD]" in result.redacted_text


@pytest.mark.parametrize(
    "text",
    [
        "Customer furious, parcel late again. Prefers email, no calls. Wants a refund.",
        "Speaks French, prefers it. Call after 6pm. Please stop the promo emails.",
        f"Card {CARD} was charged twice, 3rd time calling, wants it fixed.",
    ],
    ids=["complaint", "consent", "card"],
)
def test_all_caps_note_reads_like_its_lower_case_form(extractor: Extractor, text: str) -> None:
    """ALL CAPS notes are common; they must give the same facts at the same offsets."""
    upper, lower = extractor.extract(text.upper()), extractor.extract(text.lower())
    assert [(f.kind, f.attrs, f.evidence.start, f.evidence.end) for f in upper.facts] == [
        (f.kind, f.attrs, f.evidence.start, f.evidence.end) for f in lower.facts
    ]
    assert upper.redacted_text.lower() == lower.redacted_text.lower()


# Found while writing these tests: Extractor.case_fold lower-cases an ALL CAPS note before
# the pipeline runs, and the National Insurance shape in nlp/identifiers.py only matches
# upper-case letters, so "QQ 12 34 56 C" is masked in a normal note but kept in a shouted one.


@pytest.mark.parametrize("nino", ["QQ 12 34 56 C", "AB123456C"])
def test_all_caps_note_masks_national_insurance_numbers(extractor: Extractor, nino: str) -> None:
    mixed = f"Caller gave {nino} for the claim, angry about the delay."
    assert nino not in extractor.extract(mixed).redacted_text  # the shape is known
    shouted = mixed.upper()
    assert nino not in extractor.extract(shouted).redacted_text


def test_windows_line_endings_keep_offsets(extractor: Extractor) -> None:
    unix = "Cust called re late delivery.\nPrefers email.\nCard " + CARD + "\n"
    windows = unix.replace("\n", "\r\n")
    result = extractor.extract(windows)
    for fact in result.facts:
        assert windows[fact.evidence.start : fact.evidence.end] == fact.evidence.text
    assert result.redacted_text.replace("\r\n", "\n") == extractor.extract(unix).redacted_text


def test_long_note_near_the_limit(
    extractor: Extractor, contract: Callable[[str, dict[str, Any]], None]
) -> None:
    """A 90,000 character note (a pasted transcript) keeps its offsets to the very end."""
    filler = "Agent read the order history back to the customer and checked the address. "
    head = "Prefers email. "
    tail = f" Card {CARD} on file. Parcel late again, third time, furious."
    body = (filler * (90_000 // len(filler) + 1))[: 90_000 - len(head) - len(tail)]
    text = head + body + tail
    assert len(text) == 90_000
    result = extractor.extract(text)
    contract(text, result.to_dict())
    assert CARD not in result.redacted_text
    card = next(f for f in result.by_kind("sensitive") if f.get("category") == "payment_card")
    assert card.evidence.start > 89_900


@pytest.mark.parametrize("extra", [1, 10_000])
def test_text_over_the_limit_is_a_clear_error(extractor: Extractor, extra: int) -> None:
    text = "a" * (extractor.max_chars + extra)
    with pytest.raises(TextTooLongError, match=r"TL003.*TRUSTLINE_MAX_TEXT_CHARS"):
        extractor.extract(text)


def test_text_at_the_limit_is_accepted(extractor: Extractor) -> None:
    extractor.check("a" * extractor.max_chars)
