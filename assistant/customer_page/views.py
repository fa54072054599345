"""The customer's page and its forms. Plain HTML, no script: every control is a form
that posts and redirects (POST, then 303 to the page), protected by a CSRF token.

The link in the message (`/my/<token>`) is exchanged for a cookie holding the token
(HttpOnly, Secure, SameSite=Lax, path /my, living no longer than the link) and the
browser is sent to `/my`, so the token leaves the address bar and the history. Every
request checks the token again: a link revoked, expired or whose customer was erased
stops working at once. Whatever is wrong with a link, the answer is the same plain page
with the same status (401), which says nothing about the customer or the reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from datetime import timedelta
from typing import Any

from flask import (
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from .. import services
from ..consent import CHANNELS
from ..db import get_db
from ..domain.errors import ProfileError
from ..engine import get_extractor, get_policy
from ..redaction import redact
from ..security import EXTENSION as RATE_LIMITS
from ..security import RateLimiter
from ..store.sqlite.customer_page import customer_page_store
from . import bp, i18n, links
from . import page as model

log = logging.getLogger(__name__)

COOKIE = "trustline_customer"
COOKIE_PATH = "/my"
CSRF_FIELD = "csrf_token"
MAX_DETAILS = 1000
# No script at all; styles from our own files; nothing may frame the page or be posted
# anywhere but here.
CSP = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
DONE = ("consent", "request")


def link_key() -> bytes:
    return links.signing_key(str(current_app.secret_key))


def csrf_token(token: str) -> str:
    """The forms' CSRF token: bound to the link, unknown to anyone without the key."""
    message = b"csrf:" + links.digest(token).encode("ascii")
    return hmac.new(link_key(), message, hashlib.sha256).hexdigest()


# -- guards --------------------------------------------------------------------------------


def _presented() -> str:
    """The token of this request: the link's path on opening, the cookie afterwards."""
    if request.endpoint == "customer_page.open_link":
        return str((request.view_args or {}).get("token", ""))
    return request.cookies.get(COOKIE, "")


@bp.before_request
def _guard() -> Response | None:
    """Rate limit, then authenticate the link (401), then CSRF for forms (403)."""
    token = _presented()
    limited = _rate_limit(token)
    if limited is not None:
        return limited
    try:
        g.customer_link = links.verify(get_db(), link_key(), token)
    except links.LinkRefused as exc:
        # The reason is for operators; the token itself is never logged.
        log.info("customer page refused: %s", exc.reason)
        return refused()
    g.customer_token = token
    if request.method == "POST":
        sent = request.form.get(CSRF_FIELD, "")
        if not hmac.compare_digest(sent.encode(), csrf_token(token).encode()):
            return _message(403, i18n.gettext("This form has expired. Open the page again."))
    return None


def _rate_limit(token: str) -> Response | None:
    """The server's rate limit, one bucket per link; tokens this server never signed
    share one per client address."""
    limiter: RateLimiter | None = current_app.extensions.get(RATE_LIMITS)
    if limiter is None:
        return None
    if links.signed(token, link_key()):
        who = "customer-link:" + links.digest(token)[:32]
    else:
        who = f"customer-unsigned:{request.remote_addr}"
    wait = limiter.take(who)
    if not wait:
        return None
    resp = _message(429, i18n.gettext("Too many requests. Wait a minute and try again."))
    resp.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return resp


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Robots-Tag"] = "noindex, nofollow"
    resp.headers.setdefault("Content-Language", i18n.language())
    return resp


def refused() -> Response:
    """The one answer to every link that does not work: it names nobody and no reason."""
    resp = make_response(render_template("customer/refused.html", lang=i18n.language()), 401)
    resp.delete_cookie(COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="Lax")
    return resp


def _message(status: int, message: str) -> Response:
    html = render_template("customer/message.html", message=message, lang=i18n.language())
    return make_response(html, status)


@bp.errorhandler(ProfileError)
def _profile_error(exc: ProfileError) -> Response:
    if exc.status == 404 and "customer" in exc.message:
        return refused()  # erased while the page was open
    return _message(
        exc.status, i18n.gettext("That did not work. Go back to the page and try again.")
    )


def _link() -> links.Link:
    found: links.Link = g.customer_link
    return found


def _actor() -> str:
    # The customer herself, through this link: names no one in the audit log.
    return f"customer-link:{_link().id}"


# -- the link and the page -----------------------------------------------------------------


