"""The sidebar's pages and partials. One URL serves the full page or, to htmx, its
fragment; every form also works without JavaScript (POST, then redirect)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, make_response, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from nlp import TrustlineNLPError

from .. import services
from ..consent import CHANNELS
from ..db import get_db
from ..domain.errors import ProfileError
from ..engine import get_extractor, get_policy
from ..extraction_limits import ExtractionLimit, queued
from ..redaction import redact
from ..store.sqlite.sidebar import sidebar_store
from ..web.inputs import row_ids_in_range
from . import bp
from . import composer as notes
from .config import sidebar_config
from .labels import fact_label, purpose_label, value_label
from .launch import THEMES, LaunchError, verify
from .panels import DEMO_PREFIX, find_customer, last_event_id, profile_panel, resolve, script
from .session import (
    Agent,
    CsrfError,
    NotSignedIn,
    check_csrf,
    csrf_token,
    current_agent,
    require_agent,
    start,
)

# htmx without eval, inline scripts or inline styles (the CSP forbids them), and no copy
# of the pages in localStorage (they hold personal data). 4xx answers are swapped: the
# error handlers below retarget them to the #flash region.
HTMX_CONFIG = {
    "allowEval": False,
    "allowScriptTags": False,
    "includeIndicatorStyles": False,
    "historyCacheSize": 0,
    "selfRequestsOnly": True,
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "4..", "swap": True, "error": True},
        {"code": "...", "swap": False, "error": True},
    ],
}
MAX_NAME = 200
MAX_REASON = 500


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _host_origins() -> list[str]:
    origins = list(sidebar_config().host_origins)
    if sidebar_config().demo:
        origins.append(request.host_url.rstrip("/"))  # the demo desktop frames us
    return origins


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    return {
        "agent": current_agent(),
        "csrf_token": csrf_token(),
        "htmx_config": HTMX_CONFIG,
        "channels": CHANNELS,
        "host_origins": _host_origins(),
        "max_chars": current_app.config.get("TRUSTLINE_MAX_TEXT_CHARS", 100_000),
    }


@bp.url_value_preprocessor
def _row_ids(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A fact or proposal id beyond SQLite's range names nothing: 404, never a 500."""
    name = row_ids_in_range(values)
    if name is not None:
        raise services.NotFound(name.replace("_", " "))


@bp.before_request
def _guard() -> None:
    """Every state-changing request needs a session (401) and its CSRF token (403)."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        require_agent()
        check_csrf()


# -- errors: a page, or for htmx a message in the #flash region ---------------------------


def _error(status: int, message: str) -> Response:
    if is_htmx():
        resp = make_response(render_template("sidebar/_flash.html", message=message), status)
        resp.headers["HX-Retarget"] = "#flash"
        resp.headers["HX-Reswap"] = "innerHTML"
        return resp
    return make_response(render_template("sidebar/error.html", message=message), status)


@bp.errorhandler(NotSignedIn)
def _not_signed_in(_exc: NotSignedIn) -> Response:
    return _error(401, "Your sidebar session has ended. Reopen Trustline from your helpdesk.")


@bp.errorhandler(CsrfError)
def _csrf_error(_exc: CsrfError) -> Response:
    return _error(403, "This request did not come from your sidebar (CSRF token). Reload it.")


@bp.errorhandler(LaunchError)
def _launch_error(exc: LaunchError) -> Response:
    current_app.logger.warning("sidebar launch refused: %s", exc.reason)
    return _error(401, f"This launch link cannot be used: {exc.reason}.")


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return _error(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(ProfileError)
def _profile_error(exc: ProfileError) -> Response:
    message = exc.message[:1].upper() + exc.message[1:]
    return _error(exc.status, message if message.endswith(".") else message + ".")


# -- launch and the page ----------------------------------------------------------------


@bp.get("/sidebar/launch")
def launch() -> Response:
    """Exchange a host's signed launch token for a sidebar session."""
    config = sidebar_config()
    claims = verify(
        request.args.get("token", ""),
        config.launch_secrets,
        audience=config.audience,
        max_age=config.launch_max_age,
    )
    start(claims)
    target = url_for(".page", theme=claims.theme) if claims.theme else url_for(".page")
    return redirect(target, 303)


