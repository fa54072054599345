"""`trustline customer`, `ingest`, `profile`: customers, their notes and profiles."""

from __future__ import annotations

import sys

import click

from nlp import TrustlineNLPError

from .. import services
from ..customer_page.cli import link as customer_link
from ..db import app_db
from ..domain.errors import ProfileError
from .common import echo_json, fail


@click.group()
def customer() -> None:
    """Add customers and link their identities in other systems."""


def _identity(value: str) -> services.Identity:
    source, sep, external_id = value.partition(":")
    if not sep or not source or not external_id:
        raise click.BadParameter(f"{value!r}: use SOURCE:EXTERNAL_ID, e.g. crm:4711")
    return services.Identity(source, external_id)


@customer.command("add")
@click.argument("customer_id")
@click.option("--name", required=True, help="The customer's name (masked like a note).")
@click.option("--email", help="The customer's e-mail address.")
@click.option("--phone", help="The customer's phone number.")
@click.option("--identity", "identities", multiple=True, help="SOURCE:EXTERNAL_ID (repeatable)")
def customer_add(
    customer_id: str, name: str, email: str | None, phone: str | None, identities: tuple[str, ...]
) -> None:
    """Create or update CUSTOMER (the id your CRM uses)."""
    from ..engine import get_extractor
    from ..redaction import redact

    parsed = [_identity(i) for i in identities]
    with app_db() as (_, handle):
        try:
            found, created = services.upsert_customer(
                handle,
                customer_id,
                actor="cli",
                name=redact(get_extractor(), name),
                email=email,
                phone=phone,
                identities=parsed,
            )
        except ProfileError as exc:
            raise fail(exc) from exc
        echo_json(
            {**found, "identities": services.identities_of(handle, customer_id), "created": created}
        )


@click.command()
@click.argument("customer_id")
@click.option("--agent", required=True, help="Who wrote the note.")
@click.option("--source", default="agent", show_default=True, help="Where the note came from.")
def ingest(customer_id: str, agent: str, source: str) -> None:
    """Store a note read on stdin, with the facts the policy allows.

    Prints the stored note, its facts, the decisions and any consent proposals as JSON.
    """
    from ..engine import get_extractor, get_policy

    text = sys.stdin.read()
    with app_db() as (_, handle):
        try:
            stored = services.save_note(
                handle, get_extractor(), get_policy(), customer_id, text, agent=agent, source=source
            )
        except ProfileError as exc:
            raise fail(exc) from exc
        except TrustlineNLPError as exc:
            raise click.ClickException(str(exc)) from exc
        echo_json(stored)


@click.command("profile")
@click.argument("customer_id")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
def show_profile(customer_id: str, as_json: bool) -> None:
    """Show a customer's consents, complaints and preferences."""
    from ..engine import get_policy

    with app_db() as (_, handle):
        try:
            view = services.profile(handle, get_policy(), customer_id)
        except ProfileError as exc:
            raise fail(exc) from exc
    if as_json:
        echo_json(view)
        return
    c = view["customer"]
    click.echo(f"{c['name'] or c['id']} ({c['id']})")
    for ident in view["identities"]:
        click.echo(f"  known as {ident['source']}:{ident['external_id']}")
    click.echo("Consent:")
    for purpose, state in view["consents"].items():
        click.echo(f"  {purpose:<24} {state['summary']}")
    proposals = view["consent_proposals"]
    click.echo("Consent to confirm:" if proposals else "Consent to confirm: none")
    for p in proposals:
        channel = f" by {p['channel']}" if p["channel"] else ""
        click.echo(f"  #{p['id']} {p['purpose']}{channel}  <- {p['evidence_text']!r}")
    click.echo("Complaints:" if view["complaints"] else "Complaints: none")
    for f in view["complaints"]:
        click.echo(
            f"  #{f['id']} {f['category']} {f['severity']} {f['status']}"
            f"  <- {f['provenance']['evidence']['text']!r}"
        )
    click.echo("Preferences:" if view["preferences"] else "Preferences: none")
    for f in view["preferences"]:
        click.echo(
            f"  #{f['id']} {f['field']} = {f['value']} ({f['polarity']})"
            f"  <- {f['provenance']['evidence']['text']!r}"
        )


customer.add_command(customer_link)
