"""Find secrets and identifiers in free text so they can be masked before storage.

Number shapes and checksums (card numbers, IBANs, SSN/SIN/NINO layouts) are not
language-specific and live here. The words that announce a secret ("PIN is", "sort code")
live in ``nlp/lang/<lang>/identifiers.json`` and are compiled once by ``load_cues``.

Every pattern is linear: separators are bounded and cannot match digits or letters, so no
input makes the scanner backtrack without limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, NamedTuple

__all__ = [
    "CueFileError",
    "IdentifierCues",
    "IdentifierMatch",
    "find_identifiers",
    "iban_valid",
    "load_cues",
    "luhn_valid",
    "nino_valid",
    "sin_valid",
    "ssn_valid",
]

PAYMENT_CARD: Final = "payment_card"
BANK_ACCOUNT: Final = "bank_account"
NATIONAL_ID: Final = "national_id"
CREDENTIAL: Final = "credential"

# The category of each cue kind. A cue file may use only these kinds, because each one
# needs a value shape in this module: a new kind is new code, not only new words.
_KIND_CATEGORY: Final[Mapping[str, str]] = MappingProxyType(
    {
        "card_security_code": PAYMENT_CARD,
        "account_number": BANK_ACCOUNT,
        "sort_code": BANK_ACCOUNT,
        "routing_number": BANK_ACCOUNT,
        "ssn": NATIONAL_ID,
        "ca_sin": NATIONAL_ID,
        "uk_nino": NATIONAL_ID,
        "passport": NATIONAL_ID,
        "password": CREDENTIAL,
        "pin": CREDENTIAL,
        "passcode": CREDENTIAL,
        "security_answer": CREDENTIAL,
        "memorable_word": CREDENTIAL,
    }
)
_CATEGORIES: Final = frozenset(_KIND_CATEGORY.values())

# Tie-break between overlapping spans of equal length: numbers proven by a checksum beat
# digit runs found by a cue, which beat free-form secrets.
_RANK_CHECKED: Final = 0
_RANK_CUED: Final = 1
_RANK_SECRET: Final = 2

_MAX_SECRET_LEN: Final = 64
# How far back (in characters, same sentence) "the new one is ..." looks for its cue.
_FOLLOWUP_REACH: Final = 200
_FOLLOWUP: Final = "_followup"


class CueFileError(ValueError):
    """A cue file is malformed; the message starts with a stable code and says how to fix it."""


@dataclass(frozen=True, slots=True)
class IdentifierMatch:
    """One span of the input text that must be masked: ``text[start:end]`` is the secret."""

    start: int
    end: int
    category: str
    kind: str


class _Candidate(NamedTuple):
    start: int
    end: int
    category: str
    kind: str
    rank: int


# ---------------------------------------------------------------------------
# Validators

_SEPARATORS: Final = re.compile(r"[\s\-\u2010-\u2013]")


def _compact(s: str) -> str:
    return _SEPARATORS.sub("", s)


def _ascii_digits(s: str) -> bool:
    return s.isascii() and s.isdigit()


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_valid(digits: str) -> bool:
    """Return True if ``digits`` passes the Luhn mod-10 check; spaces and dashes are ignored."""
    digits = _compact(digits)
    return _ascii_digits(digits) and _luhn(digits)


# ISO 13616 IBAN length per country, from the SWIFT IBAN registry.
_IBAN_LENGTHS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
        "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
        "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
        "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
        "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
        "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
        "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
        "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
        "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
        "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
        "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
        "YE": 30,
    }
)  # fmt: skip
_IBAN_COMPACT: Final = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


def iban_valid(s: str) -> bool:
    """Return True if ``s`` is an IBAN of its country's length with a valid mod-97 check.

    Spaces and dashes are ignored; letters may be in either case.
    """
    iban = _compact(s).upper()
    if not iban.isascii() or _IBAN_COMPACT.fullmatch(iban) is None:
        return False
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def ssn_valid(s: str) -> bool:
    """Return True if ``s`` is a US Social Security number that can have been issued.

    Spaces and dashes are ignored. Area 000, 666 and 900-999, group 00 and serial 0000
    are never issued.
    """
    digits = _compact(s)
    if len(digits) != 9 or not _ascii_digits(digits):
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_NINO_BAD_FIRST: Final = frozenset("DFIQUV")
_NINO_BAD_SECOND: Final = frozenset("DFIOQUV")
_NINO_UNALLOCATED: Final = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
# HMRC's specimen prefix breaks the letter rules, but callers read it out from forms and
# test data: masking a specimen costs nothing, missing a real number leaks it.
_NINO_SPECIMEN: Final = frozenset({"QQ"})
_NINO_COMPACT: Final = re.compile(r"[A-Z]{2}[0-9]{6}[A-D]")


def _nino_prefix_ok(value: str) -> bool:
    prefix = value[:2].upper()
    if prefix in _NINO_SPECIMEN:
        return True
    return (
        prefix[0] not in _NINO_BAD_FIRST
        and prefix[1] not in _NINO_BAD_SECOND
        and prefix not in _NINO_UNALLOCATED
    )


def nino_valid(s: str) -> bool:
    """Return True if ``s`` is a UK National Insurance number: 2 letters, 6 digits, A-D.

    Spaces and dashes are ignored; the two-letter prefix must follow HMRC's allocation rules.
    """
    nino = _compact(s).upper()
    return _NINO_COMPACT.fullmatch(nino) is not None and _nino_prefix_ok(nino)


def sin_valid(s: str) -> bool:
    """Return True if ``s`` is a 9 digit, Luhn-valid Canadian Social Insurance Number.

    Spaces and dashes are ignored.
    """
    digits = _compact(s)
    return len(digits) == 9 and digits != "000000000" and luhn_valid(digits)


# ---------------------------------------------------------------------------
# Numbers that prove themselves (no cue needed)

# (kind, lowest prefix, highest prefix, allowed lengths), tried in order: the broad
# Maestro ranges come after the networks they overlap.
_CARD_RULES: Final[tuple[tuple[str, str, str, frozenset[int]], ...]] = (
    ("amex", "34", "34", frozenset({15})),
    ("amex", "37", "37", frozenset({15})),
    ("visa", "4", "4", frozenset({13, 16, 19})),
    ("mastercard", "51", "55", frozenset({16})),
    ("mastercard", "2221", "2720", frozenset({16})),
    ("discover", "6011", "6011", frozenset(range(16, 20))),
    ("discover", "644", "649", frozenset(range(16, 20))),
    ("discover", "65", "65", frozenset(range(16, 20))),
    ("diners", "300", "305", frozenset(range(14, 20))),
    ("diners", "36", "36", frozenset(range(14, 20))),
    ("diners", "38", "38", frozenset(range(14, 20))),
    ("jcb", "3528", "3589", frozenset(range(16, 20))),
    ("unionpay", "62", "62", frozenset(range(16, 20))),
    ("maestro", "50", "50", frozenset(range(13, 20))),
    ("maestro", "56", "69", frozenset(range(13, 20))),
)
_CARD_MIN: Final = 13
_CARD_MAX: Final = 19


def _card_kind(digits: str) -> str | None:
    for kind, low, high, lengths in _CARD_RULES:
        if len(digits) in lengths and low <= digits[: len(low)] <= high:
            return kind
    return None


# Digit groups joined by one or two spaces or by a dash. A run right after '+' is a phone
# number, and a run glued to a letter ("DE89", "x4242") is part of a code.
_DIGIT_RUN: Final = re.compile(
    r"(?<![\w+])[0-9]+(?:(?:[ \u00a0]{1,2}|[ \u00a0]?[\-\u2010-\u2013][ \u00a0]?)[0-9]+)*"
)
_DIGIT_GROUP: Final = re.compile(r"[0-9]+")
_WORD_CHAR: Final = re.compile(r"\w")


def _card_candidates(text: str) -> Iterator[_Candidate]:
    for run in _DIGIT_RUN.finditer(text):
        if run.end() - run.start() < _CARD_MIN:
            continue
        groups = [(g.start(), g.group()) for g in _DIGIT_GROUP.finditer(text, *run.span())]
        if _WORD_CHAR.match(text, run.end()):
            groups.pop()
        yield from _cards_in_run(groups)


def _cards_in_run(groups: list[tuple[int, str]]) -> Iterator[_Candidate]:
    """Yield cards made of whole digit groups, longest first from each group onward.

    Trying sub-runs finds a card that shares its run with a CVV, an amount or an order
    number ("order 88421 4242 4242 4242 4242").
    """
    i = 0
    while i < len(groups):
        total = 0
        ends: list[int] = []
        for j in range(i, len(groups)):
            total += len(groups[j][1])
            if total > _CARD_MAX:
                break
            if total >= _CARD_MIN:
                ends.append(j)
        for j in reversed(ends):
            digits = "".join(group for _, group in groups[i : j + 1])
            kind = _card_kind(digits)
            if kind is not None and _luhn(digits):
                end = groups[j][0] + len(groups[j][1])
                yield _Candidate(groups[i][0], end, PAYMENT_CARD, kind, _RANK_CHECKED)
                i = j + 1
                break
        else:
            i += 1


# Country code and check digits; the rest is cut to the country's length below, since a
# greedy shape would run on into following words ("... 0130 00 GBP").
_IBAN_START: Final = re.compile(r"(?<![0-9A-Za-z])([A-Za-z]{2})[0-9]{2}")
_IBAN_BODIES: Final[Mapping[int, re.Pattern[str]]] = MappingProxyType(
    {
        n: re.compile(rf"(?:[ \u00a0\-]?[0-9A-Za-z]){{{n - 4}}}(?![0-9A-Za-z])")
        for n in set(_IBAN_LENGTHS.values())
    }
)


def _iban_candidates(text: str) -> Iterator[_Candidate]:
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(1).upper())
        if length is None:
            continue
        body = _IBAN_BODIES[length].match(text, m.end())
        if body is not None and iban_valid(text[m.start() : body.end()]):
            yield _Candidate(m.start(), body.end(), BANK_ACCOUNT, "iban", _RANK_CHECKED)


# Fragments of longer digit runs (phone numbers) are not identifiers: no digit group may
# sit right before or after the shape.
_NOT_AFTER_DIGITS: Final = r"(?<![\w\-])(?<![0-9][ \-])"
_NOT_BEFORE_DIGITS: Final = r"(?![\w\-]|[ \-][0-9])"
_SHAPED_IDS: Final[tuple[tuple[re.Pattern[str], str, Callable[[str], bool]], ...]] = (
    (
        re.compile(_NOT_AFTER_DIGITS + r"[0-9]{3}([ \-])[0-9]{2}\1[0-9]{4}" + _NOT_BEFORE_DIGITS),
        "ssn",
        ssn_valid,
    ),
    (
        re.compile(_NOT_AFTER_DIGITS + r"[0-9]{3}([ \-])[0-9]{3}\1[0-9]{3}" + _NOT_BEFORE_DIGITS),
        "ca_sin",
        sin_valid,
    ),
    (
        re.compile(r"(?<![\w\-])[A-Z]{2}(?:[ \-]?[0-9]{2}){3}[ \-]?[A-D](?![\w\-])"),
        "uk_nino",
        nino_valid,
    ),
)


def _shaped_id_candidates(text: str) -> Iterator[_Candidate]:
    for pattern, kind, valid in _SHAPED_IDS:
        for m in pattern.finditer(text):
            if valid(m.group()):
                yield _Candidate(m.start(), m.end(), NATIONAL_ID, kind, _RANK_CHECKED)


# ---------------------------------------------------------------------------
# Values announced by a cue

_VALUE_END: Final = r"(?![\w\-]|[ \-][0-9])"
# Value shape per cue kind, with an optional check on the matched text. Kinds missing here
# (passwords, answers, memorable words) take a quoted value or the next word.
_CUED_VALUES: Final[Mapping[str, tuple[re.Pattern[str], Callable[[str], bool] | None]]] = (
    MappingProxyType(
        {
            "card_security_code": (re.compile(r"[0-9]{3,4}" + _VALUE_END), None),
            "account_number": (re.compile(r"[0-9](?:[ \-]?[0-9]){5,11}" + _VALUE_END), None),
            "sort_code": (re.compile(r"[0-9]{2}([ \-]?)[0-9]{2}\1[0-9]{2}" + _VALUE_END), None),
            "routing_number": (re.compile(r"[0-9]{9}" + _VALUE_END), None),
            "ssn": (re.compile(r"[0-9]{3}([ \-]?)[0-9]{2}\1[0-9]{4}" + _VALUE_END), ssn_valid),
            "ca_sin": (re.compile(r"[0-9]{3}([ \-]?)[0-9]{3}\1[0-9]{3}" + _VALUE_END), sin_valid),
            "uk_nino": (
                re.compile(r"[A-Za-z]{2}(?:[ \-]?[0-9]{2}){3}(?:[ \-]?[A-Da-d])?" + _VALUE_END),
                _nino_prefix_ok,
            ),
            "passport": (re.compile(r"(?=[A-Za-z]{0,3}[0-9])[A-Za-z0-9]{6,9}" + _VALUE_END), None),
            "pin": (re.compile(r"[0-9]{4,12}" + _VALUE_END), None),  # ISO 9564 PIN length
        }
    )
)

# Opening quote -> the characters that may close it.
_QUOTE_CLOSERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "'": "'\u2019",
        '"': '"\u201d',
        "\u2018": "\u2019'",
        "\u2019": "\u2019'",
        "\u201c": '\u201d"',
        "\u201d": '\u201d"',
        "\u201e": '\u201c\u201d"',
        "\u00ab": "\u00bb",
        "\u2039": "\u203a",
    }
)
_QUOTES: Final = "'\"\u2018\u2019\u201c\u201d\u201e\u00ab\u00bb\u2039\u203a"
_LEADING_JUNK: Final = "([{<" + _QUOTES
_TRAILING_JUNK: Final = ".,;:!?)]}>" + _QUOTES
_TOKEN: Final = re.compile(rf"\S{{1,{_MAX_SECRET_LEN}}}(?!\S)")
# Without a link word a bare next word counts only if it looks like a secret:
# "password Zeus4ever" yes, "password twice" no.
_LOOKS_SECRET: Final = re.compile(r"[0-9]|[^\w\s\-'\u2019]")
_WORD_HEAD: Final = re.compile(r"[^\-'\u2019]*")
_SENTENCE_END: Final = re.compile(r"[.!?](?:\s|$)|\n")
_PREVIOUS_WORD: Final = re.compile(r"([^\W\d_]+)(?:['\u2019]s)?[^\S\n]{1,3}$")


@dataclass(frozen=True, slots=True)
class IdentifierCues:
    """The cue words of one language, compiled once; build it with ``load_cues``."""

    language: str
    # Matches cue phrases in text lower-cased by ``_fold``; case-sensitive on purpose, so
    # the regex engine can skip ahead to a cue's first letter.
    cue_re: re.Pattern[str]
    # Kind announced by each cue (or the follow-up marker), keyed by ``_cue_key``.
    targets: Mapping[str, str]
    gap_re: re.Pattern[str]
    qualified_gap_re: re.Pattern[str]
    not_values: frozenset[str]
    not_after: Mapping[str, frozenset[str]]

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], source: str = "<mapping>") -> IdentifierCues:
        """Compile cues from the parsed content of an ``identifiers.json`` file.

        Raises CueFileError (codes ID002-ID006) when the data does not follow the format.
        """
        return _compile_cues(data, source)


def load_cues(path: Path) -> IdentifierCues:
    """Read and compile a language's ``identifiers.json``.

    Raises CueFileError: ID001 when the file cannot be read or parsed, ID002-ID006 when
    its content does not follow the format described in its own ``_doc``.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CueFileError(
            f"ID001 {path}: cannot read cue file ({exc}); check the path and that it is UTF-8 JSON"
        ) from exc
    if not isinstance(data, dict):
        raise CueFileError(f"ID001 {path}: the top level must be a JSON object")
    return IdentifierCues.from_mapping(data, source=str(path))