@bp.get("/my/<token>")
def open_link(token: str) -> Response:
    """Exchange the link for a cookie and show the page without the token in its URL."""
    link = _link()
    lifetime = (link.expires_at - services.utcnow()) // timedelta(seconds=1)
    resp = redirect(url_for(".page"), 303)
    resp.set_cookie(
        COOKIE,
        token,
        max_age=max(1, int(lifetime)),
        path=COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="Lax",
    )
    return resp


@bp.get("/my")
def page() -> Response:
    policy = get_policy()
    view = model.page(get_db(), policy, _link().customer_id)
    done = request.args.get("done")
    html = render_template(
        "customer/page.html",
        **view,
        csrf_token=csrf_token(g.customer_token),
        done=done if done in DONE else None,
        lang=i18n.language(),
        m=model,
        expires_at=services.iso(_link().expires_at),
    )
    return make_response(html)


# -- controls ------------------------------------------------------------------------------


@bp.post("/my/consents")
def change_consent() -> Response:
    """Withdraw (or, where the policy lets customers opt in, grant) a purpose or a
    channel; the words of the button she pressed are the evidence."""
    policy = get_policy()
    purpose = request.form.get("purpose", "")
    status = request.form.get("status", "")
    channel = request.form.get("channel") or None
    declared = policy.purposes.get(purpose)
    if declared is None or declared.enforcement == "never_store":
        raise ProfileError(400, "unknown_purpose", "unknown purpose")
    if status not in ("granted", "withdrawn"):
        raise ProfileError(400, "invalid_status", "status must be granted or withdrawn")
    if channel is not None and channel not in CHANNELS:
        raise ProfileError(400, "invalid_channel", "unknown channel")
    per_channel = declared.enforcement == "consent_required_per_channel"
    if channel is not None and not per_channel:
        raise ProfileError(400, "invalid_channel", "this purpose has no channels")
    evidence: dict[str, Any] = {
        "page": model.PAGE_VERSION,
        "link_id": _link().id,
        "language": i18n.language(),
        "shown": model.shown(declared, status, channel),
        "wording": declared.wording,
        "wording_version": declared.wording_version,
    }
    if status == "granted":
        if not (declared.needs_consent and declared.self_service_grant):
            raise ProfileError(403, "no_self_service", "this purpose cannot be granted here")
        if per_channel and channel is None:
            raise ProfileError(400, "channel_required", "choose a channel")
    services.record_consent(
        get_db(),
        policy,
        _link().customer_id,
        purpose=purpose,
        status=status,
        channel=channel,
        actor=_actor(),
        source="customer",
        method="self_service",
        evidence=evidence,
    )
    return redirect(url_for(".page", done="consent") + "#consents", 303)


@bp.post("/my/requests")
def open_request() -> Response:
    """Ask for a correction (of one fact, or in general) or for erasure: a data-subject
    request the team must answer within a month."""
    kind = request.form.get("kind", "")
    if kind not in ("rectify", "erase"):
        raise ProfileError(400, "invalid_request_kind", "ask for a correction or erasure")
    if kind == "erase" and request.form.get("confirm") != "yes":
        raise ProfileError(400, "not_confirmed", "tick the box to confirm")
    fact_id = _fact_id(request.form.get("fact_id"))
    details = request.form.get("details", "").strip()[:MAX_DETAILS]
    if kind == "rectify" and fact_id is None and not details:
        raise ProfileError(400, "details_required", "say what is wrong")
    db, customer_id = get_db(), _link().customer_id
    already = customer_page_store(db).open_request_id(customer_id, kind, fact_id, "customer_page")
    if already is None or details:
        services.open_request(
            db,
            customer_id,
            kind,
            actor=_actor(),
            channel="customer_page",
            fact_id=fact_id,
            details=redact(get_extractor(), details) if details else None,
        )
    return redirect(url_for(".page", done="request") + "#requests", 303)


def _fact_id(raw: str | None) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ProfileError(400, "invalid_fact", "unknown fact")
    return int(raw)


@bp.get("/my/export")
def download() -> Response:
    """Everything held about her, as the API's export (Art. 15 and 20)."""
    doc = services.export(get_db(), get_policy(), _link().customer_id)
    resp = Response(json.dumps(doc, indent=2, ensure_ascii=False), mimetype="application/json")
    resp.headers["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return resp


@bp.post("/my/leave")
def leave() -> Response:
    """Forget the link on this device (a shared phone, a library computer): the link
    itself still works from the message it came in."""
    resp = make_response(
        render_template("customer/left.html", lang=i18n.language()),
    )
    resp.delete_cookie(COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="Lax")
    return resp
