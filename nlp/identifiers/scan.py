"""Find secrets and identifiers in free text so they can be masked before storage.

Number shapes, issuer ranges and checksums are language-neutral data in ``schemes.json``
beside this file, read against the matching view of the text (``view.py``: every Unicode
digit as ASCII, every run of separators as one space), so a shape is written once for
every way of writing it. The words that announce a secret ("PIN is", "sort code") live in
``nlp/lang/<lang>/identifiers.json`` and are compiled once by ``load_cues``.

Every pattern is linear: separators are one character in the view, quantifiers are
bounded, and no pattern can match the same text in two ways that a failure would retry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Final, NamedTuple

from .checksums import CHECKS, IBAN_LENGTHS, iban_valid, luhn
from .view import MatchView, make_view

PAYMENT_CARD: Final = "payment_card"
BANK_ACCOUNT: Final = "bank_account"
NATIONAL_ID: Final = "national_id"
CREDENTIAL: Final = "credential"
SCHEMES_PATH: Final = Path(__file__).with_name("schemes.json")

# Tie-break between overlapping spans of equal length: numbers proven by a checksum beat
# digit runs found by a cue, which beat free-form secrets.
_RANK_CHECKED: Final = 0
_RANK_CUED: Final = 1
_RANK_SECRET: Final = 2

_MAX_SECRET_LEN: Final = 64
# A free-form secret read to the end of its clause ("passphrase is purple monkey
# dishwasher") is cut here at the latest, and masked that far: in doubt, mask.
_MAX_CLAUSE_SECRET: Final = 120
# How far back (in characters, same sentence) "the new one is ..." looks for its cue.
_FOLLOWUP_REACH: Final = 200
_FOLLOWUP: Final = "_followup"
# A follow-up phrase that is itself the link: "changed PIN from 1111 to 9047".
_FOLLOWUP_LINKED: Final = "_followup_linked"
# How far from a card number a card's expiry date may stand.
_EXPIRY_REACH: Final = 120


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
# The scheme registry (schemes.json)


@dataclass(frozen=True, slots=True)
class Scheme:
    """One identifier scheme: its category, an anywhere ``shape`` and a cued ``value`` (both
    regexes on the matching view), the check that proves it, and whether it is free-form
    (a password: read from the text, not the view)."""

    kind: str
    category: str
    country: str
    shape: re.Pattern[str] | None
    value: re.Pattern[str] | None
    check: Callable[[str], bool] | None
    free_form: bool
    near_card: bool


# In the view a value ends where no digit or letter follows, nor a digit after one space
# (a longer number it is only the start of).
_VIEW_END: Final = r"(?![0-9A-Za-z])(?! [0-9])"
_VIEW_START: Final = r"(?<![0-9A-Za-z])(?<![0-9] )"
# A value that a longer number may follow ("exp 7/28 / 697": the code comes next).
_OPEN_END: Final = r"(?![0-9A-Za-z])"


@dataclass(frozen=True, slots=True)
class Registry:
    networks: tuple[tuple[str, str, str, frozenset[int]], ...]
    schemes: Mapping[str, Scheme]
    tokens: re.Pattern[str]
    card_min: int
    card_max: int


@cache
def registry(path: Path = SCHEMES_PATH) -> Registry:
    """The schemes of ``schemes.json``, compiled once."""
    data = json.loads(path.read_text(encoding="utf-8"))
    networks = tuple(
        (str(n), str(lo), str(hi), frozenset(int(x) for x in lengths))
        for n, lo, hi, lengths in data["payment_cards"]["networks"]
    )
    schemes: dict[str, Scheme] = {}
    for kind, spec in data["schemes"].items():
        shape, value = spec.get("shape"), spec.get("value")
        check = spec.get("check")
        schemes[kind] = Scheme(
            kind=kind,
            category=str(spec["category"]),
            country=str(spec.get("country", "any")),
            shape=re.compile(_VIEW_START + shape + _VIEW_END) if shape else None,
            value=re.compile(value + (_OPEN_END if spec.get("open_end") else _VIEW_END))
            if value
            else None,
            check=CHECKS[check] if check else None,
            free_form=bool(spec.get("free_form")),
            near_card=bool(spec.get("near_card")),
        )
    tokens = re.compile("|".join(f"(?:{p})" for p in data["tokens"]["patterns"]))
    lengths = [n for *_, ls in networks for n in ls]
    return Registry(networks, MappingProxyType(schemes), tokens, min(lengths), max(lengths))


def kind_category() -> Mapping[str, str]:
    """The category of each cue kind: a cue file may use only these kinds."""
    return {k: s.category for k, s in registry().schemes.items()}


# ---------------------------------------------------------------------------
# Numbers that prove themselves (no cue needed)


def _card_kind(digits: str, reg: Registry) -> str | None:
    for kind, low, high, lengths in reg.networks:
        if len(digits) in lengths and low <= digits[: len(low)] <= high:
            return kind
    return None


# Digit groups in the view, joined by one separator. Letters may touch a group ("cc4242...",
# "...4444exp"): a card proves itself by its issuer range and Luhn. A run right after '+'
# is a phone number.
_DIGIT_RUN: Final = re.compile(r"(?<![0-9+])[0-9]+(?: [0-9]+)*")
_DIGIT_GROUP: Final = re.compile(r"[0-9]+")
# Groups read out with a few words between them: "4111 1111 then 1111 1111".
_PIECE_GAP: Final = re.compile(r"[^0-9£$€¥%]{1,80}(?=[0-9])")
_PIECE_GAP_WORDS: Final = 12
# A full stop and a capital: the pieces of one number are read within one sentence (an
# ellipsis or a line break between them is fine: "4839 ... 1496", chat lines).
_SENTENCE_BREAK: Final = re.compile(r"(?<!\.)[.!?](?!\.)\s+[A-Z]")
_WORD_CHAR: Final = re.compile(r"\w")


def _card_candidates(view: MatchView, reg: Registry) -> Iterator[tuple[int, int, str]]:
    """Cards in the view as (view start, view end, network)."""
    vt = view.text
    for run in _DIGIT_RUN.finditer(vt):
        groups = [(g.start(), g.group()) for g in _DIGIT_GROUP.finditer(vt, *run.span())]
        yield from _cards_in_run(groups, reg)
    # Groups with words between them: only whole sequences that make a card.
    pos = 0
    while (m := _DIGIT_RUN.search(vt, pos)) is not None:
        groups = [(g.start(), g.group()) for g in _DIGIT_GROUP.finditer(vt, *m.span())]
        end = m.end()
        chained = False
        while sum(len(g) for _, g in groups) < reg.card_max and (
            (gap := _PIECE_GAP.match(vt, end)) is not None
            and gap.group().count(" ") <= _PIECE_GAP_WORDS
            and _SENTENCE_BREAK.search(view.original, *view.span(end - 1, gap.end() + 1)) is None
        ):
            nxt = _DIGIT_RUN.match(vt, gap.end())
            # Clock times ("[11:30] ... [11:35]") are no pieces of a card: short groups are
            # not chained across a colon.
            short = len(groups[-1][1]) < 3 or len(nxt.group().split(" ")[0]) < 3 if nxt else True
            if nxt is None or (short and ":" in gap.group()):
                break
            groups += [(g.start(), g.group()) for g in _DIGIT_GROUP.finditer(vt, *nxt.span())]
            end = nxt.end()
            chained = True
        if chained:
            yield from _cards_in_run(groups, reg)
        pos = max(end, m.end())


def _cards_in_run(groups: list[tuple[int, str]], reg: Registry) -> Iterator[tuple[int, int, str]]:
    """Yield cards made of whole digit groups, longest first from each group onward.

    Trying sub-runs finds a card that shares its run with a CVV, an amount or an order
    number ("order 88421 4242 4242 4242 4242"); a group counts at most ``card_max`` digits
    ahead, so the work per group is bounded.
    """
    i = 0
    while i < len(groups):
        total = 0
        ends: list[int] = []
        for j in range(i, len(groups)):
            total += len(groups[j][1])
            if total > reg.card_max:
                break
            if total >= reg.card_min:
                ends.append(j)
        for j in reversed(ends):
            digits = "".join(group for _, group in groups[i : j + 1])
            kind = _card_kind(digits, reg)
            if kind is not None and luhn(digits):
                yield groups[i][0], groups[j][0] + len(groups[j][1]), kind
                i = j + 1
                break
        else:
            i += 1


# Country code and check digits (one separator may follow the country code); the rest is
# cut to the country's length, since a greedy shape would run on into following words.
_IBAN_START: Final = re.compile(r"(?<![0-9A-Za-z])([A-Za-z]{2}) ?[0-9]{2}")
_IBAN_BODIES: Final[Mapping[int, re.Pattern[str]]] = MappingProxyType(
    {
        n: re.compile(rf"(?: ?[0-9A-Za-z]){{{n - 4}}}(?![0-9A-Za-z])")
        for n in set(IBAN_LENGTHS.values())
    }
)


_STRICT_IBAN: Final = re.compile(r"[A-Z]{2}[0-9]{2}(?: ?[0-9A-Z]{4})")


def _iban_shapes(view: MatchView) -> Iterator[tuple[int, int, bool]]:
    """IBAN-shaped tokens in the view as (start, end, checksum valid)."""
    vt = view.text
    for m in _IBAN_START.finditer(vt):
        length = IBAN_LENGTHS.get(m.group(1).upper())
        if length is None:
            continue
        body = _IBAN_BODIES[length].match(vt, m.end())
        if body is None:
            continue
        if not vt[m.end() : body.end()].replace(" ", "")[:1].isalnum():
            continue
        yield m.start(), body.end(), iban_valid(vt[m.start() : body.end()])


_CARD_TAIL: Final = re.compile(
    r"[ |()\[\]:;]{1,4}((?:0?[1-9]|1[0-2]) (?:20)?[0-9]{2}|[0-9]{3,4})(?![0-9A-Za-z])"
)


def _card_tail(view: MatchView, pos: int) -> Iterator[_Candidate]:
    """The expiry and security code read straight after a card or its expiry:
    "4111...|09/27|163", "exp 7/28 / 697"."""
    for _ in range(3):
        tail = _CARD_TAIL.match(view.text, pos)
        if tail is None:
            return
        s, e = view.span(*tail.span(1))
        yield _Candidate(s, e, PAYMENT_CARD, "card_detail", _RANK_CUED)
        pos = tail.end()


def _number_candidates(text: str, view: MatchView, reg: Registry) -> list[_Candidate]:
    out: list[_Candidate] = []
    ibans = list(_iban_shapes(view))
    for start, end, valid in ibans:
        if valid:
            s, e = view.span(start, end)
            out.append(_Candidate(s, e, BANK_ACCOUNT, "iban", _RANK_CHECKED))
    # An IBAN written as one ("AL47212110090000000235698741", "DE89 3704 ...") is judged as
    # an IBAN first, even with a bad checksum: its inner digits are no card. A looser
    # shape ("is 4821, card 4111 ...": Iceland's code) does not hide a card.
    strict = [(a, b) for a, b, _ in ibans if _STRICT_IBAN.match(view.text, a)]
    for start, end, kind in _card_candidates(view, reg):
        if any(a < end and start < b for a, b in strict):
            continue
        s, e = view.span(start, end)
        out.append(_Candidate(s, e, PAYMENT_CARD, kind, _RANK_CHECKED))
        out.extend(_card_tail(view, end))
    for scheme in reg.schemes.values():
        if scheme.shape is None:
            continue
        for m in scheme.shape.finditer(view.text):
            if scheme.check is None or scheme.check(m.group()):
                s, e = view.span(*m.span())
                out.append(_Candidate(s, e, scheme.category, scheme.kind, _RANK_CHECKED))
    for m in reg.tokens.finditer(text):
        out.append(_Candidate(m.start(), m.end(), CREDENTIAL, "api_key", _RANK_CHECKED))
    return out


# ---------------------------------------------------------------------------
# Values announced by a cue

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
        "(": ")",
        "[": "]",
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
    # The same with a parenthetical between cue and value: "health card (Quebec) LEBJ ...".
    paren_gap_re: re.Pattern[str]
    qualified_gap_re: re.Pattern[str]
    not_values: frozenset[str]
    not_after: Mapping[str, frozenset[str]]
    # A free-form secret after a link, to the end of its clause (on folded text).
    clause_re: re.Pattern[str]
    # Digits read out as words: "pin is four eight two one" (on folded text).
    number_words_re: re.Pattern[str]
    # "uses <value> as her password": searched in the few words before a cue.
    before_re: re.Pattern[str]
    # A month and year written out: "expiry Sept 2027" (on folded text).
    month_re: re.Pattern[str]
    # Per category, the words near which its context cues count.
    context_re: Mapping[str, re.Pattern[str]]
    # "724019 is your Google verification code": a code before its cue.
    code_before_re: re.Pattern[str]
    # Twelve or more digits read out as words (on folded text).
    long_number_words_re: re.Pattern[str]

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], source: str = "<mapping>") -> IdentifierCues:
        """Compile cues from the parsed content of an ``identifiers.json`` file.

        Raises CueFileError (codes TL012-TL016) when the data does not follow the format.
        """
        return _compile_cues(data, source)


def load_cues(path: Path) -> IdentifierCues:
    """Read and compile a language's ``identifiers.json``.

    Raises CueFileError: TL011 when the file cannot be read or parsed, TL012-TL016 when
    its content does not follow the format described in its own ``_doc``.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CueFileError(
            f"TL011 {path}: cannot read cue file ({exc}); check the path and that it is UTF-8 JSON"
        ) from exc
    if not isinstance(data, dict):
        raise CueFileError(f"TL011 {path}: the top level must be a JSON object")
    return IdentifierCues.from_mapping(data, source=str(path))


