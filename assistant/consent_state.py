"""The effective consent state per purpose and channel: the one truth every view renders.

The ledger (`consent.ConsentState`) holds records; this module says what they add up to,
for a purpose as a whole and for each channel, at one moment. The sidebar, the API, the
CLI and the customer's own page all render `effective(...)`, so none of them can say
"Marketing: never asked" beside "e-mail: granted". Pure: no Flask, no SQL, no clock.

How records combine (the same rules `consent.may_use_channel` enforces):

* A purpose-wide record (`channel` None) covers every channel; a channel record covers
  its channel. For a channel the latest record in force of either kind wins (ties: the
  refusal, then the channel record), so a purpose-wide grant with a later e-mail
  withdrawal is "granted except e-mail", and a channel grant after a purpose-wide
  withdrawal is "granted for e-mail only".
* A record is in force in [effective_from, effective_to); a grant whose effective_to has
  passed, with nothing in force after it, is "expired", not "never asked".
* A withdrawal of "all" purposes ends every consent, but is no objection to a purpose
  under legitimate interest or contract (those need an objection naming the purpose).

Purpose statuses (`PurposeState.status`, stable, see `PURPOSE_STATUSES`): `granted`
(purpose-wide, no channel excepted), `partial` (some channels only), `withdrawn`,
`denied`, `expired`, `never_asked`; for purposes that need no consent: `not_needed`,
`objected`. Channel statuses (`CHANNEL_STATUSES`): `granted`, `withdrawn`, `denied`,
`expired`, `never_asked`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from .consent import ALL_PURPOSES, CHANNELS, ConsentRecord, ConsentState
from .policy import Policy, Purpose

PURPOSE_STATUSES: Final = (
    "granted",
    "partial",
    "withdrawn",
    "denied",
    "expired",
    "never_asked",
    "not_needed",
    "objected",
)
CHANNEL_STATUSES: Final = ("granted", "withdrawn", "denied", "expired", "never_asked")
# How a channel is named in a sentence ("granted for e-mail only").
CHANNEL_NAMES: Final = {
    "email": "e-mail",
    "phone": "phone calls",
    "sms": "text messages",
    "post": "post",
    "chat": "chat",
    "whatsapp": "WhatsApp",
    "app": "app notifications",
}
_REFUSED: Final = ("withdrawn", "denied")


@dataclass(frozen=True, slots=True)
class ChannelState:
    """What the ledger says about one channel of a purpose."""

    channel: str
    status: str
    record_id: int | None  # the record in force, if any
    from_purpose: bool  # True: a purpose-wide record decides it, no record of this channel
    expires_at: datetime | None

    @property
    def granted(self) -> bool:
        return self.status == "granted"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "consent_id": self.record_id,
            "from_purpose": self.from_purpose,
            "expires_at": _iso(self.expires_at),
        }


@dataclass(frozen=True, slots=True)
class PurposeState:
    """What the ledger adds up to for one purpose: overall, purpose-wide and per channel.

    `channels` lists the channels the ledger names for this purpose (in `CHANNELS`
    order); `channel(name)` answers for any channel.
    """

    purpose: str
    needs_consent: bool
    per_channel: bool
    status: str
    purpose_wide: ChannelState  # the purpose-wide record in force (channel "")
    channels: tuple[ChannelState, ...]
    _ledger: tuple[ConsentRecord, ...] = field(repr=False)  # the records about the purpose
    _at: datetime = field(repr=False)

    @property
    def granted_channels(self) -> tuple[str, ...]:
        return tuple(c.channel for c in self.channels if c.granted)

    @property
    def refused_channels(self) -> tuple[str, ...]:
        return tuple(c.channel for c in self.channels if c.status in _REFUSED)

    @property
    def expires_at(self) -> datetime | None:
        """When the purpose-wide grant in force ends, if it has an end."""
        return self.purpose_wide.expires_at if self.purpose_wide.granted else None

    @property
    def askable_channels(self) -> tuple[str, ...]:
        """Channels the customer has not granted yet (to ask one at a time)."""
        return tuple(c for c in CHANNELS if not self.channel(c).granted)

    def channel(self, name: str) -> ChannelState:
        """The state of `name` for this purpose, named in the ledger or not."""
        for found in self.channels:
            if found.channel == name:
                return found
        return _channel_state(self._ledger, self.purpose, name, self._at)

    def covers(self, channel: str | None) -> bool:
        """True when a grant in force covers `channel` (None: the purpose as a whole)."""
        if channel is None:
            return self.purpose_wide.granted
        return self.channel(channel).granted

    @property
    def summary(self) -> str:
        """The state in a few plain words: "Granted for e-mail only"."""
        return self.summary_in(_untranslated)

    def summary_in(self, translate: Callable[[str], str]) -> str:
        """`summary` with every phrase and channel name passed through `translate` (a
        gettext function: the phrases are its message ids, with `%(name)s` values), so
        a view in another language says the same state in its own words."""
        t = translate

        def names(channels: Iterable[str]) -> str:
            return _names(channels, t)

        refused = names(self.refused_channels)
        if self.status == "not_needed":
            if refused:
                return t("No consent needed; objected to %(channels)s") % {"channels": refused}
            return t("No consent needed")
        if self.status == "objected":
            return t("Objected")
        if self.status == "granted":
            until = self.expires_at
            return t("Granted until %(date)s") % {"date": _date(until)} if until else t("Granted")
        refusal = t(_refusal(self.channels))
        if self.status == "partial":
            if self.purpose_wide.granted:
                return t("Granted except %(channels)s") % {"channels": refused}
            text = t("Granted for %(channels)s only") % {"channels": names(self.granted_channels)}
            if refused:
                return t("%(state)s; %(channels)s %(refusal)s") % {
                    "state": text,
                    "channels": refused,
                    "refusal": refusal,
                }
            return text
        if self.status == "expired":
            ended = _last_end(self._ledger, self._at)
            text = t("Expired on %(date)s") % {"date": _date(ended)} if ended else t("Expired")
            if refused:
                return t("%(state)s; %(channels)s %(refusal)s") % {
                    "state": text,
                    "channels": refused,
                    "refusal": refusal,
                }
            return text
        if self.status in _REFUSED:
            whole = self.purpose_wide.status in _REFUSED
            if self.status == "withdrawn":
                if whole:
                    return t("Withdrawn")
                return t("Withdrawn for %(channels)s") % {"channels": refused}
            if whole:
                return t("Refused")
            return t("Refused for %(channels)s") % {"channels": refused}
        return t("Never asked")

    def to_dict(self) -> dict[str, Any]:
        """The API's shape (`PurposeConsent` in the OpenAPI document)."""
        return {
            "status": self.status,
            "summary": self.summary,
            "needs_consent": self.needs_consent,
            "per_channel": self.per_channel,
            "consent_id": self.purpose_wide.record_id,
            "purpose_wide": self.purpose_wide.status,
            "expires_at": _iso(self.expires_at),
            "granted_channels": list(self.granted_channels),
            "channels": {c.channel: c.status for c in self.channels},
            "channel_records": {c.channel: c.to_dict() for c in self.channels},
        }


