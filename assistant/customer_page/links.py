"""Links to a customer's own page: signed, expiring, revocable, and naming nobody.

A token is `<id>.<signature>`: `id` is 18 random bytes, `signature` an HMAC-SHA256 of
it under a key derived from the server's secret key. The token carries no personal
data; the server keeps only a digest of `id`, with the customer, the expiry and the
revocation, so a copy of the database opens no page. A token is refused
(`LinkRefused`, one error whatever the reason) when its signature is wrong, its record
is unknown, revoked or expired, or its customer was erased (erasure deletes the
customer's links with her).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from .. import services
from ..store.interface import CustomerPageStore
from ..store.sqlite.customer_page import customer_page_store

ID_BYTES = 18
SIGNATURE_BYTES = 18
_TOKEN = re.compile(r"[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{24}")
_TTL = re.compile(r"([0-9]{1,6})([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


class LinkRefused(Exception):
    """A token that opens nothing; `reason` is for the server's log, never the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    customer_id: str
    expires_at: datetime


def signing_key(secret_key: str) -> bytes:
    """The links' own key, derived from the server's secret key (rotating that ends
    every link)."""
    return hmac.new(secret_key.encode("utf-8"), b"trustline-customer-link/1", "sha256").digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _signature(key: bytes, link_id: str) -> str:
    return _b64(hmac.new(key, link_id.encode("ascii"), hashlib.sha256).digest()[:SIGNATURE_BYTES])


def digest(token: str) -> str:
    """What the server keeps of a token: the sha256 of its random part."""
    return hashlib.sha256(token.partition(".")[0].encode("ascii", "replace")).hexdigest()


def signed(token: str, key: bytes) -> bool:
    """True when `token` has the shape of a link token and this server signed it."""
    if not _TOKEN.fullmatch(token):
        return False
    link_id, _, signature = token.partition(".")
    return hmac.compare_digest(signature, _signature(key, link_id))


def parse_ttl(value: str, *, longest: timedelta) -> timedelta:
    """'7d', '12h', '30m', '90s' or seconds as a number; ValueError when malformed,
    not positive or longer than `longest`."""
    found = _TTL.fullmatch(value.strip().lower())
    if not found:
        raise ValueError(f"{value!r} is not a duration such as 7d, 12h or 30m")
    ttl = timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])
    if ttl <= timedelta(0):
        raise ValueError("a link must live at least one second")
    if ttl > longest:
        raise ValueError(f"a link may live at most {longest.days} days")
    return ttl


def create(
    db: sqlite_utils.Database,
    key: bytes,
    customer_id: str,
    *,
    ttl: timedelta,
    actor: str,
    now: datetime | None = None,
) -> tuple[str, Link]:
    """A new link for `customer_id` (NotFound if unknown); returns (token, link). The
    token is shown once: only its digest is stored."""
    at = now or services.utcnow()
    link_id = _b64(secrets.token_bytes(ID_BYTES))
    token = f"{link_id}.{_signature(key, link_id)}"
    expires = at + ttl
    store: CustomerPageStore = customer_page_store(db)
    with store.transaction():
        services.get_customer(db, customer_id)
        record_id = store.insert_link(
            customer_id, digest(token), actor, services.iso(at), services.iso(expires)
        )
        store.audit(
            at=services.iso(at),
            actor=actor,
            action="customer_link.created",
            subject=customer_id,
            details={"link_id": record_id, "expires_at": services.iso(expires)},
        )
    return token, Link(record_id, customer_id, expires)


def verify(
    db: sqlite_utils.Database, key: bytes, token: str, *, now: datetime | None = None
) -> Link:
    """The link `token` opens; raises LinkRefused (forged, unknown, revoked, expired,
    customer erased)."""
    if not signed(token, key):
        raise LinkRefused("bad signature or shape")
    store: CustomerPageStore = customer_page_store(db)
    found = store.link(digest(token))
    if found is None:
        raise LinkRefused("unknown link (or its customer was erased)")
    if found["revoked_at"]:
        raise LinkRefused(f"link {found['id']} was revoked")
    expires = services.parse_time(found["expires_at"])
    assert expires is not None
    if (now or services.utcnow()) >= expires:
        raise LinkRefused(f"link {found['id']} expired")
    return Link(int(found["id"]), str(found["customer_id"]), expires)


def revoke(
    db: sqlite_utils.Database,
    customer_id: str,
    *,
    actor: str,
    link_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Revoke the customer's live links (or just `link_id`); returns how many."""
    at = services.iso(now or services.utcnow())
    store: CustomerPageStore = customer_page_store(db)
    with store.transaction():
        services.get_customer(db, customer_id)
        count = store.revoke_links(customer_id, at, link_id)
        if count:
            store.audit(
                at=at,
                actor=actor,
                action="customer_link.revoked",
                subject=customer_id,
                details={"links": count, "link_id": link_id},
            )
    return int(count)