def find_identifiers(text: str, cues: IdentifierCues) -> list[IdentifierMatch]:
    """Return the spans of ``text`` that must be masked, sorted and never overlapping.

    Where detections overlap, the longer one wins; between equal lengths a checksum-proven
    number beats a cued digit run, which beats a free-form secret.
    """
    reg = registry()
    view = make_view(text)
    candidates = [
        c
        for c in _number_candidates(text, view, reg)
        if c.category != NATIONAL_ID or not _after_reference(text, c.start, cues)
    ]
    folded = _fold(text)
    matches = list(_cue_matches(text, folded, cues))
    cued = list(_cued_candidates(text, folded, matches, view, cues, reg))
    cued.extend(_secrets_near_cues(text, matches, cued, cues))
    for c in cued:
        if c.kind in ("card_expiry", "card_security_code"):
            candidates.extend(_card_tail(view, view.to_view[c.end]))
    candidates.extend(cued)
    # A long number read out in words ("five one zero six ...") is a card or an account
    # being given: in doubt, mask it.
    for m in cues.long_number_words_re.finditer(folded):
        candidates.append(_Candidate(m.start(), m.end(), PAYMENT_CARD, "spoken", _RANK_CUED))
    return _resolve(_expiries_near_cards(candidates, reg))


_REFERENCE_FILLERS: Final = frozenset({"no", "no.", "#", "number", "num", "nr", "code", "id", ":"})