def effective(state: ConsentState, policy: Policy, at: datetime) -> dict[str, PurposeState]:
    """The state of every purpose of `policy` at `at`, in the policy's order."""
    return {name: purpose_state(state, purpose, at) for name, purpose in policy.purposes.items()}


def purpose_state(state: ConsentState, purpose: Purpose, at: datetime) -> PurposeState:
    """The state of one purpose at `at`. Raises ValueError when `at` has no time zone."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be a timezone-aware datetime, e.g. datetime.now(UTC)")
    name, needs = purpose.name, purpose.needs_consent
    ledger = tuple(r for r in state.records if _about(r, name, needs))
    named = [c for c in CHANNELS if any(r.channel == c for r in ledger)]
    named += sorted({str(r.channel) for r in ledger if r.channel and r.channel not in CHANNELS})
    wide = _channel_state(ledger, name, None, at)
    channels = tuple(_channel_state(ledger, name, c, at) for c in named)
    return PurposeState(
        purpose=name,
        needs_consent=needs,
        per_channel=purpose.enforcement == "consent_required_per_channel",
        status=_status(needs, wide, channels),
        purpose_wide=wide,
        channels=channels,
        _ledger=ledger,
        _at=at,
    )


def _about(record: ConsentRecord, purpose: str, needs_consent: bool) -> bool:
    if record.purpose == purpose:
        return True
    # "all" withdraws consents; an objection must name its purpose.
    return record.purpose == ALL_PURPOSES and record.status != "granted" and needs_consent


def _channel_state(
    ledger: tuple[ConsentRecord, ...], purpose: str, channel: str | None, at: datetime
) -> ChannelState:
    """`channel` (None: the purpose as a whole) in a ledger already narrowed to records
    about the purpose (`_about`)."""
    current = ConsentState(ledger).current(purpose, channel, at)
    label = channel or ""
    if current is not None:
        return ChannelState(
            label, current.status, current.id, current.channel is None, current.effective_to
        )
    covering = [r for r in ledger if r.covers(purpose, channel) and r.effective_from <= at]
    last = max(covering, key=lambda r: (r.recorded_at, -1 if r.id is None else r.id), default=None)
    if last is not None and last.status == "granted":
        return ChannelState(label, "expired", None, last.channel is None, last.effective_to)
    return ChannelState(label, "never_asked", None, False, None)


def _status(needs: bool, wide: ChannelState, channels: tuple[ChannelState, ...]) -> str:
    refused = [c for c in channels if c.status in _REFUSED]
    if not needs:
        return "objected" if wide.status in _REFUSED else "not_needed"
    if wide.granted:
        return "partial" if refused else "granted"
    if any(c.granted for c in channels):
        return "partial"
    if wide.status != "never_asked":
        return wide.status
    if refused:
        return _latest_refusal(refused)
    if any(c.status == "expired" for c in channels):
        return "expired"
    return "never_asked"


def _latest_refusal(refused: list[ChannelState]) -> str:
    return "denied" if all(c.status == "denied" for c in refused) else "withdrawn"


def _refusal(channels: Iterable[ChannelState]) -> str:
    refused = [c for c in channels if c.status in _REFUSED]
    return "refused" if refused and all(c.status == "denied" for c in refused) else "withdrawn"


def _last_end(ledger: Iterable[ConsentRecord], at: datetime) -> datetime | None:
    ended = [
        r.effective_to
        for r in ledger
        if r.status == "granted" and r.effective_to is not None and r.effective_to <= at
    ]
    return max(ended, default=None)


def _untranslated(message: str) -> str:
    return message


def _names(channels: Iterable[str], t: Callable[[str], str] = _untranslated) -> str:
    words = [t(CHANNEL_NAMES.get(c, c.replace("_", " "))) for c in channels]
    if len(words) <= 1:
        return "".join(words)
    return t("%(first)s and %(last)s") % {"first": ", ".join(words[:-1]), "last": words[-1]}


def _date(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%-d %b %Y") if value else ""


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None