def find_identifiers(text: str, cues: IdentifierCues) -> list[IdentifierMatch]:
    """Return the spans of ``text`` that must be masked, sorted and never overlapping.

    Where detections overlap, the longer one wins; between equal lengths a checksum-proven
    number beats a cued digit run, which beats a free-form secret.
    """
    candidates = [
        *_card_candidates(text),
        *_iban_candidates(text),
        *_shaped_id_candidates(text),
        *_cued_candidates(text, cues),
    ]
    return _resolve(candidates)


def _resolve(candidates: list[_Candidate]) -> list[IdentifierMatch]:
    candidates.sort(key=lambda c: (c.start - c.end, c.rank, c.start))
    # One byte per character: checking and marking a span costs its own length, so the
    # whole pass stays linear however many candidates a long text yields.
    taken = bytearray(max((c.end for c in candidates), default=0))
    chosen: list[_Candidate] = []
    for c in candidates:
        if taken.find(1, c.start, c.end) == -1:
            taken[c.start : c.end] = b"\x01" * (c.end - c.start)
            chosen.append(c)
    chosen.sort(key=lambda c: c.start)
    return [IdentifierMatch(c.start, c.end, c.category, c.kind) for c in chosen]


def _cue_matches(
    text: str, folded: str, cues: IdentifierCues, pos: int = 0, endpos: int | None = None
) -> Iterator[tuple[int, int, str]]:
    """Yield ``(start, end, target)`` for each whole-word cue in ``text[pos:endpos]``."""
    endpos = len(text) if endpos is None else endpos
    while (m := cues.cue_re.search(folded, pos, endpos)) is not None:
        start, end = m.span()
        # Checked here rather than with a lookbehind in the pattern, which would stop the
        # regex engine from skipping ahead to a cue's first letter.
        if start and _WORD_CHAR.match(text, start - 1) and _WORD_CHAR.match(text, start):
            pos = start + 1
            continue
        pos = end
        yield start, end, cues.targets[_cue_key(m.group())]