def _after_reference(text: str, start: int, cues: IdentifierCues) -> bool:
    """A number shaped like an identifier that follows "part no.", "SKU", "order #" is a
    reference, not a person's identifier."""
    blockers = cues.not_after.get(NATIONAL_ID)
    if not blockers:
        return False
    words = text[max(0, start - 40) : start].split()
    while words and words[-1].casefold() in _REFERENCE_FILLERS:
        words.pop()
    return bool(words) and words[-1].strip(".,:;#()[]'\"").casefold() in blockers


# A token that looks like a password: letters and digits mixed in one word, or with a
# symbol ("Lily&Max2015", "NewStart#2026", "NXC3R2P81"), not a prefixed reference
# ("TCK-88213", "ORD-558213"), a dose or ordinal ("50mg", "2nd"), an address or a time.
_SECRET_LOOKING: Final = re.compile(
    r"(?<![\w@/.:\-#&])(?=[^\s]{0,40}[0-9])(?=[^\s]{0,40}[A-Za-z])"
    r"[A-Za-z0-9][A-Za-z0-9!#$%&*+=?^_~.\-]{4,38}[A-Za-z0-9!#$%&*?]"
    r"(?![\w@/\-])"
)
_REFERENCE_SHAPE: Final = re.compile(
    r"[A-Z]{1,6}[\-_/]?[0-9][0-9\-]*|[0-9]+(?:[a-z]{1,3}|[A-Z]{1,3})|[0-9]{1,2}[:.][0-9]{2}[ap]?m?"
    r"|[0-9]+(?:[.,][0-9]+)*|[A-Za-z]+[.][A-Za-z.]+"
)


