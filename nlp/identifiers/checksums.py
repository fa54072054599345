"""The small validators that prove an identifier: each takes the value as written (spaces,
dashes and the separators of the matching view are ignored) and says whether a real issuer
could have issued it. ``CHECKS`` maps the names used in ``schemes.json`` to them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

_SEPARATORS: Final = re.compile(r"[\s\-\u2010-\u2015./]")


def compact(s: str) -> str:
    """``s`` without separators."""
    return _SEPARATORS.sub("", s)


def _ascii_digits(s: str) -> bool:
    return s.isascii() and s.isdigit()


def luhn(digits: str) -> bool:
    """Luhn mod-10 over ASCII digits (no separators)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_valid(digits: str) -> bool:
    """Return True if ``digits`` passes the Luhn mod-10 check; separators are ignored."""
    digits = compact(digits)
    return _ascii_digits(digits) and luhn(digits)


# ISO 13616 IBAN length per country, from the SWIFT IBAN registry.
IBAN_LENGTHS: Final[Mapping[str, int]] = MappingProxyType(
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

    Separators are ignored; letters may be in either case.
    """
    iban = compact(s).upper()
    if not iban.isascii() or _IBAN_COMPACT.fullmatch(iban) is None:
        return False
    if IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def ssn_valid(s: str) -> bool:
    """Return True if ``s`` is a US Social Security number that can have been issued.

    Area 000, 666 and 900-999, group 00 and serial 0000 are never issued.
    """
    digits = compact(s)
    if len(digits) != 9 or not _ascii_digits(digits):
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def itin_valid(s: str) -> bool:
    """Return True if ``s`` is a US Individual Taxpayer Identification Number: 9XX-GG-SSSS
    with group 50-65, 70-88, 90-92 or 94-99 (IRS)."""
    digits = compact(s)
    if len(digits) != 9 or not _ascii_digits(digits) or digits[0] != "9":
        return False
    group = int(digits[3:5])
    return 50 <= group <= 65 or 70 <= group <= 88 or 90 <= group <= 92 or 94 <= group <= 99


_NINO_BAD_FIRST: Final = frozenset("DFIQUV")
_NINO_BAD_SECOND: Final = frozenset("DFIOQUV")
_NINO_UNALLOCATED: Final = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
# HMRC's specimen prefix breaks the letter rules, but callers read it out from forms and
# test data: masking a specimen costs nothing, missing a real number leaks it.
_NINO_SPECIMEN: Final = frozenset({"QQ"})
_NINO_COMPACT: Final = re.compile(r"[A-Z]{2}[0-9]{6}[A-D]?")


def nino_prefix_ok(value: str) -> bool:
    """The two-letter prefix of a UK National Insurance number follows HMRC's rules."""
    prefix = value[:2].upper()
    if prefix in _NINO_SPECIMEN:
        return True
    return (
        len(prefix) == 2
        and prefix[0] not in _NINO_BAD_FIRST
        and prefix[1] not in _NINO_BAD_SECOND
        and prefix not in _NINO_UNALLOCATED
    )


def nino_valid(s: str) -> bool:
    """Return True if ``s`` is a UK National Insurance number: 2 letters, 6 digits, A-D.

    Separators are ignored; the prefix must follow HMRC's allocation rules.
    """
    nino = compact(s).upper()
    return _NINO_COMPACT.fullmatch(nino) is not None and len(nino) == 9 and nino_prefix_ok(nino)


def nino_cued_valid(s: str) -> bool:
    """A National Insurance number read after its cue, where the suffix letter may be left out."""
    nino = compact(s).upper()
    return _NINO_COMPACT.fullmatch(nino) is not None and nino_prefix_ok(nino)


def nhs_valid(s: str) -> bool:
    """Return True if ``s`` is a 10 digit NHS number with a valid modulus-11 check digit."""
    digits = compact(s)
    if len(digits) != 10 or not _ascii_digits(digits):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def sin_valid(s: str) -> bool:
    """Return True if ``s`` is a 9 digit, Luhn-valid Canadian Social Insurance Number."""
    digits = compact(s)
    return len(digits) == 9 and digits != "000000000" and luhn_valid(digits)


def alnum_id_valid(s: str) -> bool:
    """A document number with no public check (passport, licence, health card): 6 to 20
    letters and digits, at least one a digit."""
    value = compact(s)
    return 6 <= len(value) <= 20 and value.isalnum() and any(c.isdigit() for c in value)


CHECKS: Final[Mapping[str, Callable[[str], bool]]] = MappingProxyType(
    {
        "luhn": luhn_valid,
        "iban": iban_valid,
        "ssn": ssn_valid,
        "itin": itin_valid,
        "nino": nino_cued_valid,
        "nino_full": nino_valid,
        "nhs": nhs_valid,
        "sin": sin_valid,
        "alnum_id": alnum_id_valid,
    }
)
