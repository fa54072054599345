"""`trustline keys`, `audit`, `policy`: API keys, the audit log, the policy report."""

from __future__ import annotations

import sys

import click

from ..auth import SCOPES, create_key
from ..db import app_db


@click.group()
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
    from ..engine import get_extractor
    from ..redaction import redact

    with app_db() as (_, handle):
        # A key's name is free text an operator writes: it is masked like a note.
        name = redact(get_extractor(), name)
        key = create_key(handle, name, scopes)
    click.echo(f"API key for {name} (scopes: {' '.join(sorted(set(scopes)))}): {key}")


@click.group()
def audit() -> None:
    """Check the hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Check that no audit entry was changed; exit 1 if one was.

    An entry edited, deleted or inserted breaks the chain.
    """
    from ..store.sqlite import audit as audit_log

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


@click.group()
def policy() -> None:
    """Report on the consent policy in use.

    The policy is TRUSTLINE_POLICY, or the shipped default.
    """


@policy.command("report")
def policy_report() -> None:
    """Print the record of processing activities made from the policy.

    This is the record GDPR Art. 30 asks for.
    """
    from ..policy import load_policy, processing_report
    from ..settings import BY_NAME

    click.echo(processing_report(load_policy(BY_NAME["TRUSTLINE_POLICY"].read() or None)))
