"""`trustline customer link CUSTOMER [--ttl 7d] [--revoke]`."""

from __future__ import annotations

import click

from ..domain.clock import iso
from ..domain.errors import ProfileError


@click.command("link")
@click.argument("customer_id")
@click.option(
    "--ttl",
    default=None,
    help="How long the link works, e.g. 7d, 12h or 30m (default TRUSTLINE_CUSTOMER_LINK_TTL).",
)
@click.option("--revoke", is_flag=True, help="End every link of CUSTOMER instead.")
def link(customer_id: str, ttl: str | None, revoke: bool) -> None:
    """Print a link to a customer's own page.

    The page shows CUSTOMER what we hold about them and why, and lets them change it.
    """
    from ..db import app_db
    from . import links
    from .api import link_url, ttl_setting
    from .views import link_key

    with app_db() as (app, handle):
        try:
            if revoke:
                count = links.revoke(handle, customer_id, actor="cli")
                click.echo(f"revoked {count} link(s) of {customer_id}")
                return
            try:
                lifetime = ttl_setting(app.config, ttl)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--ttl") from exc
            token, made = links.create(handle, link_key(), customer_id, ttl=lifetime, actor="cli")
        except ProfileError as exc:
            raise click.ClickException(f"{exc.message} ({exc.code})") from exc
        base = f"http://{app.config['TRUSTLINE_HOST']}:{app.config['TRUSTLINE_PORT']}"
        click.echo(f"valid until {iso(made.expires_at)}", err=True)
        click.echo(link_url(app, token, base))
