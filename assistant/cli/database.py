"""`trustline db`: the database schema."""

from __future__ import annotations

import click

from ..db import app_db


@click.group()
def db() -> None:
    """Migrate the database schema."""


@db.command("migrate")
def db_migrate() -> None:
    """Apply pending schema migrations (also done at every start-up)."""
    from ..store.sqlite.db import migrate

    with app_db() as (app, handle):
        applied = migrate(handle)
        click.echo(f"database: {app.config.get('TRUSTLINE_DATABASE') or 'instance/trustline.db'}")
        click.echo("schema is up to date" if not applied else "applied: " + ", ".join(applied))
