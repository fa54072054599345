"""Consent ledgers and what they add up to (issue 15, "one consent truth").

One table for every view: tests/test_consent_state.py checks the domain against it, and
the view tests (sidebar, customer page, API, CLI) check that each renders the
same state. A case is a purpose-wide record and a record per channel, in the order they
were recorded; each record is (channel or None, status), with status "expired" for a
grant whose effective_to has passed.

To add a view, add a reader to the view test's READERS; to add a combination, add a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import product

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PURPOSE = "marketing"  # the per-channel purpose of the shipped policy

Record = tuple[str | None, str]  # (channel or None for purpose-wide, status)


@dataclass(frozen=True)
class Case:
    records: tuple[Record, ...]
    status: str
    summary: str

    @property
    def id(self) -> str:
        if not self.records:
            return "empty"
        return "+".join(f"{channel or 'purpose'}:{status}" for channel, status in self.records)


# Hand-checked expectations: the rows the issue names first.
NAMED = [
    Case((), "never_asked", "Never asked"),
    Case(((None, "granted"),), "granted", "Granted"),
    Case((("email", "granted"),), "partial", "Granted for e-mail only"),
    Case(
        (("email", "granted"), ("sms", "granted")),
        "partial",
        "Granted for e-mail and text messages only",
    ),
    Case(((None, "granted"), ("email", "withdrawn")), "partial", "Granted except e-mail"),
    Case(((None, "withdrawn"), ("email", "granted")), "partial", "Granted for e-mail only"),
    Case((("email", "granted"), (None, "withdrawn")), "withdrawn", "Withdrawn"),
    Case(
        (("email", "granted"), ("sms", "withdrawn")),
        "partial",
        "Granted for e-mail only; text messages withdrawn",
    ),
    Case((("email", "withdrawn"),), "withdrawn", "Withdrawn for e-mail"),
    Case((("email", "denied"),), "denied", "Refused for e-mail"),
    Case(((None, "denied"),), "denied", "Refused"),
    Case(((None, "expired"),), "expired", "Expired on 1 Feb 2026"),
    Case((("email", "expired"),), "expired", "Expired on 1 Feb 2026"),
    Case(((None, "expired"), ("email", "granted")), "partial", "Granted for e-mail only"),
    Case(((None, "granted"), ("email", "expired")), "granted", "Granted"),
    Case(
        ((None, "expired"), ("email", "withdrawn")),
        "expired",
        "Expired on 1 Feb 2026; e-mail withdrawn",
    ),
    Case(((None, "granted"), ("email", "granted")), "granted", "Granted"),
]

_WIDE = ("granted", "withdrawn", "denied", "expired")
_EMAIL = ("granted", "withdrawn", "denied", "expired")


def _every_combination() -> list[tuple[Record, ...]]:
    """No record, one of each kind, and both kinds in either order."""
    out: list[tuple[Record, ...]] = [()]
    out += [((None, s),) for s in _WIDE]
    out += [(("email", s),) for s in _EMAIL]
    for wide, email in product(_WIDE, _EMAIL):
        out.append(((None, wide), ("email", email)))
        out.append((("email", email), (None, wide)))
    return out


COMBINATIONS = _every_combination()


EXPIRED_AT = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)  # before NOW and before today


def timed(records: tuple[Record, ...]) -> list[tuple[str | None, str, datetime, datetime | None]]:
    """Each record as (channel, ledger status, recorded at, effective to): recorded a day
    apart in the given order, all in January 2026; "expired" grants end on EXPIRED_AT."""
    out = []
    for index, (channel, status) in enumerate(records):
        at = datetime(2026, 1, 20, 9, 0, tzinfo=UTC) + timedelta(days=index)
        expired = status == "expired"
        out.append((channel, "granted" if expired else status, at, EXPIRED_AT if expired else None))
    return out