def _like_password(token: str) -> bool:
    """Mixed case with a digit ("Biscuit12"), or a symbol joining letters and digits
    ("Lily&Max2015"); not a measure, a price or a hyphenated phrase ("3-month-old",
    "pay-in-3", "CPI+3.9%", "£49.99")."""
    if any(c in token for c in "£$€%") or "-" in token or "." in token:
        return False
    has_upper = any(c.isupper() for c in token)
    has_lower = any(c.islower() for c in token)
    has_symbol = any(c in "!#&*?@^~=+_" for c in token)
    return (has_upper and has_lower) or (has_symbol and (has_upper or has_lower))


# Kinds whose cue makes a nearby secret-looking token its value: in doubt, mask.
_NEAR_KINDS: Final = frozenset({"password", "passcode", "security_answer", "memorable_word"})
_NEAR_REACH: Final = 150
_PASSPORT_DIGITS: Final = re.compile(r"(?<![\w\-])[0-9]{8,10}(?![\w\-])")


def _secrets_near_cues(
    text: str, matches: list[tuple[int, int, str]], cued: list[_Candidate], cues: IdentifierCues
) -> Iterator[_Candidate]:
    """Secret-looking tokens near a password or passport cue whose value was not read
    ("no just tell me if this is right: Lily&Max2015 ... don't share passwords")."""
    spans = [
        (start, end, target)
        for start, end, target in matches
        if _bare_kind(target) in _NEAR_KINDS
        or _bare_kind(target) in ("passport", _FOLLOWUP, _FOLLOWUP_LINKED)
    ]
    for start, end, target in spans:
        kind = _bare_kind(target)
        if kind in (_FOLLOWUP, _FOLLOWUP_LINKED):  # "the new one (NewStart#2026)"
            kind = "password"
        lo, hi = max(0, start - _NEAR_REACH), min(len(text), end + _NEAR_REACH)
        if kind == "passport":  # "my passport (number 559283014)": digits after the cue
            for m in _PASSPORT_DIGITS.finditer(text, end, min(len(text), end + 60)):
                if not _after_reference(text, m.start(), cues):
                    yield _Candidate(m.start(), m.end(), NATIONAL_ID, kind, _RANK_SECRET)
        for m in _SECRET_LOOKING.finditer(text, lo, hi):
            token = m.group()
            if _REFERENCE_SHAPE.fullmatch(token) or "@" in token:
                continue
            # A password mixes cases or carries a symbol; an upper-case code is a reference
            # (a tracking or order number) unless a passport cue announced it.
            plain_code = token.upper() == token and token.replace("-", "").isalnum()
            if (kind != "passport" and plain_code) or _after_reference(text, m.start(), cues):
                continue
            if kind != "passport" and not _like_password(token):
                continue
            if any(c.start < m.end() and m.start() < c.end for c in cued) or any(
                a < m.end() and m.start() < b for a, b, _ in spans
            ):
                continue
            category = NATIONAL_ID if kind == "passport" else CREDENTIAL
            yield _Candidate(m.start(), m.end(), category, kind, _RANK_SECRET)