def _cued_candidates(text: str, cues: IdentifierCues) -> Iterator[_Candidate]:
    folded = _fold(text)
    last_secret: tuple[str, int] | None = None  # latest credential cue: (kind, end)
    for start, end, target in _cue_matches(text, folded, cues):
        if target == _FOLLOWUP:
            if last_secret is None or not _same_sentence(text, last_secret[1], start):
                continue
            kind = last_secret[0]
            span = _value_after(text, folded, end, kind, cues, need_link=True)
        else:
            kind = target
            category = _KIND_CATEGORY[kind]
            if category == CREDENTIAL:
                last_secret = (kind, end)
            if _after_blocker(text, start, cues.not_after.get(category)):
                continue
            span = _value_after(text, folded, end, kind, cues, need_link=False)
        if span is not None:
            category = _KIND_CATEGORY[kind]
            rank = _RANK_SECRET if category == CREDENTIAL else _RANK_CUED
            yield _Candidate(span[0], span[1], category, kind, rank)


def _same_sentence(text: str, start: int, end: int) -> bool:
    return end - start <= _FOLLOWUP_REACH and _SENTENCE_END.search(text, start, end) is None


def _after_blocker(text: str, start: int, blockers: frozenset[str] | None) -> bool:
    """Return True if the word right before ``start`` voids the cue ("customer account no")."""
    if not blockers:
        return False
    m = _PREVIOUS_WORD.search(text, max(0, start - 40), start)
    return m is not None and m.group(1).casefold() in blockers