@bp.get("/sidebar")
def page() -> Response:
    """The sidebar. ?customer=ID, or the host's ?external_id= hint, picks the customer;
    without either, the one named by the launch token."""
    agent = require_agent()
    db = get_db()
    customer_id, external_id = _choose(agent)
    context = _main_context(agent, customer_id, external_id)
    if not is_htmx():
        return make_response(render_template("sidebar/page.html", **context, theme=_theme(agent)))
    if request.headers.get("HX-Target") == "profile" and customer_id:
        panel = profile_panel(db, get_policy(), agent, customer_id)
        return make_response(render_template("sidebar/_profile.html", panel=panel))
    resp = make_response(render_template("sidebar/_main.html", **context))
    resp.headers["HX-Replace-Url"] = (
        url_for(".page", customer=customer_id)
        if customer_id
        else url_for(".page", external_id=external_id)
    )
    return resp


def _theme(agent: Agent) -> str | None:
    wanted = request.args.get("theme") or agent.theme
    return wanted if wanted in THEMES else None


def _choose(agent: Agent) -> tuple[str | None, str | None]:
    """(customer id, host's id): the server resolves hints through the identity mapping."""
    requested = request.args.get("customer")
    if requested:
        if find_customer(get_db(), agent, requested) is None:
            raise services.NotFound(f"customer {requested!r}")
        return requested, None
    external_id = request.args.get("external_id") or agent.customer
    if not external_id:
        return None, None
    return resolve(get_db(), agent, external_id), external_id


