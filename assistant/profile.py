"""The customer profile: the write path (note in, lawful facts stored) and GDPR rights.

Every change happens in one write transaction together with its decisions, its audit
entry and its events, so that nothing is half-written and every consumer sees it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from nlp import ExtractionResult, Extractor
from nlp.facts import COMPLAINT_CATEGORIES
from nlp.redaction import sensitive_spans, to_redacted

from .consent import ConsentRecord, ConsentState, decide
from .consent_state import effective, purpose_state
from .policy import Policy
from .store import audit
from .store.db import checkpoint, row, rows, writing
from .store.events import Event, publish

log = logging.getLogger(__name__)

# A positive fact of these fields replaces earlier positives of the same field with
# another value ("now prefers SMS" after "prefers email"); other fields accumulate.
EXCLUSIVE_FIELDS = frozenset({"contact_channel", "language", "payment", "delivery"})
DSR_DUE = timedelta(days=30)  # "one month" (GDPR Art. 12(3)); the UI shows the date


class ProfileError(Exception):
    """A request the profile cannot carry out; `status` is the HTTP status to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class NotFound(ProfileError):
    def __init__(self, what: str) -> None:
        super().__init__(404, "not_found", f"{what} not found")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# -- customers -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Identity:
    source: str
    external_id: str


def get_customer(db: sqlite_utils.Database, customer_id: str) -> dict[str, Any]:
    found = row(db, "SELECT * FROM customers WHERE id = ?", [customer_id])
    if found is None:
        raise NotFound(f"customer {customer_id!r}")
    return found


def resolve_identity(db: sqlite_utils.Database, source: str, external_id: str) -> str | None:
    """The customer known to `source` as `external_id`, if any."""
    found = row(
        db,
        "SELECT customer_id FROM identities WHERE source = ? AND external_id = ?",
        [source, external_id],
    )
    return found["customer_id"] if found else None


def upsert_customer(
    db: sqlite_utils.Database,
    customer_id: str,
    *,
    actor: str,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    identities: Iterable[Identity] = (),
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create or update a customer and add identities; returns (customer, created)."""
    if not customer_id or len(customer_id) > 200:
        raise ProfileError(400, "invalid_customer_id", "customer id must be 1-200 characters")
    # Ids travel in URLs, logs and exports: no control characters (NUL, CR, LF...), and
    # not '.' or '..', which clients and proxies rewrite as path segments.
    if customer_id in (".", "..") or any(unicodedata.category(c) == "Cc" for c in customer_id):
        raise ProfileError(
            400,
            "invalid_customer_id",
            "customer id must not hold control characters, nor be '.' or '..'",
        )
    at = iso(now or utcnow())
    with writing(db):
        existing = row(db, "SELECT * FROM customers WHERE id = ?", [customer_id])
        if existing is None:
            db.execute(
                "INSERT INTO customers (id, name, email, phone, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [customer_id, name, email, phone, at, at],
            )
        else:
            db.execute(
                "UPDATE customers SET name = coalesce(?, name), email = coalesce(?, email), "
                "phone = coalesce(?, phone), updated_at = ? WHERE id = ?",
                [name, email, phone, at, customer_id],
            )
        for ident in identities:
            owner = resolve_identity(db, ident.source, ident.external_id)
            if owner is not None and owner != customer_id:
                raise ProfileError(
                    409,
                    "identity_conflict",
                    f"identity {ident.source}:{ident.external_id} belongs to another customer",
                )
            if owner is None:
                db.execute(
                    "INSERT INTO identities (customer_id, source, external_id, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    [customer_id, ident.source, ident.external_id, at],
                )
        audit.append(
            db,
            at=at,
            actor=actor,
            action="customer.created" if existing is None else "customer.updated",
            subject=customer_id,
        )
    return get_customer(db, customer_id), existing is None


def identities_of(db: sqlite_utils.Database, customer_id: str) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT source, external_id FROM identities WHERE customer_id = ? ORDER BY id",
        [customer_id],
    )


# -- consent ledger ----------------------------------------------------------------------


def _consent_record(r: Mapping[str, Any]) -> ConsentRecord:
    effective_from = parse_time(r["effective_from"])
    recorded_at = parse_time(r["recorded_at"])
    assert effective_from is not None and recorded_at is not None
    return ConsentRecord(
        id=r["id"],
        customer_id=r["customer_id"],
        purpose=r["purpose"],
        channel=r["channel"],
        status=r["status"],
        lawful_basis=r["lawful_basis"],
        source=r["source"],
        method=r["method"],
        evidence=json.loads(r["evidence"]),
        effective_from=effective_from,
        effective_to=parse_time(r["effective_to"]),
        recorded_at=recorded_at,
    )


def consent_state(db: sqlite_utils.Database, customer_id: str) -> ConsentState:
    found = rows(db, "SELECT * FROM consents WHERE customer_id = ? ORDER BY id", [customer_id])
    return ConsentState(tuple(_consent_record(r) for r in found))


def consent_ledger(db: sqlite_utils.Database, customer_id: str) -> list[dict[str, Any]]:
    out = rows(db, "SELECT * FROM consents WHERE customer_id = ? ORDER BY id", [customer_id])
    for r in out:
        r["evidence"] = json.loads(r["evidence"])
    return out


def record_consent(
    db: sqlite_utils.Database,
    policy: Policy,
    customer_id: str,
    *,
    purpose: str,
    status: str,
    actor: str,
    source: str,
    method: str,
    evidence: Mapping[str, Any],
    channel: str | None = None,
    effective_from: datetime | None = None,
    effective_to: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Append a consent record; a withdrawal takes dependent facts out at once."""
    if purpose not in policy.purposes and purpose != "all":
        raise ProfileError(
            400,
            "unknown_purpose",
            f"unknown purpose {purpose!r}; the policy declares {', '.join(policy.purposes)}"
            + ("" if status == "granted" else ", or 'all' to withdraw every one"),
        )
    if status not in ("granted", "withdrawn", "denied"):
        raise ProfileError(400, "invalid_status", "status must be granted, withdrawn or denied")
    if purpose == "all" and status == "granted":
        raise ProfileError(
            400, "unspecific_consent", "consent must name a purpose; 'all' can only be withdrawn"
        )
    at = now or utcnow()
    lawful_basis = (
        policy.purposes[purpose].lawful_basis if purpose in policy.purposes else "consent"
    )
    with writing(db):
        get_customer(db, customer_id)
        cur = db.execute(
            "INSERT INTO consents (customer_id, purpose, channel, status, lawful_basis, source, "
            "method, evidence, effective_from, effective_to, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                customer_id,
                purpose,
                channel,
                status,
                lawful_basis,
                source,
                method,
                json.dumps(dict(evidence)),
                iso(effective_from or at),
                iso(effective_to) if effective_to else None,
                iso(at),
            ],
        )
        consent_id = int(cur.lastrowid or 0)
        record = row(db, "SELECT * FROM consents WHERE id = ?", [consent_id])
        assert record is not None
        record["evidence"] = json.loads(record["evidence"])
        publish(
            db,
            Event(
                "consent.changed",
                customer_id,
                actor,
                iso(at),
                {"consent": record},
            ),
        )
        audit.append(
            db,
            at=iso(at),
            actor=actor,
            action=f"consent.{status}",
            subject=customer_id,
            details={"consent_id": consent_id, "purpose": purpose, "channel": channel},
        )
        if status != "granted":
            _apply_withdrawal(db, policy, customer_id, actor=actor, at=at)
        else:
            _close_granted_proposals(db, policy, customer_id, consent_id, at)
    return record