def _value_after(
    text: str, folded: str, pos: int, kind: str, cues: IdentifierCues, *, need_link: bool
) -> tuple[int, int] | None:
    """Return the span of the value announced by a cue that ends at ``pos``, if any.

    The value follows the cue, or a short qualifier and a link ("PIN for her card is").
    Nothing at all between cue and value means the cue's own closing quote follows
    ("her 'security answer' was wrong"), not a value. A qualifier holding another cue
    leaves the value to that cue ("password and my PIN is 4821").
    """
    gap = cues.gap_re.match(text, pos)
    if gap is not None and gap.end() > pos:
        linked = gap.group("sep", "link", "sep2") != (None, None, None)
        if linked or not need_link:
            span = _read_value(text, gap.end(), kind, linked, cues.not_values)
            if span is not None:
                return span
    qualified = cues.qualified_gap_re.match(text, pos)
    if qualified is None or any(_cue_matches(text, folded, cues, pos, qualified.end())):
        return None
    return _read_value(text, qualified.end(), kind, True, cues.not_values)


def _read_value(
    text: str, pos: int, kind: str, linked: bool, not_values: frozenset[str]
) -> tuple[int, int] | None:
    if pos >= len(text):
        return None
    shape = _CUED_VALUES.get(kind)
    if shape is not None:
        pattern, valid = shape
        m = pattern.match(text, pos + 1 if text[pos] in _QUOTES else pos)
        if m is None or (valid is not None and not valid(m.group())):
            return None
        return m.span()
    closers = _QUOTE_CLOSERS.get(text[pos])
    if closers is not None:
        return _quoted_value(text, pos, closers)
    return _bare_value(text, pos, linked, not_values, kind)