def _expiries_near_cards(candidates: list[_Candidate], reg: Registry) -> list[_Candidate]:
    """An expiry date is a secret only beside a card number ("exp 09/27" of a policy is not)."""
    cards = [c for c in candidates if c.category == PAYMENT_CARD and c.rank == _RANK_CHECKED]
    out = []
    for c in candidates:
        scheme = reg.schemes.get(c.kind)
        if (
            scheme is not None
            and scheme.near_card
            and not any(
                c.start - _EXPIRY_REACH <= k.end and k.start <= c.end + _EXPIRY_REACH for k in cards
            )
        ):
            continue
        out.append(c)
    return out


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
    """Yield ``(start, end, target)`` for each cue in ``text[pos:endpos]`` that starts a
    word (a cue may touch the digits of its value: "PIN1234", "cvv123")."""
    endpos = len(text) if endpos is None else endpos
    while (m := cues.cue_re.search(folded, pos, endpos)) is not None:
        start, end = m.span()
        # Checked here rather than with a lookbehind in the pattern, which would stop the
        # regex engine from skipping ahead to a cue's first letter.
        if start and text[start - 1].isalpha() and text[start].isalnum():
            pos = start + 1
            continue
        pos = end
        yield start, end, cues.targets[_cue_key(m.group())]


_WEAK: Final = "_weak:"
_BARE_CODE: Final = re.compile(r"[^\S\n]{1,2}([0-9]{4,8})(?![\w\-])")
# A cue that counts only with a word of its group's 'context' near it: "account 45280254"
# beside a sort code or a routing number, not a shop's "account 45280254".
_CONTEXT: Final = "_context:"
_CONTEXT_REACH: Final = 160


def _cued_candidates(
    text: str,
    folded: str,
    matches: list[tuple[int, int, str]],
    view: MatchView,
    cues: IdentifierCues,
    reg: Registry,
) -> Iterator[_Candidate]:
    last_secret: tuple[str, int] | None = None  # latest credential cue: (kind, end)
    for start, end, target in matches:
        need_link = False
        if target in (_FOLLOWUP, _FOLLOWUP_LINKED):
            if last_secret is None or not _same_sentence(text, last_secret[1], start):
                continue
            kind, need_link = last_secret[0], target == _FOLLOWUP
            # A bare "to" moves a number on ("PIN from 1111 to 9047"), not a password
            # ("gave me her password 'Bluebell!88' to 'help'").
            if not need_link and reg.schemes[kind].free_form and " " not in text[start:end]:
                continue
            if not need_link:
                span = _read_value(text, folded, view, _skip_space(text, end), kind, True, cues)
                if span is not None:
                    category = reg.schemes[kind].category
                    yield _Candidate(span[0], span[1], category, kind, _RANK_SECRET)
                continue
        else:
            if target.startswith(_WEAK):
                target, need_link = target[len(_WEAK) :], True
                digits = _BARE_CODE.match(text, end)
                if digits is not None and target == "one_time_code":  # "txt me a code 448193"
                    if not _after_blocker(text, start, cues.not_after.get(CREDENTIAL)):
                        yield _Candidate(*digits.span(1), CREDENTIAL, target, _RANK_CUED)
                    continue
            elif target.startswith(_CONTEXT):
                target = target[len(_CONTEXT) :]
                near = cues.context_re.get(reg.schemes[target].category)
                lo, hi = max(0, start - _CONTEXT_REACH), end + _CONTEXT_REACH
                if near is None or near.search(folded, lo, hi) is None:
                    continue
            kind = target
            category = reg.schemes[kind].category
            if category == CREDENTIAL:
                last_secret = (kind, end)
            if _after_blocker(text, start, cues.not_after.get(category)):
                continue
            before = _value_before(text, start, cues)
            if before is not None and category == CREDENTIAL:
                yield _Candidate(*before, category, kind, _RANK_SECRET)
            code = cues.code_before_re.search(text, max(0, start - 80), start)
            if code is not None and kind == "one_time_code":
                yield _Candidate(*code.span("value"), category, kind, _RANK_CUED)
        span = _value_after(text, folded, view, end, kind, cues, need_link=need_link)
        if span is not None:
            category = reg.schemes[kind].category
            rank = _RANK_SECRET if category == CREDENTIAL else _RANK_CUED
            yield _Candidate(span[0], span[1], category, kind, rank)


def _bare_kind(target: str) -> str:
    return target.split(":", 1)[1] if target.startswith(("_weak:", "_context:")) else target


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


def _value_before(text: str, start: int, cues: IdentifierCues) -> tuple[int, int] | None:
    """The secret named before its cue: "uses Fluffy2019 as her password"."""
    window = max(0, start - 100)
    m = cues.before_re.search(text, window, start)
    return m.span("value") if m is not None else None


def _same_sentence(text: str, start: int, end: int) -> bool:
    return end - start <= _FOLLOWUP_REACH and _SENTENCE_END.search(text, start, end) is None


