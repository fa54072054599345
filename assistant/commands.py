"""`trustline` commands on the customer profile: customers, notes, consent, rights, keys."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
import sqlite_utils
from flask import Flask

from nlp import TrustlineNLPError

from . import services
from .auth import SCOPES, create_key
from .cli import main
from .consent import CHANNELS
from .domain.errors import ProfileError
from .policy import Policy, PolicyError

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def app_db() -> Iterator[tuple[Flask, sqlite_utils.Database]]:
    """The app (settings, migrated database) and a database handle, inside its context."""
    from . import create_app
    from .db import get_db

    app = create_app()
    with app.app_context():
        yield app, get_db()


def _echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))


def _fail(exc: ProfileError) -> click.ClickException:
    return click.ClickException(f"{exc.message} ({exc.code})")


# -- database --------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Migrate the database schema."""


@db.command("migrate")
def db_migrate() -> None:
    """Apply pending schema migrations (also done at every start-up)."""
    from .store.sqlite.db import migrate

    with app_db() as (app, handle):
        applied = migrate(handle)
        click.echo(f"database: {app.config.get('TRUSTLINE_DATABASE') or 'instance/trustline.db'}")
        click.echo("schema is up to date" if not applied else "applied: " + ", ".join(applied))


# -- customers and notes ---------------------------------------------------------------


@main.group()
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
    from .engine import get_extractor
    from .redaction import redact

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
            raise _fail(exc) from exc
        _echo_json(
            {**found, "identities": services.identities_of(handle, customer_id), "created": created}
        )


@main.command()
@click.argument("customer_id")
@click.option("--agent", required=True, help="Who wrote the note.")
@click.option("--source", default="agent", show_default=True, help="Where the note came from.")
def ingest(customer_id: str, agent: str, source: str) -> None:
    """Store a note read on stdin, with the facts the policy allows.

    Prints the stored note, its facts, the decisions and any consent proposals as JSON.
    """
    from .engine import get_extractor, get_policy

    text = sys.stdin.read()
    with app_db() as (_, handle):
        try:
            stored = services.save_note(
                handle, get_extractor(), get_policy(), customer_id, text, agent=agent, source=source
            )
        except ProfileError as exc:
            raise _fail(exc) from exc
        except TrustlineNLPError as exc:
            raise click.ClickException(str(exc)) from exc
        _echo_json(stored)


@main.command("profile")
@click.argument("customer_id")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
def show_profile(customer_id: str, as_json: bool) -> None:
    """Show a customer's consents, complaints and preferences."""
    from .engine import get_policy

    with app_db() as (_, handle):
        try:
            view = services.profile(handle, get_policy(), customer_id)
        except ProfileError as exc:
            raise _fail(exc) from exc
    if as_json:
        _echo_json(view)
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


# -- consent ---------------------------------------------------------------------------


@main.group()
def consent() -> None:
    """Record, confirm or withdraw a customer's consent.

    The consent ledger is append-only: each command adds a record.
    """


def _policy() -> Policy:
    """The policy in use: TRUSTLINE_POLICY, or the shipped default."""
    from .policy import load_policy
    from .settings import BY_NAME

    return load_policy(BY_NAME["TRUSTLINE_POLICY"].read() or None)


class PurposeType(click.ParamType[str]):
    """A purpose the policy declares; read from the policy when the command runs, so that
    the help and the errors list the purposes of the policy in use."""

    name = "purpose"

    def __init__(self, *, allow_all: bool = False) -> None:
        self.allow_all = allow_all

    def choices(self) -> list[str]:
        return [*_policy().purposes, *(["all"] if self.allow_all else [])]

    def listing(self) -> str:
        """The purposes as the help lists them."""
        try:
            return "One of: " + ", ".join(self.choices()) + "."
        except PolicyError:  # a broken policy is reported when the command runs
            return "(The policy cannot be read.)"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            choices = self.choices()
        except PolicyError as exc:
            self.fail(f"the policy cannot be read: {exc}", param, ctx)
        if value not in choices:
            self.fail(
                f"unknown purpose {value!r}; the policy declares: {', '.join(choices)}",
                param,
                ctx,
            )
        return str(value)


