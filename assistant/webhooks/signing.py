"""Signing and verification: Standard Webhooks through the reference package, and
Chatwoot's own HMAC scheme. Pure functions: the time is an argument."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets as random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

MAX_MESSAGE_ID = 255
_V1 = re.compile(r"v1,(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


class VerificationError(Exception):
    """An inbound request that is not authentic or not fresh (answered with 401)."""


def new_secret() -> str:
    """A fresh Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(random.token_bytes(32)).decode("ascii")


def new_message_id() -> str:
    """A unique `webhook-id` (no dots: the signed content is dot-delimited)."""
    return "msg_" + random.token_hex(16)


def signature_header(msg_id: str, timestamp: datetime, body: str, secrets: Sequence[str]) -> str:
    """`webhook-signature`: one `v1,<base64>` per secret, space-separated (rotation)."""
    return " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in secrets)


def outbound_headers(
    msg_id: str, body: str, secrets: Sequence[str], now: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed at `now`."""
    stamp = now.astimezone(UTC).replace(microsecond=0)
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature_header(msg_id, stamp, body, secrets),
    }


def _fresh(raw: str | None, now: datetime, tolerance: int) -> int:
    value = (raw or "").strip()
    # ASCII digits only (isdigit() also takes superscripts, which int() refuses), and
    # short enough to be a time (int() of thousands of digits is slow).
    if not (value.isascii() and value.isdigit() and len(value) <= 20):
        raise VerificationError("missing or invalid timestamp")
    stamp = int(value)
    if abs(now.timestamp() - stamp) > tolerance:
        raise VerificationError("timestamp outside the tolerance")
    return stamp


def verify_standard(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance: int,
) -> str:
    """Check a Standard Webhooks request; returns its `webhook-id`.

    Any of the source's secrets may match any `v1` signature of the header. Raises
    VerificationError for a missing header, a stale timestamp or no matching signature.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    if not msg_id or len(msg_id) > MAX_MESSAGE_ID:
        raise VerificationError("missing or invalid webhook-id")
    stamp = datetime.fromtimestamp(_fresh(lowered.get("webhook-timestamp"), now, tolerance), UTC)
    given = [
        base64.b64decode(s[3:])
        for s in lowered.get("webhook-signature", "").split()
        if _V1.fullmatch(s)
    ]
    if not given:
        raise VerificationError("no v1 signature")
    try:
        content = body.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError("the body is not UTF-8") from None
    # The reference package signs; the comparison is constant-time. (Its own verify()
    # reads the clock itself and stops at the first malformed header entry.)
    for secret in secrets:
        expected = base64.b64decode(Webhook(secret).sign(msg_id, stamp, content)[3:])
        if any(hmac.compare_digest(expected, sig) for sig in given):
            return msg_id
    raise VerificationError("no matching signature")


def chatwoot_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Chatwoot's `X-Chatwoot-Signature`: `sha256=` and the hex HMAC of "{timestamp}.{body}"."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_chatwoot(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance: int,
) -> None:
    """Check a Chatwoot request (raises VerificationError)."""
    _fresh(timestamp, now, tolerance)
    stamp = (timestamp or "").strip()
    given = (signature or "").strip().encode("ascii", errors="replace")
    for secret in secrets:
        if hmac.compare_digest(chatwoot_signature(secret, stamp, body).encode("ascii"), given):
            return
    raise VerificationError("no matching signature")