def _after_blocker(text: str, start: int, blockers: frozenset[str] | None) -> bool:
    """Return True if the word right before ``start`` voids the cue ("customer account no")."""
    if not blockers:
        return False
    m = _PREVIOUS_WORD.search(text, max(0, start - 40), start)
    return m is not None and m.group(1).casefold() in blockers


def _value_after(
    text: str,
    folded: str,
    view: MatchView,
    pos: int,
    kind: str,
    cues: IdentifierCues,
    *,
    need_link: bool,
) -> tuple[int, int] | None:
    """Return the span of the value announced by a cue that ends at ``pos``, if any.

    The value follows the cue, or a short qualifier and a link ("PIN for her card is").
    Nothing at all between cue and value means the cue's own closing quote follows
    ("her 'security answer' was wrong"), not a value. A qualifier holding another cue
    leaves the value to that cue ("password and my PIN is 4821").
    """
    for gap_re in (cues.gap_re, cues.paren_gap_re):
        gap = gap_re.match(text, pos)
        if gap is not None and (
            gap.end() > pos or _digit_at(view, pos) or text[pos - 1 : pos] in ("#", ":", "=")
        ):
            linked = gap.group("sep", "link", "sep2") != (None, None, None)
            if linked or not need_link:
                span = _read_value(text, folded, view, gap.end(), kind, linked, cues)
                if span is not None:
                    return span
    qualified = cues.qualified_gap_re.match(text, pos)
    if qualified is None or any(
        _bare_kind(target) != kind
        for _, _, target in _cue_matches(text, folded, cues, pos, qualified.end())
    ):
        return None
    return _read_value(text, folded, view, qualified.end(), kind, True, cues)


def _digit_at(view: MatchView, pos: int) -> bool:
    vp = view.to_view[pos]
    return vp < len(view.text) and view.text[vp].isdigit()


def _read_value(
    text: str,
    folded: str,
    view: MatchView,
    pos: int,
    kind: str,
    linked: bool,
    cues: IdentifierCues,
) -> tuple[int, int] | None:
    if pos >= len(text):
        return None
    scheme = registry().schemes[kind]
    if scheme.value is not None:
        vp = view.to_view[pos]
        vt = view.text
        if vp < len(vt) and (vt[vp] in _QUOTES or vt[vp] in "(#"):
            vp += 1
        if vp < len(vt) and vt[vp] == " ":
            vp += 1
        m = scheme.value.match(vt, vp)
        if m is not None and (scheme.check is None or scheme.check(m.group())):
            return view.span(*m.span())
        if kind == "card_expiry" and (month := cues.month_re.match(folded, pos)) is not None:
            return month.span()
        words = cues.number_words_re.match(folded, pos)
        if words is not None and scheme.category != NATIONAL_ID:
            return words.span()
        return None
    closers = _QUOTE_CLOSERS.get(text[pos])
    if closers is not None:
        return _quoted_value(text, pos, closers)
    if linked:
        return _clause_value(text, folded, pos, cues)
    return _bare_value(text, pos, linked, cues.not_values, kind)


def _clause_value(text: str, folded: str, pos: int, cues: IdentifierCues) -> tuple[int, int] | None:
    """A secret read out after a link runs to the end of its clause, every word of it:
    "passphrase is correct horse battery staple, she'll reset it"."""
    m = cues.clause_re.match(folded, pos)
    if m is None:
        return None
    start, end = m.span()
    while start < end and text[start] in _LEADING_JUNK:
        start += 1
    for cue_start, _, _ in _cue_matches(text, folded, cues, start + 1, end):
        end = cue_start  # the next secret's cue starts a clause of its own
        break
    while end > start and text[end - 1].isspace():
        end -= 1
    value = text[start:end]
    if not any(ch.isalnum() for ch in value) or _AMOUNT.fullmatch(value):
        return None
    words = value.split()
    head = _WORD_HEAD.match(words[0])
    if value.casefold() in cues.not_values:
        return None
    # "password is not working", "answer was wrong and ..." describe the secret; a long
    # passphrase ("correct horse battery staple") or a name ("The Goonies") is one.
    starts_plainly = head is not None and head.group().casefold() in cues.not_values
    a_name = len(words) > 1 and all(w[:1].isupper() for w in words)
    if starts_plainly and len(words) <= 3 and not a_name:
        return None
    return start, end


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
# A price, a measure or a count is no secret: "annual pass is £49.99", "pass: 250g".
_AMOUNT: Final = re.compile(r"[£$€¥]?[0-9][0-9.,]*(?:[a-zA-Z%]{1,3})?[?!.]*")
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
    if any(ch.isdigit() for ch in value):  # "backup code 3391 0284 7731"
        for _ in range(4):
            nxt = _CODE_GROUP.match(text, end)
            if nxt is None:
                break
            end = nxt.end()
    if named:  # "first school Hillcrest Juniors", "favourite teacher Mrs Adeyemi"
        for _ in range(3):
            nxt = _NAME_WORD.match(text, end)
            if nxt is None:
                break
            end = nxt.end()
    return start, end


