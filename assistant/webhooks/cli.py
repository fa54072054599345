"""`trustline webhooks ...` commands."""

from __future__ import annotations

import click


@click.group()
def webhooks() -> None:
    """Outbound webhook subscriptions, the delivery worker and dead letters."""
