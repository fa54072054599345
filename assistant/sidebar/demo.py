"""The demo agent desktop at `/` (TRUSTLINE_DEMO): a fake helpdesk that frames the
sidebar, signs its launch tokens with the demo host secret, and switches customers the
way Chatwoot does (an `appContext` message to the frame). Also seeds its three customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlite_utils
from flask import Blueprint, Flask, Response, make_response, render_template, request, url_for

from nlp import Extractor

from .. import services
from ..db import get_db
from ..engine import get_extractor, get_policy
from ..policy import Policy
from ..store.sqlite.db import writing
from . import launch
from .config import DEMO_CRM_SOURCE, DEMO_ISSUER, DEMO_SOURCE, ROLES, sidebar_config
from .headers import protect
from .panels import script

bp = Blueprint("demo", __name__)

SEED_ACTOR = "demo-seed"


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    id: str
    name: str
    email: str
    contact_id: str  # the demo helpdesk's contact id (identity source DEMO_SOURCE)
    conversation_id: int
    crm_id: str
    grants: tuple[tuple[str, str | None], ...]  # (purpose, channel) granted
    withdrawals: tuple[tuple[str, str | None], ...]
    notes: tuple[str, ...]
    messages: tuple[tuple[str, str], ...]  # (who, text) of the fake conversation
    try_note: str  # a note to type in the demo


CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer(
        id="demo-ada",
        name="Ada Lovelace",
        email="ada@example.com",
        contact_id="101",
        conversation_id=5001,
        crm_id="A-1001",
        grants=(("personalization", None), ("marketing", "email")),
        withdrawals=(),
        notes=(
            "Cust prefers email, no calls pls. Parcel arrived damaged again, very unhappy.",
            "Interested in hiking boots, size 6. Prefers store pickup.",
        ),
        messages=(
            ("customer", "Hi, my parcel arrived damaged. That's the second time this month!"),
            ("agent", "I'm so sorry, Ada. Let me sort out a replacement right away."),
            ("customer", "Thanks. Please e-mail me about it, I can't take calls at work."),
        ),
        try_note="Replacement sent. She'd like the eco delivery option next time.",
    ),
    DemoCustomer(
        id="demo-grace",
        name="Grace Hopper",
        email="grace@example.com",
        contact_id="102",
        conversation_id=5002,
        crm_id="A-1002",
        grants=(),
        withdrawals=(("marketing", None),),
        notes=(
            "Customer wants texts in the evening. Charged twice for her last order, billing issue.",
            "She asked us to delete all her data.",
        ),
        messages=(
            ("customer", "You charged me twice for my last order."),
            ("agent", "I can see both payments, Grace. I'm refunding one now."),
            ("customer", "Good. And honestly, please delete all my data afterwards."),
        ),
        try_note="Refund issued for the double charge. Customer says billing is resolved.",
    ),
    DemoCustomer(
        id="demo-alan",
        name="Alan Turing",
        email="alan@example.com",
        contact_id="103",
        conversation_id=5003,
        crm_id="A-1003",
        grants=(),
        withdrawals=(),
        notes=("Alan said he is happy to get our newsletter by email.",),
        messages=(
            ("customer", "Do you have chess sets? I'd pay by PayPal."),
            ("agent", "We do! Shall I note your interest so we can suggest some?"),
            ("customer", "Sure. My card is 4111 1111 1111 1111 if that helps."),
        ),
        try_note="Interested in chess sets, pays by paypal. Card 4111 1111 1111 1111.",
    ),
)
BY_ID = {c.id: c for c in CUSTOMERS}
AGENTS = {"agent": ("demo-agent", "Sam (demo agent)"), "supervisor": ("demo-lead", "Robin (lead)")}


def seed(
    db: sqlite_utils.Database,
    extractor: Extractor,
    policy: Policy,
    *,
    now: datetime | None = None,
) -> list[str]:
    """Create the demo customers that do not exist yet (idempotent); returns their ids."""
    created = []
    for customer in CUSTOMERS:
        try:
            services.get_customer(db, customer.id)
            continue
        except services.NotFound:
            pass
        with writing(db):  # all of a customer or nothing: a re-run then seeds it whole
            _seed_one(db, extractor, policy, customer, now)
        created.append(customer.id)
    return created


def _seed_one(
    db: sqlite_utils.Database,
    extractor: Extractor,
    policy: Policy,
    customer: DemoCustomer,
    now: datetime | None,
) -> None:
    services.upsert_customer(
        db,
        customer.id,
        actor=SEED_ACTOR,
        name=customer.name,
        email=customer.email,
        identities=[
            services.Identity(DEMO_SOURCE, customer.contact_id),
            services.Identity(DEMO_CRM_SOURCE, customer.crm_id),
        ],
        now=now,
    )
    for purpose, channel in customer.grants:
        wording, version = script(policy, purpose)
        services.record_consent(
            db,
            policy,
            customer.id,
            purpose=purpose,
            channel=channel,
            status="granted",
            actor=SEED_ACTOR,
            source="agent",
            method="verbal",
            evidence={"agent": SEED_ACTOR, "wording": wording, "wording_version": version},
            now=now,
        )
    for purpose, channel in customer.withdrawals:
        services.record_consent(
            db,
            policy,
            customer.id,
            purpose=purpose,
            channel=channel,
            status="withdrawn",
            actor=SEED_ACTOR,
            source="agent",
            method="verbal",
            evidence={"agent": SEED_ACTOR},
            now=now,
        )
    for note in customer.notes:
        services.ingest_note(
            db, extractor, policy, customer.id, note, agent="demo-agent", source="demo", now=now
        )


def seed_app(app: Flask) -> list[str]:
    """At start-up of `trustline serve`: seed the demo customers when TRUSTLINE_DEMO is on."""
    with app.app_context():
        if not sidebar_config().demo:
            return []
        return seed(get_db(), get_extractor(), get_policy())


@bp.after_request
def _headers(resp: Response) -> Response:
    return protect(resp, "'none'")  # the desktop frames the sidebar; nobody frames it


@bp.get("/")
def desktop() -> Response:
    """The demo agent desktop (or, with the demo off, a pointer to the docs)."""
    config = sidebar_config()
    if not config.demo:
        return make_response(render_template("demo/off.html"))
    current = BY_ID.get(request.args.get("customer", ""), CUSTOMERS[0])
    role = request.args.get("role", "agent")
    role = role if role in ROLES else "agent"
    theme = request.args.get("theme")
    theme = theme if theme in launch.THEMES else None
    agent_id, agent_name = AGENTS[role]
    token = launch.sign(
        config.launch_secrets[DEMO_ISSUER],
        issuer=DEMO_ISSUER,
        audience=config.audience,
        agent_id=agent_id,
        name=agent_name,
        role=role,
        source=DEMO_SOURCE,
        customer=current.contact_id,
        theme=theme,
        lifetime=min(120, config.launch_max_age),
    )
    return make_response(
        render_template(
            "demo/desktop.html",
            customers=CUSTOMERS,
            current=current,
            role=role,
            theme=theme,
            agent_name=agent_name,
            launch_url=url_for("sidebar.launch", token=token),
        )
    )