def _close_granted_proposals(
    db: sqlite_utils.Database, policy: Policy, customer_id: str, consent_id: int, at: datetime
) -> None:
    """Proposals the new grant answers are not asked again ("consent to confirm" beside
    "granted" would be two truths): they are closed as `granted`, naming the record."""
    state = consent_state(db, customer_id)
    for proposal in rows(
        db,
        "SELECT * FROM consent_proposals WHERE customer_id = ? AND status = 'pending'",
        [customer_id],
    ):
        if already_granted(state, policy, proposal, at):
            db.execute(
                "UPDATE consent_proposals SET status = 'granted', consent_id = ? WHERE id = ?",
                [consent_id, proposal["id"]],
            )


def _apply_withdrawal(
    db: sqlite_utils.Database, policy: Policy, customer_id: str, *, actor: str, at: datetime
) -> None:
    """Take out of the profile every active fact the consent state no longer allows."""
    state = consent_state(db, customer_id)
    for fact in _active_facts(db, customer_id):
        decision = decide(_contract_fact(fact), state, policy, at)
        if not decision.allowed:
            _remove_fact(db, fact, actor=actor, at=at, reason=f"consent: {decision.reason}")


def confirm_proposal(
    db: sqlite_utils.Database,
    policy: Policy,
    customer_id: str,
    proposal_id: int,
    *,
    actor: str,
    wording: str,
    wording_version: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Turn a grant found in a note into a consent record, with the wording as evidence."""
    proposal = row(
        db,
        "SELECT * FROM consent_proposals WHERE id = ? AND customer_id = ?",
        [proposal_id, customer_id],
    )
    if proposal is None:
        raise NotFound(f"consent proposal {proposal_id}")
    if proposal["status"] != "pending":
        raise ProfileError(
            409, "proposal_closed", f"proposal {proposal_id} is {proposal['status']}"
        )
    _check_wording(policy, str(proposal["purpose"]), wording, wording_version)
    with writing(db):
        record = record_consent(
            db,
            policy,
            customer_id,
            purpose=proposal["purpose"],
            channel=proposal["channel"],
            status="granted",
            actor=actor,
            source="agent",
            method="verbal",
            evidence={
                "agent": actor,
                "note_id": proposal["note_id"],
                "wording": wording,
                "wording_version": wording_version,
            },
            now=now,
        )
        db.execute(
            "UPDATE consent_proposals SET status = 'confirmed', consent_id = ? WHERE id = ?",
            [record["id"], proposal_id],
        )
    return record


def already_granted(
    state: ConsentState, policy: Policy, statement: Mapping[str, Any], at: datetime
) -> bool:
    """True when a grant found in a note asks for what a record in force already grants
    (the purpose, or its channel): no proposal, nothing to confirm again."""
    purpose = policy.purposes.get(str(statement.get("purpose")))
    if purpose is None:
        return False
    channel = statement.get("channel")
    return purpose_state(state, purpose, at).covers(str(channel) if channel else None)


def _check_wording(policy: Policy, purpose: str, wording: str, wording_version: str) -> None:
    """A confirmation records what the customer heard: the policy's own script of that
    version, word for word (ProfileError 400 otherwise)."""
    try:
        script, version = policy.wording(purpose)
    except KeyError as exc:
        raise ProfileError(400, "no_wording", str(exc.args[0])) from exc
    if wording_version != version:
        raise ProfileError(
            400,
            "unknown_wording_version",
            f"the policy has no wording version {wording_version!r} for {purpose!r} "
            f"(the current one is {version!r})",
        )
    if wording.strip() != script:
        raise ProfileError(
            400,
            "wording_mismatch",
            f"'wording' is not the policy's script {version!r} for {purpose!r}: send the "
            "text shown to the customer, word for word",
        )


# -- facts -----------------------------------------------------------------------------


def _contract_fact(fact: Mapping[str, Any]) -> dict[str, Any]:
    """A stored fact in the contract's shape (kind plus its keys)."""
    out: dict[str, Any] = {"kind": fact["kind"]}
    out.update(json.loads(fact["attrs"]))
    return out


def _fact(db: sqlite_utils.Database, fact_id: int) -> dict[str, Any]:
    """The stored row of a fact that is known to exist (re-read after a change)."""
    found = row(db, "SELECT * FROM facts WHERE id = ?", [fact_id])
    assert found is not None
    return found


def _active_facts(db: sqlite_utils.Database, customer_id: str) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT * FROM facts WHERE customer_id = ? AND removed_at IS NULL "
        "AND superseded_by IS NULL ORDER BY id",
        [customer_id],
    )


