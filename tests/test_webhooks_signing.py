"""Signing and verification (issue 5): the Standard Webhooks test vector, rotation with two
signatures, inbound verification cases, Chatwoot's HMAC. Pure: no server, no database."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from assistant.webhooks.signing import (
    VerificationError,
    chatwoot_signature,
    new_message_id,
    new_secret,
    outbound_headers,
    signature_header,
    verify_chatwoot,
    verify_standard,
)

# The Standard Webhooks specification's published test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_the_published_test_vector_reproduces() -> None:
    stamp = datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC)
    assert signature_header(VECTOR_ID, stamp, VECTOR_BODY, [VECTOR_SECRET]) == VECTOR_SIGNATURE


def test_the_test_vector_verifies_through_our_inbound_check() -> None:
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    now = datetime.fromtimestamp(VECTOR_TIMESTAMP + 10, UTC)
    msg_id = verify_standard(VECTOR_BODY.encode(), headers, [VECTOR_SECRET], now=now, tolerance=300)
    assert msg_id == VECTOR_ID


def test_new_secrets_are_whsec_with_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != new_secret()
    Webhook(secret)  # the reference package accepts it


def test_message_ids_are_unique_and_dot_free() -> None:
    ids = {new_message_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("msg_") and "." not in i for i in ids)


def test_outbound_headers_verify_with_the_reference_package() -> None:
    secret = new_secret()
    body = '{"type":"consent.changed","timestamp":"t","data":{"customer_id":"c-1"}}'
    headers = outbound_headers("msg_1", body, [secret], datetime.now(UTC))
    assert set(headers) == {"Content-Type", "webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(secret).verify(body, headers)["data"]["customer_id"] == "c-1"


def test_during_a_rotation_both_signatures_are_sent_and_each_verifies() -> None:
    new, old = new_secret(), new_secret()
    body = '{"type":"x","timestamp":"t","data":{}}'
    headers = outbound_headers("msg_2", body, [new, old], datetime.now(UTC))
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def signed(
    secret: str, body: bytes, *, at: datetime = NOW, msg_id: str = "msg_in_1"
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(msg_id, at, body.decode(), [secret]),
    }


BODY = b'{"type":"note.created","data":{}}'


def test_a_valid_inbound_request_passes_with_any_of_the_source_secrets() -> None:
    current, previous = new_secret(), new_secret()
    headers = signed(previous, BODY)
    assert verify_standard(BODY, headers, [current, previous], now=NOW, tolerance=300) == "msg_in_1"


def test_several_signatures_in_the_header_one_matching_is_enough() -> None:
    secret = new_secret()
    headers = signed(secret, BODY)
    headers["webhook-signature"] = (
        "garbage v1a,abc v1,AAAA " + signature_header("msg_x", NOW, "{}", [secret]) + " "
    ) + headers["webhook-signature"]
    assert verify_standard(BODY, headers, [secret], now=NOW, tolerance=300) == "msg_in_1"


@pytest.mark.parametrize(
    ("case", "change"),
    [
        (
            "forged",
            lambda h, b: (
                dict(
                    h,
                    **{
                        "webhook-signature": signature_header(
                            "msg_in_1", NOW, b.decode(), [new_secret()]
                        )
                    },
                ),
                b,
            ),
        ),
        ("tampered body", lambda h, b: (h, b.replace(b"note", b"nope"))),
        ("other id", lambda h, b: (dict(h, **{"webhook-id": "msg_other"}), b)),
        (
            "timestamp moved",
            lambda h, b: (dict(h, **{"webhook-timestamp": str(int(NOW.timestamp()) + 1)}), b),
        ),
        (
            "no signature",
            lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
        ),
        ("no id", lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b)),
        ("junk signature", lambda h, b: (dict(h, **{"webhook-signature": "v1,!!!"}), b)),
        ("bad timestamp", lambda h, b: (dict(h, **{"webhook-timestamp": "soon"}), b)),
    ],
)
def test_forged_or_altered_requests_are_refused(case: str, change: object) -> None:
    secret = new_secret()
    headers, body = change(signed(secret, BODY), BODY)  # type: ignore[operator]
    with pytest.raises(VerificationError):
        verify_standard(body, headers, [secret], now=NOW, tolerance=300)


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_or_future_requests_are_refused_even_when_signed(offset: timedelta) -> None:
    secret = new_secret()
    headers = signed(secret, BODY, at=NOW + offset)
    with pytest.raises(VerificationError, match="tolerance"):
        verify_standard(BODY, headers, [secret], now=NOW, tolerance=300)


def test_the_tolerance_is_configurable_below_five_minutes() -> None:
    secret = new_secret()
    headers = signed(secret, BODY, at=NOW - timedelta(seconds=90))
    verify_standard(BODY, headers, [secret], now=NOW, tolerance=120)
    with pytest.raises(VerificationError):
        verify_standard(BODY, headers, [secret], now=NOW, tolerance=60)


def test_chatwoot_signature_is_sha256_hex_hmac_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body, stamp = b'{"event":"message_created"}', "1700000000"
    expected = hmac.new(b"cw-secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert chatwoot_signature("cw-secret", stamp, body) == f"sha256={expected}"


def test_chatwoot_verification() -> None:
    body = b'{"event":"contact_updated"}'
    stamp = str(int(NOW.timestamp()))
    good = chatwoot_signature("cw-secret", stamp, body)
    verify_chatwoot(body, good, stamp, ["old", "cw-secret"], now=NOW, tolerance=300)
    for signature, timestamp, payload in [
        (chatwoot_signature("wrong", stamp, body), stamp, body),
        (good, stamp, body + b" "),
        (good, str(int(NOW.timestamp()) - 1), body),
        (None, stamp, body),
        (good, None, body),
        ("sha256=zz", stamp, body),
    ]:
        with pytest.raises(VerificationError):
            verify_chatwoot(payload, signature, timestamp, ["cw-secret"], now=NOW, tolerance=300)
    old = str(int((NOW - timedelta(minutes=10)).timestamp()))
    with pytest.raises(VerificationError):
        verify_chatwoot(
            body,
            chatwoot_signature("cw-secret", old, body),
            old,
            ["cw-secret"],
            now=NOW,
            tolerance=300,
        )
