"""Secrets and identifiers that must be masked: a registry of schemes (``schemes.json``:
shapes, issuer ranges, checks), the validators that prove them (``checksums``), the
matching view they are read from (``view``) and the scanner with its cue words (``scan``).
"""

from .checksums import (
    iban_valid,
    itin_valid,
    luhn_valid,
    nhs_valid,
    nino_valid,
    sin_valid,
    ssn_valid,
)
from .scan import (
    CueFileError,
    IdentifierCues,
    IdentifierMatch,
    find_identifiers,
    load_cues,
    registry,
)
from .view import MatchView, make_view

__all__ = [
    "CueFileError",
    "IdentifierCues",
    "IdentifierMatch",
    "MatchView",
    "find_identifiers",
    "iban_valid",
    "itin_valid",
    "load_cues",
    "luhn_valid",
    "make_view",
    "nhs_valid",
    "nino_valid",
    "registry",
    "sin_valid",
    "ssn_valid",
]
