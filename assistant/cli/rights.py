"""`trustline export`, `erase`, `purge`: data-subject rights and retention."""

from __future__ import annotations

import click

from .. import services
from ..db import app_db
from ..domain.errors import ProfileError
from .common import echo_json, fail


@click.command("export")
@click.argument("customer_id")
def export_command(customer_id: str) -> None:
    """Print everything held on a customer as one JSON document.

    This is the export of GDPR Art. 15 (access) and Art. 20 (portability).
    """
    from ..engine import get_policy

    with app_db() as (_, handle):
        try:
            echo_json(services.export(handle, get_policy(), customer_id))
        except ProfileError as exc:
            raise fail(exc) from exc


@click.command("erase")
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
            echo_json(services.erase(handle, customer_id, actor="cli"))  # checkpoints the WAL
        except ProfileError as exc:
            raise fail(exc) from exc


@click.command()
def purge() -> None:
    """Delete what is older than its purpose's retention period."""
    from ..engine import get_policy

    with app_db() as (_, handle):
        echo_json(services.purge(handle, get_policy(), actor="cli"))