def _main_context(
    agent: Agent,
    customer_id: str | None,
    external_id: str | None,
    composer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {"external_id": external_id, "customer_id": customer_id}
    if customer_id is None:
        return context
    db = get_db()
    context["last_event_id"] = last_event_id(db, customer_id)  # first: later ones re-sent
    context["panel"] = profile_panel(db, get_policy(), agent, customer_id)
    context.update(composer or _composer(customer_id, ""))
    return context


def _customer(agent: Agent, customer_id: str) -> dict[str, Any]:
    found = find_customer(get_db(), agent, customer_id)
    if found is None:
        raise services.NotFound(f"customer {customer_id!r}")
    return found


def _profile_response(agent: Agent, customer_id: str, notice: str | None = None) -> Response:
    """After a change from the profile panel: the panel again (htmx), saying what was
    done, or the page."""
    if not is_htmx():
        return redirect(url_for(".page", customer=customer_id), 303)
    panel = profile_panel(get_db(), get_policy(), agent, customer_id)
    return make_response(render_template("sidebar/_profile.html", panel=panel, notice=notice))


# -- the note composer ------------------------------------------------------------------


def _dropped() -> set[str]:
    return notes.dropped_keys(request.form.getlist("shown"), request.form.getlist("keep"))


@contextmanager
def _queued_note(text: str) -> Iterator[None]:
    """`queued` for one agent's note: over the request bound, the agent is told what to
    do about the note, not which server setting bounds it."""
    try:
        with queued([text]):
            yield
    except ExtractionLimit as exc:
        if exc.code != "too_much_text":
            raise
        most = int(current_app.config["TRUSTLINE_MAX_REQUEST_CHARS"])
        raise ExtractionLimit(
            413,
            exc.code,
            f"This note is too long to save: it has {len(text):,} characters, and a note "
            f"can have at most {most:,}. Shorten it or split it into two or more notes.",
        ) from exc


def _composer(customer_id: str, text: str, dropped: set[str] | None = None) -> dict[str, Any]:
    """The composer's state for `text`: chips, masked preview, consent scripts."""
    context: dict[str, Any] = {"text": text, "chips": [], "redacted": "", "error": None}
    if not text.strip():
        return context
    context["language"] = notes.unsupported_language(text)
    extractor, policy = get_extractor(), get_policy()
    try:
        extractor.check(text)
    except TrustlineNLPError as exc:
        context["error"] = exc.agent_message()
        return context
    with _queued_note(text):
        result = extractor.extract(text)
    chips = notes.preview(
        result,
        services.consent_state(get_db(), customer_id),
        policy,
        services.utcnow(),
        customer_id=customer_id,
        dropped=dropped or set(),
    )
    context["chips"] = chips
    context["redacted"] = result.redacted_text
    context["scripts"] = {
        c.purpose: script(policy, c.purpose)
        for c in chips
        if c.outcome == notes.NEEDS_CONSENT and c.purpose
    }
    return context


@bp.post("/sidebar/customers/<customer_id>/preview")
def preview_note(customer_id: str) -> Response:
    """What saving the note would do. Writes nothing."""
    agent = require_agent()
    _customer(agent, customer_id)
    composer = _composer(customer_id, request.form.get("text", ""), _dropped())
    if is_htmx():
        return make_response(
            render_template("sidebar/_preview.html", customer_id=customer_id, **composer)
        )
    context = _main_context(agent, customer_id, None, composer)
    return make_response(render_template("sidebar/page.html", **context, theme=_theme(agent)))


@bp.post("/sidebar/customers/<customer_id>/notes")
def save_note(customer_id: str) -> Response:
    """Save the note through the profile's write path, with only the ticked facts."""
    agent = require_agent()
    _customer(agent, customer_id)
    text = request.form.get("text", "")
    if not text.strip():
        raise ProfileError(400, "empty_note", "write a note first")
    try:
        with _queued_note(text):
            stored = notes.save_note(
                get_db(),
                get_extractor(),
                get_policy(),
                customer_id,
                text,
                agent=agent.id,
                dropped=_dropped(),
            )
    except TrustlineNLPError as exc:
        raise ProfileError(400, "invalid_text", exc.agent_message()) from exc
    if not is_htmx():
        return redirect(url_for(".page", customer=customer_id), 303)
    context = _main_context(agent, customer_id, None)
    return make_response(render_template("sidebar/_saved.html", **context, saved=_summary(stored)))


def _summary(stored: dict[str, Any]) -> dict[str, int]:
    decisions = stored["decisions"]
    return {
        "stored": len(stored["facts"]),
        "masked": sum(1 for d in decisions if d["reason"] == "never_store_secret"),
        "blocked": sum(
            1
            for d in decisions
            if d["outcome"] == "blocked" and d["reason"] != "never_store_secret"
        ),
        "consent": len(stored["consent_proposals"]),
        "requests": len(stored["requests"]),
        "left_out": len(stored["left_out"]),
    }


# -- consent ----------------------------------------------------------------------------


@bp.post("/sidebar/customers/<customer_id>/consents")
def record_consent(customer_id: str) -> Response:
    """Record the customer's verbal consent (with the script read to them), or a
    withdrawal. Asked from the composer, the note stays and its chips update."""
    agent = require_agent()
    _customer(agent, customer_id)
    policy = get_policy()
    purpose = request.form.get("purpose", "")
    status = request.form.get("status") or "granted"
    channel = request.form.get("channel") or None
    if purpose not in policy.purposes:
        raise ProfileError(400, "unknown_purpose", f"unknown purpose {purpose!r}")
    if status not in ("granted", "withdrawn"):
        raise ProfileError(400, "invalid_status", "status must be granted or withdrawn")
    if channel is not None and channel not in CHANNELS:
        raise ProfileError(400, "invalid_channel", f"unknown channel {channel!r}")
    per_channel = policy.purposes[purpose].enforcement == "consent_required_per_channel"
    if status == "granted" and per_channel and channel is None:
        # The script says "we ask for each channel separately": so does the form.
        raise ProfileError(400, "channel_required", "choose the channel the customer agreed to")
    evidence: dict[str, Any] = {"agent": agent.id}
    if status == "granted":
        wording, version = script(policy, purpose)
        if not wording:
            raise ProfileError(400, "no_wording", f"the policy has no script for {purpose!r}")
        evidence.update(wording=wording, wording_version=version)
    services.record_consent(
        get_db(),
        policy,
        customer_id,
        purpose=purpose,
        status=status,
        channel=channel,
        actor=agent.id,
        source="agent",
        method="verbal",
        evidence=evidence,
    )
    if "text" not in request.form:
        return _profile_response(agent, customer_id, _consent_notice(purpose, channel, status))
    composer = _composer(customer_id, request.form.get("text", ""), _dropped())
    if not is_htmx():
        context = _main_context(agent, customer_id, None, composer)
        return make_response(render_template("sidebar/page.html", **context, theme=_theme(agent)))
    panel = profile_panel(get_db(), policy, agent, customer_id)
    return make_response(
        render_template(
            "sidebar/_preview.html", customer_id=customer_id, **composer, oob_panel=panel
        )
    )


def _consent_notice(purpose: str, channel: str | None, status: str) -> str:
    what = purpose_label(purpose) + (f" by {value_label(channel)}" if channel else "")
    done = "granted" if status == "granted" else "withdrawn"
    return f"Recorded: {what} {done}."


@bp.post("/sidebar/customers/<customer_id>/proposals/<int:proposal_id>/confirm")
def confirm_proposal(customer_id: str, proposal_id: int) -> Response:
    """The customer confirms a consent found in a note, after hearing the script."""
    agent = require_agent()
    _customer(agent, customer_id)
    db, policy = get_db(), get_policy()
    proposal = sidebar_store(db).proposal(customer_id, proposal_id)
    if proposal is None:
        raise services.NotFound(f"consent proposal {proposal_id}")
    wording, version = script(policy, proposal["purpose"])
    if not wording:
        raise ProfileError(400, "no_wording", "the policy has no script for this purpose")
    services.confirm_proposal(
        db,
        policy,
        customer_id,
        proposal_id,
        actor=agent.id,
        wording=wording,
        wording_version=version,
    )
    return _profile_response(
        agent, customer_id, _consent_notice(proposal["purpose"], proposal["channel"], "granted")
    )


# -- corrections ------------------------------------------------------------------------


@bp.post("/sidebar/customers/<customer_id>/facts/<int:fact_id>/remove")
def remove_fact(customer_id: str, fact_id: int) -> Response:
    """Take a wrong fact out of the profile; the reason goes to the audit log."""
    agent = require_agent()
    _customer(agent, customer_id)
    reason = redact(get_extractor(), request.form.get("reason", "").strip()[:MAX_REASON])
    fact = services.remove_fact(get_db(), customer_id, fact_id, actor=agent.id, reason=reason)
    return _profile_response(agent, customer_id, f"Removed: {fact_label(fact['kind'], fact)}.")


@bp.post("/sidebar/customers/<customer_id>/facts/<int:fact_id>/correct")
def correct_fact(customer_id: str, fact_id: int) -> Response:
    """Correct a fact's value: the corrected fact supersedes it, with its own provenance."""
    agent = require_agent()
    _customer(agent, customer_id)
    extractor = get_extractor()
    changes = {
        key: redact(extractor, request.form[key].strip()[:MAX_NAME])
        for key in ("value", "polarity", "category", "severity")
        if request.form.get(key, "").strip()
    }
    reason = redact(extractor, request.form.get("reason", "").strip()[:MAX_REASON])
    fact = services.correct_fact(
        get_db(), get_policy(), customer_id, fact_id, changes, actor=agent.id, reason=reason
    )
    return _profile_response(agent, customer_id, f"Corrected: {fact_label(fact['kind'], fact)}.")


@bp.post("/sidebar/customers/<customer_id>/facts/<int:fact_id>/status")
def complaint_status(customer_id: str, fact_id: int) -> Response:
    """Mark a complaint resolved (or open again)."""
    agent = require_agent()
    _customer(agent, customer_id)
    status = request.form.get("status", "resolved")
    fact = services.set_complaint_status(get_db(), customer_id, fact_id, status, actor=agent.id)
    done = "Resolved" if fact["status"] == "resolved" else "Reopened"
    return _profile_response(agent, customer_id, f"{done}: {fact_label(fact['kind'], fact)}.")


# -- customers --------------------------------------------------------------------------


@bp.post("/sidebar/customers")
def create_customer() -> Response:
    """Create the customer the host is showing, if the agent's role may."""
    agent = require_agent()
    if not agent.can_create_customers:
        raise ProfileError(403, "forbidden", "your role cannot create customers")
    external_id = request.form.get("external_id", "").strip()
    name = request.form.get("name", "").strip()
    if not external_id or not name or len(name) > MAX_NAME or len(external_id) > MAX_NAME:
        raise ProfileError(400, "invalid_request", "give the customer's name")
    db = get_db()
    customer_id = resolve(db, agent, external_id)
    if customer_id is None:
        customer_id = f"{DEMO_PREFIX if agent.is_demo else ''}cust-{secrets.token_hex(6)}"
        services.upsert_customer(
            db,
            customer_id,
            actor=agent.id,
            name=redact(get_extractor(), name),
            identities=[services.Identity(agent.source, external_id)],
        )
    if not is_htmx():
        return redirect(url_for(".page", customer=customer_id), 303)
    resp = make_response(
        render_template("sidebar/_main.html", **_main_context(agent, customer_id, None))
    )
    resp.headers["HX-Replace-Url"] = url_for(".page", customer=customer_id)
    return resp