def fact_view(fact: Mapping[str, Any]) -> dict[str, Any]:
    """A stored fact as the API shows it: contract keys plus provenance."""
    out = _contract_fact(fact)
    if fact["kind"] == "complaint" and fact["status"]:
        out["status"] = fact["status"]
    out.update(
        {
            "id": fact["id"],
            "confidence": fact["confidence"],
            "provenance": {
                "note_id": fact["note_id"],
                "evidence": {
                    "start": fact["evidence_start"],
                    "end": fact["evidence_end"],
                    "text": fact["evidence_text"],
                },
                "extractor": fact["extractor"],
                "model_version": fact["model_version"],
                "agent": fact["agent"],
                "at": fact["created_at"],
                "purpose": fact["purpose"],
                "lawful_basis": fact["lawful_basis"],
                "decision_id": fact["decision_id"],
            },
        }
    )
    for key in ("superseded_by", "superseded_at", "removed_at", "removed_reason", "updated_at"):
        if fact.get(key):
            out[key] = fact[key]
    return out


def _event_type(kind: str, change: str) -> str:
    return f"profile.{kind}.{change}"


def _remove_fact(
    db: sqlite_utils.Database, fact: Mapping[str, Any], *, actor: str, at: datetime, reason: str
) -> None:
    db.execute(
        "UPDATE facts SET removed_at = ?, removed_by = ?, removed_reason = ? WHERE id = ?",
        [iso(at), actor, reason, fact["id"]],
    )
    updated = _fact(db, fact["id"])
    event = (
        "profile.preference.removed"
        if fact["kind"] == "preference"
        else ("profile.complaint.updated")
    )
    publish(db, Event(event, fact["customer_id"], actor, iso(at), {"fact": fact_view(updated)}))