_CODE_GROUP: Final = re.compile(
    r"[^\S\n]{1,2}(?=[A-Za-z\-]{0,6}[0-9])[0-9A-Za-z\-]{3,12}(?![\w\-])"
)
_NAME_WORD: Final = re.compile(r"[^\S\n]{1,2}[A-Z][\w'\u2019\-]{0,24}(?!\w)")


# ---------------------------------------------------------------------------
# Compiling a cue file

_GROUP_KEYS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        PAYMENT_CARD: frozenset(
            {"_doc", "cues", "weak_cues", "context_cues", "context", "not_after"}
        ),
        BANK_ACCOUNT: frozenset(
            {"_doc", "cues", "weak_cues", "context_cues", "context", "not_after"}
        ),
        NATIONAL_ID: frozenset(
            {"_doc", "cues", "weak_cues", "context_cues", "context", "not_after"}
        ),
        CREDENTIAL: frozenset(
            {
                "_doc",
                "cues",
                "weak_cues",
                "not_after",
                "followups",
                "linked_followups",
                "not_values",
            }
        ),
        "links": frozenset({"_doc", "phrases"}),
        "grammar": frozenset(
            {
                "_doc",
                "number_words",
                "clause_breaks",
                "value_before_verbs",
                "value_before_links",
                "value_before_code_links",
                "month_names",
            }
        ),
    }
)
_TOP_KEYS: Final = frozenset({"_doc", "language", *_GROUP_KEYS})
_SPACE_IN_PHRASE: Final = r"(?:[^\S\n]+|[^\S\n]*[-_][^\S\n]*)"
_NEVER: Final = r"(?!)"