def _quoted_value(text: str, pos: int, closers: str) -> tuple[int, int] | None:
    limit = min(len(text), pos + _MAX_SECRET_LEN + 2)
    for close in range(pos + 1, limit):
        ch = text[close]
        if ch in closers:
            break
        if ch == "\n":
            return None
    else:
        return None
    start, end = pos + 1, close
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


# Answers to security questions are names and words: "maiden name Fitzgerald".
_NAMED_ANSWERS: Final = frozenset({"security_answer", "memorable_word"})


def _bare_value(
    text: str, pos: int, linked: bool, not_values: frozenset[str], kind: str = ""
) -> tuple[int, int] | None:
    m = _TOKEN.match(text, pos)
    if m is None:
        return None
    start, end = m.span()
    while start < end and text[start] in _LEADING_JUNK:
        start += 1
    while end > start and text[end - 1] in _TRAILING_JUNK:
        end -= 1
    value = text[start:end]
    if not any(ch.isalnum() for ch in value):
        return None
    head = _WORD_HEAD.match(value)
    if value.casefold() in not_values or (
        head is not None and head.group().casefold() in not_values
    ):
        return None
    named = kind in _NAMED_ANSWERS and value[:1].isupper() and len(value) > 1
    if not linked and not named and _LOOKS_SECRET.search(value) is None:
        return None
    return start, end