def remove_fact(
    db: sqlite_utils.Database,
    customer_id: str,
    fact_id: int,
    *,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Correct the profile: take a fact out (history kept), with the reason audited."""
    if not reason.strip():
        raise ProfileError(400, "reason_required", "say why the fact is removed")
    at = now or utcnow()
    with writing(db):
        fact = row(
            db, "SELECT * FROM facts WHERE id = ? AND customer_id = ?", [fact_id, customer_id]
        )
        if fact is None:
            raise NotFound(f"fact {fact_id}")
        if fact["removed_at"]:
            raise ProfileError(409, "already_removed", f"fact {fact_id} was already removed")
        _remove_fact(db, fact, actor=actor, at=at, reason=reason)
        audit.append(
            db,
            at=iso(at),
            actor=actor,
            action="fact.removed",
            subject=customer_id,
            # The reason itself is kept with the fact (erasable), only its digest here.
            details={
                "fact_id": fact_id,
                "reason_digest": audit.keyed_digest(db, customer_id, reason),
            },
        )
        updated = _fact(db, fact_id)
    return fact_view(updated)


CORRECTABLE = {"preference": ("value", "polarity"), "complaint": ("category", "severity")}


def correct_fact(
    db: sqlite_utils.Database,
    policy: Policy,
    customer_id: str,
    fact_id: int,
    changes: Mapping[str, str],
    *,
    actor: str,
    reason: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Correct a fact's value: a new fact, with its own provenance (the correcting agent,
    the time, a decision against the consent state), supersedes the old one (history
    kept), audited and published in one transaction. Returns the new fact.

    `changes`: for a preference `value` (and `polarity`), for a complaint `category`
    (and `severity`). ProfileError 400 on anything else or on no change; 409 when the
    fact is no longer in the profile or the policy would not store the corrected fact.
    """
    at = now or utcnow()
    with writing(db):
        fact = row(
            db, "SELECT * FROM facts WHERE id = ? AND customer_id = ?", [fact_id, customer_id]
        )
        if fact is None:
            raise NotFound(f"fact {fact_id}")
        if fact["removed_at"] or fact["superseded_by"]:
            raise ProfileError(409, "fact_not_current", f"fact {fact_id} is no longer shown")
        allowed = CORRECTABLE.get(str(fact["kind"]), ())
        attrs = json.loads(fact["attrs"])
        corrected = dict(attrs)
        for key, value in changes.items():
            if key not in allowed:
                raise ProfileError(
                    400, "not_correctable", f"a {fact['kind']} can be corrected in {allowed}"
                )
            value = " ".join(str(value).split())[:200]
            if not value:
                raise ProfileError(400, "empty_value", f"give the corrected {key}")
            corrected[key] = value
        _check_correction(str(fact["kind"]), corrected)
        if corrected == attrs:
            raise ProfileError(400, "no_change", "the correction changes nothing")
        contract = {"kind": fact["kind"], **corrected}
        decision = decide(contract, consent_state(db, customer_id), policy, at)
        if not decision.allowed:
            raise ProfileError(
                409, "not_allowed", f"the corrected fact may not be stored ({decision.reason})"
            )
        recorded = _record_decision(
            db,
            customer_id,
            fact["note_id"],
            contract,
            decision.outcome,
            decision.purpose,
            decision.lawful_basis,
            decision.reason,
            decision.consent_record_id,
            policy,
            iso(at),
        )
        cur = db.execute(
            "INSERT INTO facts (customer_id, note_id, kind, field, value, polarity, category, "
            "status, attrs, evidence_start, evidence_end, evidence_text, extractor, "
            "model_version, confidence, agent, purpose, lawful_basis, decision_id, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                customer_id,
                fact["note_id"],
                fact["kind"],
                corrected.get("field"),
                corrected.get("value"),
                corrected.get("polarity"),
                corrected.get("category"),
                fact["status"],
                json.dumps(corrected),
                fact["evidence_start"],
                fact["evidence_end"],
                fact["evidence_text"],
                "correction",
                f"corrects-{fact_id}",
                1.0,
                actor,
                decision.purpose,
                decision.lawful_basis,
                recorded["id"],
                iso(at),
            ],
        )
        new_id = int(cur.lastrowid or 0)
        db.execute(
            "UPDATE facts SET superseded_by = ?, superseded_at = ? WHERE id = ?",
            [new_id, iso(at), fact_id],
        )
        kind = str(fact["kind"])
        old_view = fact_view(_fact(db, fact_id))
        new_view = fact_view(_fact(db, new_id))
        removed = "removed" if kind == "preference" else "updated"
        publish(
            db,
            Event(
                _event_type(kind, removed),
                customer_id,
                actor,
                iso(at),
                {"fact": old_view, "superseded_by": new_id},
            ),
        )
        publish(
            db, Event(_event_type(kind, "added"), customer_id, actor, iso(at), {"fact": new_view})
        )
        details: dict[str, Any] = {
            "fact_id": fact_id,
            "corrected_by": new_id,
            "keys": sorted(changes),
        }
        if reason.strip():
            details["reason_digest"] = audit.keyed_digest(db, customer_id, reason)
        audit.append(
            db,
            at=iso(at),
            actor=actor,
            action="fact.corrected",
            subject=customer_id,
            details=details,
        )
    return new_view


def _check_correction(kind: str, attrs: Mapping[str, Any]) -> None:
    if kind == "preference" and attrs.get("polarity") not in ("positive", "negative"):
        raise ProfileError(400, "invalid_polarity", "polarity must be positive or negative")
    if kind == "complaint":
        if attrs.get("category") not in COMPLAINT_CATEGORIES:
            raise ProfileError(
                400, "invalid_category", f"category must be one of {COMPLAINT_CATEGORIES}"
            )
        if attrs.get("severity") not in ("low", "medium", "high"):
            raise ProfileError(400, "invalid_severity", "severity must be low, medium or high")


