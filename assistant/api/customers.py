"""Customer profile endpoints: identities, notes, profile, consents, rights, events."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from flask import Response, jsonify, request

from nlp import ExtractionResult

from .. import services
from ..auth import current_principal, require
from ..db import get_db
from ..engine import get_extractor, get_policy
from ..extraction_limits import queued
from ..redaction import redact, redact_values
from ..store.interface import IdempotencyStore
from ..store.sqlite.events import after as events_after
from ..store.sqlite.idempotency import SQLiteIdempotencyStore
from ..web.inputs import int_arg, json_object, row_id
from ..web.problems import ApiError
from . import bp
from .extract import check_text

MAX_NOTE_AGENT = 200
# Printable ASCII: the key is compared byte for byte and must survive every proxy.
IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")


def _str(body: dict[str, Any], key: str, *, required: bool = False, limit: int = 1000) -> Any:
    value = body.get(key)
    if value is None:
        if required:
            raise ApiError(400, "invalid_request", f"'{key}' is required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ApiError(400, "invalid_request", f"'{key}' must be a string of at most {limit}")
    return value


def _redacted(text: str | None) -> str | None:
    """Free text a caller wrote, masked as notes are (issue 12)."""
    return None if text is None else redact(get_extractor(), text)


def _json(payload: Any, status: int = 200) -> Response:
    resp = jsonify(payload)
    resp.status_code = status
    return resp


@bp.put("/customers/<customer_id>")
@require("write")
def put_customer(customer_id: str) -> Response:
    body = json_object()
    idents = body.get("identities") or []
    if not isinstance(idents, list):
        raise ApiError(400, "invalid_request", "'identities' must be a list")
    parsed = []
    for i, ident in enumerate(idents):
        if not isinstance(ident, dict) or not all(
            isinstance(ident.get(k), str) and ident.get(k) for k in ("source", "external_id")
        ):
            raise ApiError(400, "invalid_request", f"identities[{i}] needs source and external_id")
        parsed.append(services.Identity(ident["source"], ident["external_id"]))
    customer, created = services.upsert_customer(
        get_db(),
        customer_id,
        actor=current_principal().name,
        name=_redacted(_str(body, "name")),
        email=_str(body, "email"),
        phone=_str(body, "phone"),
        identities=parsed,
    )
    payload = {**customer, "identities": services.identities_of(get_db(), customer_id)}
    return _json(payload, 201 if created else 200)


@bp.get("/customers/lookup")
@require("read")
def lookup_customer() -> Response:
    source, external_id = request.args.get("source"), request.args.get("external_id")
    if not source or not external_id:
        raise ApiError(400, "invalid_request", "give source and external_id")
    customer_id = services.resolve_identity(get_db(), source, external_id)
    if customer_id is None:
        raise ApiError(404, "not_found", f"no customer known as {source}:{external_id}")
    return _json({"customer_id": customer_id})


def _request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


@bp.post("/customers/<customer_id>/notes")
@require("write")
def post_note(customer_id: str) -> Response:
    """Ingest a note; an Idempotency-Key makes retries safe (same key, same answer)."""
    body = json_object()
    text = _str(body, "text", required=True, limit=10_000_000)
    agent = _str(body, "agent", limit=MAX_NOTE_AGENT) or current_principal().name
    source = _str(body, "source", limit=100) or "api"
    check_text(text, "text")
    if not text.strip():
        raise ApiError(400, "empty_text", "'text' is empty: there is no note to store")
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(
            400, "invalid_request", "Idempotency-Key must be 1-255 printable ASCII characters"
        )
    if key is not None:
        key = f"{current_principal().name}:{key}"  # keys are per caller, not global
    db = get_db()
    services.get_customer(db, customer_id)
    digest = _request_hash(body)
    if key is not None:
        replay = _replay(customer_id, key, digest)
        if replay is not None:
            return replay
    replayed: list[Response] = []

    def extract(note: str) -> ExtractionResult:
        with queued([note]):
            return get_extractor().extract(note)

    def replay_instead() -> bool:
        found = _replay(customer_id, key, digest) if key is not None else None
        if found is not None:
            replayed.append(found)
        return found is not None

    def remember(stored: dict[str, Any]) -> None:
        if key is not None:
            kept: IdempotencyStore = SQLiteIdempotencyStore(db)
            kept.keep_response(customer_id, key, digest, 201, stored, stored["note"]["created_at"])

    stored = services.save_note(
        db,
        get_extractor(),
        get_policy(),
        customer_id,
        text,
        agent=agent,
        source=source,
        extract=extract,
        before=replay_instead,
        after=remember,
    )
    if stored is None:
        return replayed[0]
    return _json(stored, 201)


def _replay(customer_id: str, key: str, digest: str) -> Response | None:
    kept: IdempotencyStore = SQLiteIdempotencyStore(get_db())
    found = kept.kept_response(customer_id, key)
    if found is None:
        return None
    if found["request_hash"] != digest:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        )
    resp = _json(found["response"], found["status"])
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


@bp.get("/customers/<customer_id>/profile")
@require("read")
def get_profile(customer_id: str) -> Response:
    view = services.profile(get_db(), get_policy(), customer_id)
    body = json.dumps(view, sort_keys=True)
    etag = '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        resp = Response(status=304)
    else:
        resp = Response(body, mimetype="application/json")
    resp.headers["ETag"] = etag
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@bp.get("/customers/<customer_id>/consents")
@require("read")
def get_consents(customer_id: str) -> Response:
    db = get_db()
    services.get_customer(db, customer_id)
    view = services.profile(db, get_policy(), customer_id)
    return _json(
        {
            "current": view["consents"],
            "ledger": services.consent_ledger(db, customer_id),
            "proposals": view["consent_proposals"],
        }
    )


@bp.post("/customers/<customer_id>/consents")
@require("consent")
def post_consent(customer_id: str) -> Response:
    """Record a consent decision, or confirm a proposal found in a note."""
    body = json_object()
    db, policy = get_db(), get_policy()
    agent = _str(body, "agent", limit=MAX_NOTE_AGENT) or current_principal().name
    if body.get("proposal_id") is not None:
        record = services.confirm_proposal(
            db,
            policy,
            customer_id,
            row_id(body["proposal_id"], "proposal_id"),
            actor=agent,
            wording=_str(body, "wording", required=True, limit=5000),
            wording_version=_str(body, "wording_version", required=True, limit=100),
        )
        return _json(record, 201)
    evidence = body.get("evidence")
    if isinstance(evidence, str):
        evidence = {"text": evidence}
    if not isinstance(evidence, dict) or not evidence:
        raise ApiError(400, "invalid_request", "'evidence' (text or object) is required")
    record = services.record_consent(
        db,
        policy,
        customer_id,
        purpose=_str(body, "purpose", required=True, limit=100),
        status=_str(body, "status", required=True, limit=20),
        channel=_str(body, "channel", limit=40),
        actor=agent,
        source=_str(body, "source", limit=40) or "crm",
        method=_str(body, "method", limit=40) or "api",
        evidence={"agent": agent, **redact_values(get_extractor(), evidence)},
    )
    return _json(record, 201)


@bp.delete("/customers/<customer_id>/facts/<int:fact_id>")
@require("write")
def delete_fact(customer_id: str, fact_id: int) -> Response:
    body = json_object() if request.data else {}
    reason = _str(body, "reason", limit=1000) or request.args.get("reason") or ""
    fact = services.remove_fact(
        get_db(),
        customer_id,
        fact_id,
        actor=current_principal().name,
        reason=_redacted(reason[:1000]) or "",
    )
    return _json(fact)


@bp.patch("/customers/<customer_id>/facts/<int:fact_id>")
@require("write")
def patch_fact(customer_id: str, fact_id: int) -> Response:
    body = json_object()
    status = _str(body, "status", required=True, limit=20)
    fact = services.set_complaint_status(
        get_db(), customer_id, fact_id, status, actor=current_principal().name
    )
    return _json(fact)


@bp.get("/customers/<customer_id>/export")
@require("admin")
def export_customer(customer_id: str) -> Response:
    doc = services.export(get_db(), get_policy(), customer_id)
    resp = _json(doc)
    resp.headers["Content-Disposition"] = 'attachment; filename="trustline-export.json"'
    return resp


@bp.delete("/customers/<customer_id>")
@require("admin")
def erase_customer(customer_id: str) -> Response:
    return _json(services.erase(get_db(), customer_id, actor=current_principal().name))


@bp.get("/customers/<customer_id>/events")
@require("read")
def get_events(customer_id: str) -> Response:
    after, limit = int_arg("after"), int_arg("limit")
    after_id = 0 if after is None else after
    limit = 500 if limit is None else max(1, min(limit, 1000))
    events = events_after(get_db(), after_id, customer_id, limit)
    if not events:
        services.get_customer(get_db(), customer_id)  # 404 for an unknown customer
    return _json({"events": events, "last_id": events[-1]["id"] if events else after_id})