# ---------------------------------------------------------------------------
# Compiling a cue file

_GROUP_KEYS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        PAYMENT_CARD: frozenset({"_doc", "cues", "not_after"}),
        BANK_ACCOUNT: frozenset({"_doc", "cues", "not_after"}),
        NATIONAL_ID: frozenset({"_doc", "cues", "not_after"}),
        CREDENTIAL: frozenset({"_doc", "cues", "not_after", "followups", "not_values"}),
        "links": frozenset({"_doc", "phrases"}),
    }
)
_TOP_KEYS: Final = frozenset({"_doc", "language", *_GROUP_KEYS})
_SPACE_IN_PHRASE: Final = r"(?:[^\S\n]+|[^\S\n]*-[^\S\n]*)"
_NEVER: Final = r"(?!)"


def _fold(text: str) -> str:
    """Lower-case ``text`` without changing its length, so offsets into it stay valid."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    # A few characters lower-case to two ('İ'); those stay as they are.
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


_KEY_DROP: Final = re.compile(r"['\u2019.]")
_KEY_SPACE: Final = re.compile(r"[\s\-]+")


def _cue_key(matched: str) -> str:
    """Return the spelling-independent key of a cue ("Acct-No." and "acct no" share one)."""
    return _KEY_SPACE.sub(" ", _KEY_DROP.sub("", _fold(matched))).strip()


def _phrase_pattern(phrase: str) -> str:
    """Turn a cue phrase into a lower-case regex.

    Spaces also match hyphens, apostrophes and dots are optional, and a phrase ending in
    a letter or dot must end a word.
    """
    parts: list[str] = []
    for ch in _fold(" ".join(phrase.split())):
        if ch == " ":
            parts.append(_SPACE_IN_PHRASE)
        elif ch in "'\u2019":
            parts.append("['\u2019]?")
        elif ch == ".":
            parts.append(r"\.?")
        else:
            parts.append(re.escape(ch))
    if _WORD_CHAR.match(phrase[-1]) or phrase.endswith("."):
        parts.append(r"(?!\w)")
    return "".join(parts)


def _alternation(patterns: Iterable[str]) -> str:
    ordered = sorted(set(patterns), key=len, reverse=True)
    return "|".join(ordered) if ordered else _NEVER


def _group(data: Mapping[str, object], key: str, source: str) -> Mapping[str, object]:
    """Return the documented group ``key`` of a cue file, or an empty one if it is absent."""
    group = data.get(key)
    where = f"{source}:{key}"
    if group is None:
        return {}
    if not isinstance(group, dict):
        raise CueFileError(f"ID003 {where}: must be a JSON object")
    doc = group.get("_doc")
    if not isinstance(doc, str) or not doc.strip():
        raise CueFileError(
            f"ID002 {where}: missing '_doc'; add a short string saying what the group recognises"
        )
    unknown = set(group) - _GROUP_KEYS[key]
    if unknown:
        allowed = ", ".join(sorted(_GROUP_KEYS[key]))
        raise CueFileError(f"ID003 {where}: unknown keys {sorted(unknown)}; allowed: {allowed}")
    return group


def _phrases(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(p, str) and p.strip() for p in value):
        raise CueFileError(f"ID005 {where}: must be a list of non-empty strings")
    return [p.strip() for p in value]


def _compile_cues(data: Mapping[str, object], source: str) -> IdentifierCues:
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise CueFileError(
            f"ID003 {source}: unknown top-level keys {sorted(unknown)}; "
            f"allowed: {', '.join(sorted(_TOP_KEYS))}"
        )
    language = data.get("language")
    if not isinstance(language, str) or not language:
        raise CueFileError(f"ID003 {source}: 'language' must be a language code such as \"en\"")
    links_group = _group(data, "links", source)
    link_phrases = _phrases(links_group.get("phrases", []), f"{source}:links.phrases")
    links = _alternation(_phrase_pattern(p) for p in link_phrases)

    owner: dict[str, str] = {}  # cue key -> target, to catch a phrase under two kinds
    patterns: set[str] = set()
    not_values: set[str] = set()
    not_after: dict[str, frozenset[str]] = {}
    for category in sorted(_CATEGORIES):
        # A language may lack words for a category: its group is then empty.
        where = f"{source}:{category}"
        group = _group(data, category, source)
        kinds = group.get("cues", {})
        if not isinstance(kinds, dict):
            raise CueFileError(f"ID003 {where}.cues: must map kind names to phrase lists")
        for kind, phrases in kinds.items():
            if _KIND_CATEGORY.get(kind) != category:
                known = sorted(k for k, c in _KIND_CATEGORY.items() if c == category)
                raise CueFileError(
                    f"ID004 {where}.cues: unknown kind {kind!r}; use one of {known} "
                    "(a new kind needs a value shape in nlp/identifiers.py)"
                )
            for phrase in _phrases(phrases, f"{where}.cues.{kind}"):
                _claim(owner, phrase, kind, where)
                patterns.add(_phrase_pattern(phrase))
        for phrase in _phrases(group.get("followups", []), f"{where}.followups"):
            _claim(owner, phrase, _FOLLOWUP, where)
            patterns.add(_phrase_pattern(phrase))
        words = _phrases(group.get("not_values", []), f"{where}.not_values")
        not_values.update(w.casefold() for w in words)
        blockers = _phrases(group.get("not_after", []), f"{where}.not_after")
        if blockers:
            not_after[category] = frozenset(w.casefold() for w in blockers)

    # Longest first, so that "bank account number" wins over "bank account". No capture
    # groups: a plain alternation of literals lets the engine skip non-starting characters.
    cue_re = re.compile(_alternation(patterns))
    hspace = r"[^\S\n]{0,3}"
    gap = (
        rf"{hspace}(?:(?P<sep>[:=])|[#.\-\u2013\u2014])?{hspace}"
        rf"(?:(?P<link>{links})(?!\w){hspace}(?P<sep2>[:=])?{hspace})?"
    )
    # Up to four words that are not links, then a link: "PIN for her debit card is".
    qualifier = rf"(?:[^\S\n]{{1,3}}(?!(?:{links})(?!\w))[^\W\d_][\w'\u2019]{{0,24}}){{1,4}}"
    qualified = rf"{qualifier}[^\S\n]{{1,3}}(?:{links})(?!\w){hspace}(?:[:=]{hspace})?"
    return IdentifierCues(
        language=language,
        cue_re=cue_re,
        targets=MappingProxyType(owner),
        gap_re=re.compile(gap, re.IGNORECASE),
        qualified_gap_re=re.compile(qualified, re.IGNORECASE),
        not_values=frozenset(not_values),
        not_after=MappingProxyType(not_after),
    )


def _claim(owner: dict[str, str], phrase: str, target: str, where: str) -> None:
    key = _cue_key(phrase)
    if owner.setdefault(key, target) != target:
        raise CueFileError(
            f"ID006 {where}: cue {phrase!r} is listed for both {owner[key]!r} and "
            f"{target!r}; keep it under one kind"
        )