def set_complaint_status(
    db: sqlite_utils.Database,
    customer_id: str,
    fact_id: int,
    status: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Mark a complaint resolved (or re-open it)."""
    if status not in ("open", "resolved"):
        raise ProfileError(400, "invalid_status", "status must be open or resolved")
    at = now or utcnow()
    with writing(db):
        fact = row(
            db,
            "SELECT * FROM facts WHERE id = ? AND customer_id = ? AND kind = 'complaint'",
            [fact_id, customer_id],
        )
        if fact is None:
            raise NotFound(f"complaint {fact_id}")
        if fact["removed_at"]:
            raise ProfileError(409, "fact_removed", f"complaint {fact_id} was removed")
        attrs = json.loads(fact["attrs"])
        attrs["status"] = status
        db.execute(
            "UPDATE facts SET status = ?, attrs = ?, updated_at = ? WHERE id = ?",
            [status, json.dumps(attrs), iso(at), fact_id],
        )
        updated = _fact(db, fact_id)
        publish(
            db,
            Event(
                "profile.complaint.updated",
                customer_id,
                actor,
                iso(at),
                {"fact": fact_view(updated)},
            ),
        )
        audit.append(
            db,
            at=iso(at),
            actor=actor,
            action="complaint.status",
            subject=customer_id,
            details={"fact_id": fact_id, "status": status},
        )
    return fact_view(updated)


# -- the write path ---------------------------------------------------------------------


def fact_key(fact: Mapping[str, Any]) -> str:
    """A short, non-identifying label of a fact for decisions ("preference:payment")."""
    kind = str(fact.get("kind"))
    detail = fact.get("field") or fact.get("category") or fact.get("purpose") or fact.get("action")
    return f"{kind}:{detail}"


def ingest_note(
    db: sqlite_utils.Database,
    extractor: Extractor,
    policy: Policy,
    customer_id: str,
    text: str,
    *,
    agent: str,
    source: str = "agent",
    result: ExtractionResult | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Extract, decide and store one note; returns the stored note, facts and decisions.

    The raw text never reaches the database: only `redacted_text`, and evidence is
    re-based onto it.
    """
    extractor.check(text)
    if not text.strip():
        raise ProfileError(400, "empty_text", "the note has no text")
    if result is None:
        result = extractor.extract(text)
    at = now or utcnow()
    stamp = iso(at)
    masked = sensitive_spans(result.facts)
    stored: list[dict[str, Any]] = []
    decisions: list[dict[str, Any]] = []
    proposals: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    with writing(db):
        get_customer(db, customer_id)
        cur = db.execute(
            "INSERT INTO notes (customer_id, agent, source, redacted_text, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [customer_id, agent, source, result.redacted_text, stamp],
        )
        note_id = int(cur.lastrowid or 0)
        for fact in result.facts:
            contract = fact.to_dict()
            ev_start, ev_end = to_redacted(fact.evidence.start, fact.evidence.end, masked)
            evidence = {
                "start": ev_start,
                "end": ev_end,
                "text": result.redacted_text[ev_start:ev_end],
            }
            if fact.kind == "consent":
                decisions.append(
                    _record_decision(
                        db,
                        customer_id,
                        note_id,
                        contract,
                        "recorded",
                        None,
                        None,
                        f"consent_{contract['action']}",
                        None,
                        policy,
                        stamp,
                    )
                )
                handled = _consent_statement(
                    db, policy, customer_id, note_id, contract, evidence, agent=agent, at=at
                )
                if handled.get("proposal"):
                    proposals.append(handled["proposal"])
                if handled.get("request"):
                    requests.append(handled["request"])
                continue
            state = consent_state(db, customer_id)
            decision = decide(contract, state, policy, at)
            decisions.append(
                _record_decision(
                    db,
                    customer_id,
                    note_id,
                    contract,
                    decision.outcome,
                    decision.purpose,
                    decision.lawful_basis,
                    decision.reason,
                    decision.consent_record_id,
                    policy,
                    stamp,
                )
            )
            if not decision.allowed or fact.kind not in ("preference", "complaint"):
                continue
            stored.append(
                _store_fact(
                    db,
                    extractor,
                    customer_id,
                    note_id,
                    contract,
                    evidence,
                    decisions[-1]["id"],
                    decision.purpose or "",
                    decision.lawful_basis or "",
                    agent=agent,
                    at=at,
                )
            )
        # A withdrawal later in the same note may have taken earlier facts out again.
        stored = [fact_view(_fact(db, f["id"])) for f in stored]
        audit.append(
            db,
            at=stamp,
            actor=agent,
            action="note.ingested",
            subject=customer_id,
            details={
                "note_id": note_id,
                "stored": [f["id"] for f in stored],
                "blocked": sum(1 for d in decisions if d["outcome"] == "blocked"),
            },
        )
    return {
        "note": {
            "id": note_id,
            "customer_id": customer_id,
            "agent": agent,
            "source": source,
            "redacted_text": result.redacted_text,
            "created_at": stamp,
        },
        "facts": stored,
        "decisions": decisions,
        "consent_proposals": proposals,
        "requests": requests,
    }


def _record_decision(
    db: sqlite_utils.Database,
    customer_id: str,
    note_id: int | None,
    fact: Mapping[str, Any],
    outcome: str,
    purpose: str | None,
    lawful_basis: str | None,
    reason: str,
    consent_record_id: int | None,
    policy: Policy,
    at: str,
) -> dict[str, Any]:
    cur = db.execute(
        "INSERT INTO decisions (customer_id, note_id, fact_kind, fact_key, outcome, purpose, "
        "lawful_basis, reason, consent_record_id, policy_version, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            customer_id,
            note_id,
            fact["kind"],
            fact_key(fact),
            outcome,
            purpose,
            lawful_basis,
            reason,
            consent_record_id,
            policy.version,
            at,
        ],
    )
    found = row(db, "SELECT * FROM decisions WHERE id = ?", [cur.lastrowid])
    assert found is not None
    return found