class PurposeOption(click.Option):
    """An option of PurposeType whose help ends with the policy's purposes."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        plain = self.help
        if isinstance(self.type, PurposeType):
            self.help = f"{plain or ''} {self.type.listing()}".strip()
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = plain


def _consent_command(status: str) -> Callable[..., None]:
    @click.argument("customer_id")
    @click.option(
        "--purpose",
        cls=PurposeOption,
        required=True,
        type=PurposeType(allow_all=status != "granted"),
        metavar="PURPOSE",
        help="What the consent is for, as the policy names it"
        + ("; 'all' withdraws every purpose." if status != "granted" else "."),
    )
    @click.option(
        "--channel",
        default=None,
        help="Only this channel (" + ", ".join(CHANNELS) + "); every channel without it.",
    )
    @click.option("--agent", required=True, help="Who recorded it.")
    @click.option("--evidence", required=True, help="What the customer said or was shown.")
    def command(
        customer_id: str, purpose: str, channel: str | None, agent: str, evidence: str
    ) -> None:
        from .engine import get_extractor, get_policy
        from .redaction import redact

        with app_db() as (_, handle):
            try:
                record = services.record_consent(
                    handle,
                    get_policy(),
                    customer_id,
                    purpose=purpose,
                    status=status,
                    channel=channel,
                    actor=agent,
                    source="agent",
                    method="cli",
                    evidence={"agent": agent, "text": redact(get_extractor(), evidence)},
                )
            except ProfileError as exc:
                raise _fail(exc) from exc
            _echo_json(record)

    return command


consent.command("grant", help="Record that the customer granted a purpose.")(
    _consent_command("granted")
)
consent.command("withdraw", help="Record a withdrawal; it applies at once.")(
    _consent_command("withdrawn")
)


@consent.command("confirm")
@click.argument("customer_id")
@click.argument("proposal_id", type=click.IntRange(1))
@click.option("--agent", required=True, help="Who read the wording to the customer.")
@click.option("--yes", is_flag=True, help="Do not ask; the customer agreed to the wording.")
def consent_confirm(customer_id: str, proposal_id: int, agent: str, yes: bool) -> None:
    """Confirm a consent proposal found in a note.

    A grant found in a note is only a proposal until the customer agrees to the policy's
    wording for its purpose. This prints the wording, asks whether the customer agreed,
    then records the consent with that wording and its version as evidence. `trustline
    ingest` prints a note's proposals (consent_proposals) and `trustline profile` the
    pending ones.
    """
    from .engine import get_policy

    with app_db() as (_, handle):
        policy = get_policy()
        try:
            pending = services.profile(handle, policy, customer_id)["consent_proposals"]
        except ProfileError as exc:
            raise _fail(exc) from exc
        proposal = next((p for p in pending if p["id"] == proposal_id), None)
        if proposal is None:
            raise click.ClickException(
                f"{customer_id} has no pending consent proposal {proposal_id}; "
                f"`trustline profile {customer_id}` lists the pending ones"
            )
        try:
            wording, version = policy.wording(proposal["purpose"])
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from exc
        channel = f" by {proposal['channel']}" if proposal["channel"] else ""
        click.echo(f"{proposal['purpose']}{channel}, wording {version}:", err=True)
        click.echo(f"  {wording}", err=True)
        if not yes:
            click.confirm("Did the customer agree to this wording?", abort=True, err=True)
        try:
            record = services.confirm_proposal(
                handle,
                policy,
                customer_id,
                proposal_id,
                actor=agent,
                wording=wording,
                wording_version=version,
            )
        except ProfileError as exc:
            raise _fail(exc) from exc
        _echo_json(record)


# -- rights and retention --------------------------------------------------------------


@main.command("export")
@click.argument("customer_id")
def export_command(customer_id: str) -> None:
    """Print everything held on a customer as one JSON document.

    This is the export of GDPR Art. 15 (access) and Art. 20 (portability).
    """
    from .engine import get_policy

    with app_db() as (_, handle):
        try:
            _echo_json(services.export(handle, get_policy(), customer_id))
        except ProfileError as exc:
            raise _fail(exc) from exc


@main.command("erase")
@click.argument("customer_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(customer_id: str, yes: bool) -> None:
    """Erase a customer's personal data everywhere.

    The right to erasure (GDPR Art. 17). A tombstone of hashed identifiers keeps the
    customer's objections honoured.
    """
    if not yes:
        click.confirm(f"Erase all personal data of {customer_id}?", abort=True)
    with app_db() as (_, handle):
        try:
            _echo_json(services.erase(handle, customer_id, actor="cli"))  # checkpoints the WAL
        except ProfileError as exc:
            raise _fail(exc) from exc


@main.command()
def purge() -> None:
    """Delete what is older than its purpose's retention period."""
    from .engine import get_policy

    with app_db() as (_, handle):
        _echo_json(services.purge(handle, get_policy(), actor="cli"))


# -- keys, audit, policy ---------------------------------------------------------------


@main.group()
def keys() -> None:
    """Create API keys for integrations.

    Only a key's sha256 digest is stored.
    """


@keys.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="read, write, consent or admin (repeatable).",
)
def keys_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create an API key and print it once.

    The key is the last word of the output; only its sha256 digest is stored.
    """
    from .engine import get_extractor
    from .redaction import redact

    with app_db() as (_, handle):
        # A key's name is free text an operator writes: it is masked like a note.
        name = redact(get_extractor(), name)
        key = create_key(handle, name, scopes)
    click.echo(f"API key for {name} (scopes: {' '.join(sorted(set(scopes)))}): {key}")


@main.group()
def audit() -> None:
    """Check the hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Check that no audit entry was changed; exit 1 if one was.

    An entry edited, deleted or inserted breaks the chain.
    """
    from .store.sqlite import audit as audit_log

    with app_db() as (_, handle):
        result = audit_log.verify(handle)
    if result.ok:
        click.echo(f"audit log intact: {result.entries} entries")
        return
    click.echo(
        f"audit log BROKEN at entry {result.first_bad_id}: {result.problem} "
        f"({result.entries} entries checked)",
        err=True,
    )
    sys.exit(1)


@main.group()
def policy() -> None:
    """Report on the consent policy in use.

    The policy is TRUSTLINE_POLICY, or the shipped default.
    """


@policy.command("report")
def policy_report() -> None:
    """Print the record of processing activities made from the policy.

    This is the record GDPR Art. 30 asks for.
    """
    from .policy import load_policy, processing_report
    from .settings import BY_NAME

    click.echo(processing_report(load_policy(BY_NAME["TRUSTLINE_POLICY"].read() or None)))


from .customer_page.cli import link as customer_link  # noqa: E402
from .sidebar.cli import sessions  # noqa: E402
from .webhooks.cli import webhooks  # noqa: E402

main.add_command(webhooks)
main.add_command(sessions)
customer.add_command(customer_link)