def _fold(text: str) -> str:
    """Lower-case ``text`` without changing its length, so offsets into it stay valid."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    # A few characters lower-case to two ('İ'); those stay as they are.
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


_KEY_DROP: Final = re.compile(r"['\u2019.]")
_KEY_SPACE: Final = re.compile(r"[\s\-_]+")


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
        parts.append(r"(?![^\W\d_])")  # a digit may follow: "PIN1234", "cvv123"
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
        raise CueFileError(f"TL013 {where}: must be a JSON object")
    doc = group.get("_doc")
    if not isinstance(doc, str) or not doc.strip():
        raise CueFileError(
            f"TL012 {where}: missing '_doc'; add a short string saying what the group recognises"
        )
    unknown = set(group) - _GROUP_KEYS[key]
    if unknown:
        allowed = ", ".join(sorted(_GROUP_KEYS[key]))
        raise CueFileError(f"TL013 {where}: unknown keys {sorted(unknown)}; allowed: {allowed}")
    return group


def _phrases(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(p, str) and p.strip() for p in value):
        raise CueFileError(f"TL015 {where}: must be a list of non-empty strings")
    return [p.strip() for p in value]


def _compile_cues(data: Mapping[str, object], source: str) -> IdentifierCues:
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise CueFileError(
            f"TL013 {source}: unknown top-level keys {sorted(unknown)}; "
            f"allowed: {', '.join(sorted(_TOP_KEYS))}"
        )
    language = data.get("language")
    if not isinstance(language, str) or not language:
        raise CueFileError(f"TL013 {source}: 'language' must be a language code such as \"en\"")
    links_group = _group(data, "links", source)
    link_phrases = _phrases(links_group.get("phrases", []), f"{source}:links.phrases")
    links = _alternation(_phrase_pattern(p) for p in link_phrases)

    owner: dict[str, str] = {}  # cue key -> target, to catch a phrase under two kinds
    patterns: set[str] = set()
    not_values: set[str] = set()
    not_after: dict[str, frozenset[str]] = {}
    context: dict[str, re.Pattern[str]] = {}
    categories = kind_category()
    for category in sorted(set(categories.values())):
        # A language may lack words for a category: its group is then empty.
        where = f"{source}:{category}"
        group = _group(data, category, source)
        for key, prefix in (("cues", ""), ("weak_cues", _WEAK), ("context_cues", _CONTEXT)):
            kinds = group.get(key, {})
            if not isinstance(kinds, dict):
                raise CueFileError(f"TL013 {where}.{key}: must map kind names to phrase lists")
            for kind, phrases in kinds.items():
                if categories.get(kind) != category:
                    known = sorted(k for k, c in categories.items() if c == category)
                    raise CueFileError(
                        f"TL014 {where}.{key}: unknown kind {kind!r}; use one of {known} "
                        "(a new kind needs a scheme in nlp/identifiers/schemes.json)"
                    )
                for phrase in _phrases(phrases, f"{where}.{key}.{kind}"):
                    _claim(owner, phrase, prefix + kind, where)
                    patterns.add(_phrase_pattern(phrase))
        for key, target in (("followups", _FOLLOWUP), ("linked_followups", _FOLLOWUP_LINKED)):
            for phrase in _phrases(group.get(key, []), f"{where}.{key}"):
                _claim(owner, phrase, target, where)
                patterns.add(_phrase_pattern(phrase))
        words = _phrases(group.get("not_values", []), f"{where}.not_values")
        not_values.update(w.casefold() for w in words)
        blockers = _phrases(group.get("not_after", []), f"{where}.not_after")
        if blockers:
            not_after[category] = frozenset(w.casefold() for w in blockers)
        near = _phrases(group.get("context", []), f"{where}.context")
        if near:
            context[category] = re.compile(
                rf"(?<![^\W\d_])(?:{_alternation(_phrase_pattern(w) for w in near)})"
            )

    # Longest first, so that "bank account number" wins over "bank account". No capture
    # groups: a plain alternation of literals lets the engine skip non-starting characters.
    cue_re = re.compile(_alternation(patterns))
    hspace = r"[^\S\n]{0,3}"
    gap_tail = (
        rf"(?:(?P<sep>[:=])|[#.,\-\u2013\u2014])?{hspace}"
        rf"(?:(?P<link>{links})(?!\w){hspace}(?P<sep2>[:=])?{hspace})?"
    )
    gap = rf"['\"\u2019\u201d)\]]?{hspace}{gap_tail}"
    paren_gap = rf"['\"\u2019\u201d)\]]?{hspace}\([^()\n]{{1,40}}\){hspace}{gap_tail}"
    # Up to four words that are not links, then a link: "PIN for her debit card is".
    qualifier = rf"(?:[^\S\n]{{1,3}}(?!(?:{links})(?!\w))[\w(][\w'\u2019()]{{0,24}}){{1,5}}"
    plain_words = rf"(?:[^\S\n]{{1,3}}(?!(?:{links})(?!\w))[^\W\d_][\w'\u2019]{{0,24}}){{1,4}}"
    qualified = (
        rf"{qualifier}(?:[^\S\n]{{1,3}}(?:{links})(?!\w){hspace}(?:[:=]{hspace})?"
        rf"|{hspace}[:=]{hspace})|{plain_words}[^\S\n]{{1,3}}(?=[0-9])"
    )
    grammar = _group(data, "grammar", source)
    where = f"{source}:grammar"

    def grammar_words(key: str) -> str:
        """An alternation of the phrases of one grammar list."""
        return _alternation(_phrase_pattern(w) for w in _phrases(grammar.get(key, []), where))

    digits = grammar_words("number_words")
    number_words = rf"(?:{digits})(?:[ \-,]{{1,2}}(?:{digits})){{2,11}}(?![^\W\d_])"
    breaks = grammar_words("clause_breaks")
    # Lazy, bounded, and each step tries only the fixed stops: linear in the text.
    clause = (
        rf"[^\n]{{1,{_MAX_CLAUSE_SECRET}}}?"
        rf"(?=[,;:.!?]?\s*$|[.;!?,](?=\s)|[,;]|\n|[^\S\n]+[-\u2013\u2014][^\S\n]|[^\S\n]+(?:{breaks})(?!\w)|\)|$)"
    )
    verbs = grammar_words("value_before_verbs")
    as_links = grammar_words("value_before_links")
    before = (
        rf"(?<!\w)(?:{verbs})[^\S\n]+['\"\u2018\u201c]?(?P<value>[^\s'\"\u2019\u201d]{{1,{_MAX_SECRET_LEN}}})"
        rf"['\"\u2019\u201d]?[^\S\n]+(?:{as_links})[^\S\n]*$"
    )
    months = grammar_words("month_names")
    code_links = grammar_words("value_before_code_links")
    return IdentifierCues(
        language=language,
        cue_re=cue_re,
        targets=MappingProxyType(owner),
        gap_re=re.compile(gap, re.IGNORECASE),
        paren_gap_re=re.compile(paren_gap, re.IGNORECASE),
        qualified_gap_re=re.compile(qualified, re.IGNORECASE),
        not_values=frozenset(not_values),
        not_after=MappingProxyType(not_after),
        clause_re=re.compile(clause),
        number_words_re=re.compile(number_words),
        before_re=re.compile(before, re.IGNORECASE),
        context_re=MappingProxyType(context),
        month_re=re.compile(
            rf"(?:{months})\.?[^\S\n]{{0,2}}[/\-]?[^\S\n]{{0,2}}(?:20)?[0-9]{{2}}(?![0-9])"
        ),
        code_before_re=re.compile(
            r"(?<![\w-])(?P<value>[0-9A-Za-z](?:[0-9A-Za-z\- ]{1,10}[0-9A-Za-z])?)(?<=[0-9])"
            rf"[^\S\n]+(?:{code_links})(?:[^\S\n]+[\w'\-]+){{0,3}}[^\S\n]*$",
            re.IGNORECASE,
        ),
        long_number_words_re=re.compile(
            rf"(?<![^\W\d_])(?:{digits})(?:[ \-,]{{1,2}}(?:{digits})){{11,24}}(?![^\W\d_])"
        ),
    )


def _claim(owner: dict[str, str], phrase: str, target: str, where: str) -> None:
    key = _cue_key(phrase)
    if owner.setdefault(key, target) != target:
        raise CueFileError(
            f"TL016 {where}: cue {phrase!r} is listed for both {owner[key]!r} and "
            f"{target!r}; keep it under one kind"
        )