def _store_fact(
    db: sqlite_utils.Database,
    extractor: Extractor,
    customer_id: str,
    note_id: int,
    contract: Mapping[str, Any],
    evidence: Mapping[str, Any],
    decision_id: int,
    purpose: str,
    lawful_basis: str,
    *,
    agent: str,
    at: datetime,
) -> dict[str, Any]:
    attrs = {k: v for k, v in contract.items() if k not in ("kind", "evidence", "confidence")}
    kind = str(contract["kind"])
    cur = db.execute(
        "INSERT INTO facts (customer_id, note_id, kind, field, value, polarity, category, status, "
        "attrs, evidence_start, evidence_end, evidence_text, extractor, model_version, "
        "confidence, agent, purpose, lawful_basis, decision_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            customer_id,
            note_id,
            kind,
            attrs.get("field"),
            None if attrs.get("value") is None else str(attrs.get("value")),
            attrs.get("polarity"),
            attrs.get("category"),
            attrs.get("status"),
            json.dumps(attrs),
            evidence["start"],
            evidence["end"],
            evidence["text"],
            "trustline-rules",
            f"{extractor.model_name}-{extractor.model_version}",
            float(contract.get("confidence", 0.0)),
            agent,
            purpose,
            lawful_basis,
            decision_id,
            iso(at),
        ],
    )
    fact_id = int(cur.lastrowid or 0)
    if kind == "preference":
        _supersede(db, customer_id, fact_id, attrs, note_id, agent=agent, at=at)
    stored = _fact(db, fact_id)
    view = fact_view(stored)
    publish(db, Event(_event_type(kind, "added"), customer_id, agent, iso(at), {"fact": view}))
    return view


def _supersede(
    db: sqlite_utils.Database,
    customer_id: str,
    fact_id: int,
    attrs: Mapping[str, Any],
    note_id: int,
    *,
    agent: str,
    at: datetime,
) -> None:
    """Older facts on the same preference step aside (kept as history)."""
    same_value = rows(
        db,
        "SELECT * FROM facts WHERE customer_id = ? AND kind = 'preference' AND field = ? "
        "AND value = ? AND id != ? AND superseded_by IS NULL AND removed_at IS NULL",
        [customer_id, attrs.get("field"), str(attrs.get("value")), fact_id],
    )
    older = list(same_value)
    if attrs.get("field") in EXCLUSIVE_FIELDS and attrs.get("polarity") == "positive":
        older += rows(
            db,
            "SELECT * FROM facts WHERE customer_id = ? AND kind = 'preference' AND field = ? "
            "AND value != ? AND polarity = 'positive' AND note_id != ? "
            "AND superseded_by IS NULL AND removed_at IS NULL",
            [customer_id, attrs.get("field"), str(attrs.get("value")), note_id],
        )
    for old in older:
        db.execute(
            "UPDATE facts SET superseded_by = ?, superseded_at = ? WHERE id = ?",
            [fact_id, iso(at), old["id"]],
        )
        updated = _fact(db, old["id"])
        publish(
            db,
            Event(
                "profile.preference.removed",
                customer_id,
                agent,
                iso(at),
                {"fact": fact_view(updated), "superseded_by": fact_id},
            ),
        )


