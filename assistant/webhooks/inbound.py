"""POST /webhooks/in/<source>: inbound webhooks from CRMs, verified, deduplicated, recorded.

Order of checks: known source (404), size (413), signature and timestamp (401), JSON
(400), message shape (422), duplicate (200), references (422, 409); only then is the
message recorded (every string in it redacted: the raw body never reaches a file) and
answered 202. The work happens after the answer is sent (and,
should that fail, in the worker). Neither bodies nor secrets are ever logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from ..db import get_db
from ..engine import get_extractor, get_policy
from ..redaction import redact_values
from ..web.inputs import InvalidJson, parse_json
from ..web.problems import problem
from . import inbox
from .actions import Ignore, InvalidMessage
from .config import CHATWOOT, INBOUND_CONFIG_KEY, InboundConfig
from .errors import WebhookError
from .signing import VerificationError, verify_chatwoot, verify_standard

log = logging.getLogger(__name__)
bp = Blueprint("webhooks_in", __name__, url_prefix="/webhooks/in")
CONFIG_KEY = INBOUND_CONFIG_KEY
MAX_TIMESTAMP_DIGITS = 20  # Unix seconds need 10 digits until the year 2286


def _problem(status: int, code: str, detail: str) -> Response:
    resp = problem(status, code, detail)
    resp.headers.pop("WWW-Authenticate", None)  # not an API-key endpoint
    return resp


@bp.errorhandler(WebhookError)
def webhook_error(exc: WebhookError) -> Response:
    return _problem(exc.status, exc.code, exc.message)


def _body(limit: int) -> bytes:
    if (request.content_length or 0) > limit:
        raise WebhookError(413, "payload_too_large", f"the body is larger than {limit} bytes")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise WebhookError(413, "payload_too_large", f"the body is larger than {limit} bytes")
    return data


def _check_timestamp(raw: str | None) -> None:
    """ASCII digits of a Unix time, or VerificationError. The signing module checks
    `isdigit()`, which also passes superscripts and 5,000-digit numbers that int() then
    refuses with ValueError (a 500): those stop here."""
    value = (raw or "").strip()
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_TIMESTAMP_DIGITS):
        raise VerificationError("missing or invalid timestamp")


def _verify(source: str, body: bytes, config: InboundConfig) -> str:
    """The message's dedup key, once the request proved authentic and fresh."""
    now = datetime.now(UTC)
    _check_timestamp(
        request.headers.get("X-Chatwoot-Timestamp" if source == CHATWOOT else "webhook-timestamp")
    )
    if source == CHATWOOT:
        stamp = request.headers.get("X-Chatwoot-Timestamp")
        verify_chatwoot(
            body,
            request.headers.get("X-Chatwoot-Signature"),
            stamp,
            config.chatwoot_secrets,
            now=now,
            tolerance=config.tolerance_seconds,
        )
        # X-Chatwoot-Delivery is not signed: a resend with a new one would pass for a new
        # message. The key is what the signature covers, the timestamp and the body; a
        # new timestamp needs a new signature, and an old one fails the tolerance.
        return "sha256:" + hashlib.sha256(f"{stamp}.".encode() + body).hexdigest()
    return verify_standard(
        body,
        dict(request.headers),
        config.sources[source],
        now=now,
        tolerance=config.tolerance_seconds,
    )


def _process_later(app: Flask, inbox_id: int, trust_identifier: bool, payload: Any) -> None:
    """Runs once the answer is sent, on the message as received (held in memory only);
    a failure leaves the masked copy for the worker."""
    with app.app_context():
        try:
            inbox.process(
                get_db(),
                get_extractor(),
                get_policy(),
                inbox_id,
                trust_identifier=trust_identifier,
                payload=payload,
            )
        except Exception:
            log.exception("inbound message %s left for the worker", inbox_id)


def _duplicate(inbox_id: int, status: str) -> Response:
    resp = jsonify(status="duplicate", id=inbox_id, first_copy=status)
    resp.status_code = 200
    return resp


@bp.post("/<source>")
def receive(source: str) -> Response:
    config: InboundConfig = current_app.extensions[CONFIG_KEY]
    if not config.known(source):
        return _problem(404, "unknown_source", "no inbound webhook source of that name")
    body = _body(config.max_bytes)
    try:
        message_id = _verify(source, body, config)
    except VerificationError as exc:
        log.warning("inbound %s: rejected (%s)", source, exc)
        return _problem(
            401,
            "invalid_signature",
            "not signed with this source's secret, or the timestamp is stale",
        )
    try:
        payload: Any = parse_json(body)
    except InvalidJson as exc:
        return _problem(400, "invalid_json", str(exc))
    try:
        action = inbox.interpret(source, payload, trust_identifier=config.chatwoot_trust_identifier)
    except InvalidMessage as exc:
        return _problem(422, "invalid_message", str(exc))
    db = get_db()
    seen = inbox.seen(db, source, message_id)
    if seen is not None:
        return _duplicate(seen["id"], seen["status"])
    inbox.precheck(
        db, get_policy(), source, action, int(current_app.config["TRUSTLINE_MAX_TEXT_CHARS"])
    )
    ignored = isinstance(action, Ignore)
    # Nothing unmasked reaches a file (issue 12): what is kept for the worker, should this
    # process die before the work is done, is the message with every string redacted.
    kept = b"" if ignored else json.dumps(redact_values(get_extractor(), payload)).encode()
    inbox_id, new, status = inbox.record(db, source, message_id, kept, payload, ignored=ignored)
    if not new:
        return _duplicate(inbox_id, status)
    log.info("inbound %s message %s recorded (%s)", source, inbox_id, status)
    resp = jsonify(status="ignored" if ignored else "accepted", id=inbox_id)
    resp.status_code = 202
    if not ignored:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        trust = config.chatwoot_trust_identifier
        resp.call_on_close(lambda: _process_later(app, inbox_id, trust, payload))
    return resp