def _consent_statement(
    db: sqlite_utils.Database,
    policy: Policy,
    customer_id: str,
    note_id: int,
    fact: Mapping[str, Any],
    evidence: Mapping[str, Any],
    *,
    agent: str,
    at: datetime,
) -> dict[str, Any]:
    """Withdrawals apply at once; grants wait for confirmation; erase/access open a DSR."""
    action = fact["action"]
    if action in ("withdraw",):
        record = record_consent(
            db,
            policy,
            customer_id,
            purpose=str(fact["purpose"]),
            channel=fact.get("channel"),
            status="withdrawn",
            actor=agent,
            source="agent",
            method="note",
            evidence={"agent": agent, "note_id": note_id, "text": evidence["text"]},
            now=at,
        )
        return {"consent": record}
    if action == "grant":
        if already_granted(consent_state(db, customer_id), policy, fact, at):
            # "OK to send offers by email" when e-mail marketing is granted: nothing to ask.
            return {}
        cur = db.execute(
            "INSERT INTO consent_proposals (customer_id, note_id, purpose, channel, "
            "evidence_text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [customer_id, note_id, fact["purpose"], fact.get("channel"), evidence["text"], iso(at)],
        )
        proposal = row(db, "SELECT * FROM consent_proposals WHERE id = ?", [cur.lastrowid])
        assert proposal is not None
        # An event, so that open sidebars (and CRMs) see the consent waiting to be confirmed.
        publish(db, Event("consent.proposed", customer_id, agent, iso(at), {"proposal": proposal}))
        return {"proposal": proposal}
    request = open_request(db, customer_id, str(action), actor=agent, note_id=note_id, now=at)
    return {"request": request}


DSR_KINDS = ("erase", "access", "rectify")


def open_request(
    db: sqlite_utils.Database,
    customer_id: str,
    kind: str,
    *,
    actor: str,
    channel: str = "note",
    note_id: int | None = None,
    fact_id: int | None = None,
    details: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open a data-subject request (erasure, access or correction) due in a month, with
    its event and audit entry. `details` must already be redacted; the audit log keeps
    only its digest."""
    if kind not in DSR_KINDS:
        raise ProfileError(400, "invalid_request_kind", f"kind must be one of {DSR_KINDS}")
    at = now or utcnow()
    with writing(db):
        get_customer(db, customer_id)
        owned = "SELECT id FROM facts WHERE id = ? AND customer_id = ?"
        if fact_id is not None and row(db, owned, [fact_id, customer_id]) is None:
            raise NotFound(f"fact {fact_id}")
        cur = db.execute(
            "INSERT INTO dsr (customer_id, kind, note_id, created_at, due_at, channel, fact_id, "
            "details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [customer_id, kind, note_id, iso(at), iso(at + DSR_DUE), channel, fact_id, details],
        )
        request = row(db, "SELECT * FROM dsr WHERE id = ?", [cur.lastrowid])
        assert request is not None
        publish(db, Event("dsr.created", customer_id, actor, iso(at), {"request": request}))
        audited: dict[str, Any] = {"dsr_id": request["id"], "kind": kind}
        if details:
            audited["details_digest"] = audit.keyed_digest(db, customer_id, details)
        audit.append(
            db, at=iso(at), actor=actor, action="dsr.created", subject=customer_id, details=audited
        )
    return request


# -- reading ----------------------------------------------------------------------------


def profile(db: sqlite_utils.Database, policy: Policy, customer_id: str) -> dict[str, Any]:
    """The profile view: identities, consent per purpose, open complaints first, facts."""
    customer = get_customer(db, customer_id)
    consents = {
        name: purpose.to_dict()
        for name, purpose in effective(consent_state(db, customer_id), policy, utcnow()).items()
    }
    facts = [fact_view(f) for f in _active_facts(db, customer_id)]
    complaints = [f for f in facts if f["kind"] == "complaint"]
    complaints.sort(key=lambda f: (f.get("status") != "open", -int(f["id"])))
    return {
        "customer": {k: customer[k] for k in ("id", "name", "email", "phone", "created_at")},
        "identities": identities_of(db, customer_id),
        "consents": consents,
        "complaints": complaints,
        "preferences": [f for f in facts if f["kind"] == "preference"],
        "consent_proposals": rows(
            db,
            "SELECT * FROM consent_proposals WHERE customer_id = ? AND status = 'pending'",
            [customer_id],
        ),
        "requests": rows(
            db, "SELECT * FROM dsr WHERE customer_id = ? AND status = 'open'", [customer_id]
        ),
    }


def export(db: sqlite_utils.Database, policy: Policy, customer_id: str) -> dict[str, Any]:
    """Art. 15 / 20: everything held on the customer, machine-readable."""
    view = profile(db, policy, customer_id)
    all_facts = rows(db, "SELECT * FROM facts WHERE customer_id = ? ORDER BY id", [customer_id])
    return {
        "format": "trustline-export/1",
        "exported_at": iso(utcnow()),
        "policy_version": policy.version,
        "customer": view["customer"],
        "identities": view["identities"],
        "profile": {"complaints": view["complaints"], "preferences": view["preferences"]},
        "facts": [fact_view(f) for f in all_facts],
        "consents": consent_ledger(db, customer_id),
        "decisions": rows(
            db, "SELECT * FROM decisions WHERE customer_id = ? ORDER BY id", [customer_id]
        ),
        "notes": rows(
            db,
            "SELECT id, agent, source, redacted_text, created_at FROM notes "
            "WHERE customer_id = ? ORDER BY id",
            [customer_id],
        ),
        "requests": rows(db, "SELECT * FROM dsr WHERE customer_id = ? ORDER BY id", [customer_id]),
    }


def erase(
    db: sqlite_utils.Database, customer_id: str, *, actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """Art. 17: delete the customer's personal data everywhere, keep a tombstone."""
    at = now or utcnow()
    with writing(db):
        customer = get_customer(db, customer_id)
        idents = identities_of(db, customer_id)
        state = consent_state(db, customer_id)
        # Objections must survive erasure, or a re-imported contact would be marketed to.
        suppressions = sorted(
            {
                f"{r.purpose}:{r.channel or '*'}"
                for r in state.records
                if r.status in ("withdrawn", "denied")
            }
        )
        identity_hashes = sorted(_hash(f"{i['source']}:{i['external_id']}") for i in idents)
        for value in (customer.get("email"), customer.get("phone")):
            if value:
                identity_hashes.append(_hash(f"contact:{value.strip().lower()}"))
        db.execute(
            "INSERT INTO tombstones (customer_hash, identity_hashes, suppressions, erased_at) "
            "VALUES (?, ?, ?, ?)",
            [_hash(customer_id), json.dumps(identity_hashes), json.dumps(suppressions), iso(at)],
        )
        counts = {
            table: db.execute(
                f"SELECT count(*) FROM {table} WHERE customer_id = ?", [customer_id]
            ).fetchone()[0]
            for table in ("notes", "facts", "consents", "identities", "decisions", "events")
        }
        # Logged under her pseudonym while her key still exists; deleting her deletes
        # the key (subject_keys cascades): her entries are then nobody's.
        audit.append(
            db,
            at=iso(at),
            actor=actor,
            action="customer.erased",
            subject=customer_id,
            details={"counts": counts, "suppressions": len(suppressions)},
        )
        _forget_inbound(db, customer_id)
        db.execute("DELETE FROM events WHERE customer_id = ?", [customer_id])
        db.execute("DELETE FROM idempotency WHERE customer_id = ?", [customer_id])
        db.execute("DELETE FROM customers WHERE id = ?", [customer_id])  # cascades
        publish(db, Event("customer.erased", customer_id, actor, iso(at), {"counts": counts}))
        db.execute(
            "UPDATE dsr SET status = 'done', completed_at = ? WHERE customer_id = ? "
            "AND kind = 'erase'",
            [iso(at), customer_id],
        )
    # secure_delete zeroed the rows in the pages the transaction wrote; the -wal file
    # still holds those pages' earlier copies until a checkpoint truncates it.
    if not db.conn.in_transaction and not _checkpointed(db):
        log.warning(
            "erasure committed, but readers kept the -wal file from being truncated: "
            "earlier copies of its pages stay there until the next wal_checkpoint(TRUNCATE)"
        )
    return {"erased": True, "counts": counts, "suppressions": suppressions}


def _checkpointed(db: sqlite_utils.Database) -> bool:
    """`checkpoint`, after the erasure committed: a failure (a full disk) must not turn
    the committed erasure into an error answer."""
    try:
        return checkpoint(db)
    except sqlite3.Error:
        return False


def erased_message_id(source: str, message_id: str) -> str:
    """What an erased customer's inbound message keeps of its id: a digest, still
    matched against replays (inside the signature's tolerance) but naming nothing."""
    return "erased:" + _hash(f"{source}:{message_id}")


def _forget_inbound(db: sqlite_utils.Database, customer_id: str) -> None:
    """Inbound messages about the customer keep neither their conversation (the CRM's
    or Chatwoot's id of her conversation) nor their delivery id."""
    for msg in rows(
        db,
        "SELECT id, source, message_id FROM webhook_inbox WHERE customer_id = ? "
        "AND message_id NOT LIKE 'erased:%'",
        [customer_id],
    ):
        db.execute(
            "UPDATE webhook_inbox SET message_id = ?, conversation = NULL, body = NULL, "
            "error = NULL WHERE id = ?",
            [erased_message_id(msg["source"], msg["message_id"]), msg["id"]],
        )


def purge(
    db: sqlite_utils.Database, policy: Policy, *, actor: str, now: datetime | None = None
) -> dict[str, int]:
    """Apply each purpose's time-to-live: facts and notes past retention are deleted."""
    at = now or utcnow()
    removed: dict[str, int] = {}
    with writing(db):
        for name, purpose in policy.purposes.items():
            if purpose.retention_days is None:
                continue
            cutoff = iso(at - timedelta(days=purpose.retention_days))
            cur = db.execute(
                "DELETE FROM facts WHERE purpose = ? AND created_at < ?", [name, cutoff]
            )
            removed[name] = cur.rowcount
        keep = max(
            (p.retention_days for p in policy.purposes.values() if p.retention_days), default=None
        )
        if keep is not None:
            cutoff = iso(at - timedelta(days=keep))
            cur = db.execute(
                "DELETE FROM notes WHERE created_at < ? AND id NOT IN "
                "(SELECT note_id FROM facts WHERE note_id IS NOT NULL)",
                [cutoff],
            )
            removed["notes"] = cur.rowcount
        audit.append(
            db, at=iso(at), actor=actor, action="retention.purge", subject=None, details=removed
        )
    return removed
