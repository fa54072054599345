"""`trustline webhooks ...` commands."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import sqlite_utils
from flask import Flask

from . import deliveries, inbox, subscriptions
from .errors import WebhookError
from .worker import CONFIG_KEY, Worker

ACTOR = "cli"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def _app_db() -> Iterator[tuple[Flask, sqlite_utils.Database]]:
    from .. import create_app
    from ..db import get_db

    app = create_app()
    with app.app_context():
        try:
            yield app, get_db()
        except WebhookError as exc:
            raise click.ClickException(f"{exc.message} ({exc.code})") from exc


def _echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))


@click.group()
def webhooks() -> None:
    """Manage outbound webhooks, their deliveries and dead letters."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--events",
    default="*",
    show_default=True,
    help="Comma-separated event types, or '*' for all (customer.erased always comes).",
)
@click.option("--description", default=None, help="A note for operators.")
def add(url: str, events: str, description: str | None) -> None:
    """Subscribe a URL to events and print its secret once.

    The new whsec_ signing secret is the last word of the output; it is never shown again.
    """
    from ..engine import get_extractor
    from ..redaction import redact

    with _app_db() as (app, db):
        sub, secret = subscriptions.create(
            db,
            url,
            events.split(","),
            actor=ACTOR,
            description=None if description is None else redact(get_extractor(), description),
            allowed=app.extensions[CONFIG_KEY].allowed_networks,
        )
    click.echo(f"subscription {sub['id']}: {sub['url']} ({', '.join(sub['events'])})")
    click.echo(f"signing secret (shown once): {secret}")


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List subscriptions and their delivery counts.

    Secrets are never shown.
    """
    with _app_db() as (_, db):
        counts = deliveries.counts(db)
        subs = [{**s, "deliveries": counts.get(s["id"], {})} for s in subscriptions.list_all(db)]
    if as_json:
        _echo_json(subs)
        return
    if not subs:
        click.echo("no subscriptions (add one: trustline webhooks add URL --events TYPES)")
    for s in subs:
        state = "active" if s["active"] else f"disabled ({s['disabled_reason']})"
        tally = ", ".join(f"{k} {v}" for k, v in sorted(s["deliveries"].items())) or "none"
        click.echo(f"{s['id']:>4}  {state}  {s['url']}")
        click.echo(f"      events: {', '.join(s['events'])}; deliveries: {tally}")


@webhooks.command("disable")
@click.argument("subscription_id", type=int)
@click.option("--reason", default=None, help="Why (shown by `list`).")
def disable(subscription_id: int, reason: str | None) -> None:
    """Stop sending to a subscription until it is enabled again.

    Its deliveries wait in the database meanwhile.
    """
    with _app_db() as (_, db):
        subscriptions.update(db, subscription_id, actor=ACTOR, active=False, reason=reason)
    click.echo(f"subscription {subscription_id} disabled")


@webhooks.command("enable")
@click.argument("subscription_id", type=int)
def enable(subscription_id: int) -> None:
    """Resume a disabled subscription (its waiting deliveries go out)."""
    with _app_db() as (_, db):
        subscriptions.update(db, subscription_id, actor=ACTOR, active=True)
    click.echo(f"subscription {subscription_id} enabled")


@webhooks.command("rotate")
@click.argument("subscription_id", type=int)
def rotate(subscription_id: int) -> None:
    """Give a subscription a new signing secret and print it once.

    The previous secret keeps signing for the overlap (both signatures are sent). The new
    secret is the last word of the output.
    """
    with _app_db() as (app, db):
        overlap = app.extensions[CONFIG_KEY].secret_overlap_hours
        secret, until = subscriptions.rotate(
            db, subscription_id, actor=ACTOR, overlap_hours=overlap
        )
    click.echo(f"subscription {subscription_id}: previous secret signs until {until}")
    click.echo(f"new signing secret (shown once): {secret}")


@webhooks.command("worker")
@click.option("--until-idle", is_flag=True, help="Stop once nothing is left to deliver.")
@click.option("--timeout", type=float, default=None, help="Stop after this many seconds.")
def worker(until_idle: bool, timeout: float | None) -> None:
    """Deliver webhooks until stopped.

    SIGTERM or Ctrl-C end it after the attempts in flight; even SIGKILL loses nothing.
    """
    from .. import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in STOP_SIGNALS}
    click.echo("webhook worker running", err=True)
    try:
        Worker(app).run(stop, until_idle=until_idle, timeout=timeout)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("webhook worker stopped", err=True)


@webhooks.command("deliveries")
@click.option(
    "--status",
    type=click.Choice(deliveries.STATUSES),
    default=None,
    help="Only these (dead: the dead letters).",
)
@click.option(
    "--subscription", "subscription_id", type=int, default=None, help="Only this subscription's."
)
@click.option("--customer", "customer_id", default=None, help="Only this customer's.")
@click.option("--id", "delivery_id", type=int, default=None, help="One delivery, with attempts.")
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=50,
    show_default=True,
    help="At most this many.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def deliveries_(
    status: str | None,
    subscription_id: int | None,
    customer_id: str | None,
    delivery_id: int | None,
    limit: int,
    as_json: bool,
) -> None:
    """List deliveries, newest first, dead letters included.

    `--status dead` shows only the dead letters.
    """
    with _app_db() as (_, db):
        if delivery_id is not None:
            _echo_json(deliveries.get(db, delivery_id))
            return
        found = deliveries.listing(
            db,
            status=status,
            subscription_id=subscription_id,
            customer_id=customer_id,
            limit=limit,
        )
    if as_json:
        _echo_json(found)
        return
    if not found:
        click.echo("no deliveries")
    for d in found:
        extra = d["last_error"] or ""
        if d["status"] == "pending":
            extra = f"next {d['next_attempt_at']}" + (f" ({d['held']})" if d.get("held") else "")
        click.echo(
            f"{d['id']:>6}  {d['status']:<9} {d['attempts']}x  sub {d['subscription_id']}  "
            f"{d['type']}  customer {d['customer_id'] or '-'}  {extra}"
        )


@webhooks.command("replay")
@click.argument("delivery_ids", type=int, nargs=-1)
@click.option("--all-dead", is_flag=True, help="Every dead letter (of --subscription).")
@click.option(
    "--subscription",
    "subscription_id",
    type=int,
    default=None,
    help="With --all-dead: only this one's.",
)
def replay(delivery_ids: tuple[int, ...], all_dead: bool, subscription_id: int | None) -> None:
    """Send dead letters again (same webhook-id, fresh attempts)."""
    if not delivery_ids and not all_dead:
        raise click.UsageError("give delivery ids, or --all-dead")
    with _app_db() as (_, db):
        ids = deliveries.replay(
            db, delivery_ids, actor=ACTOR, all_dead=all_dead, subscription_id=subscription_id
        )
    click.echo(f"{len(ids)} deliver{'y' if len(ids) == 1 else 'ies'} queued again")


@webhooks.command("erasures")
@click.argument("customer_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def erasures(customer_id: str | None, as_json: bool) -> None:
    """Show whether erasures reached every subscriber.

    Prints the outcome per target; the exit status is 1 while an erasure is not yet
    acknowledged by every target.
    """
    with _app_db() as (_, db):
        found = deliveries.erasures(db, customer_id)
    if as_json:
        _echo_json(found)
    else:
        if not found:
            click.echo("no erasures recorded")
        for e in found:
            state = "propagated" if e["propagated"] else "NOT YET PROPAGATED"
            click.echo(f"customer {e['customer_id']} erased {e['recorded_at']}: {state}")
            for t in e["targets"]:
                click.echo(
                    f"  sub {t['subscription_id']} {t['url']}: {t['status']} after "
                    f"{t['attempts']} attempt(s)"
                    + (
                        f", {t['last_error']}"
                        if t["status"] != "delivered" and t["last_error"]
                        else ""
                    )
                )
    if not all(e["propagated"] for e in found):
        raise SystemExit(1)


@webhooks.command("inbox")
@click.option(
    "--status", type=click.Choice(inbox.STATUSES), default=None, help="Only messages in this state."
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=50,
    show_default=True,
    help="At most this many.",
)
def inbox_(status: str | None, limit: int) -> None:
    """List inbound messages, newest first (never their bodies)."""
    with _app_db() as (_, db):
        found = inbox.listing(db, status=status, limit=limit)
    if not found:
        click.echo("no inbound messages")
    for m in found:
        click.echo(
            f"{m['id']:>6}  {m['source']}  {m['status']:<9} {m['type'] or '-'}  "
            f"{m['received_at']}  {m['error'] or ''}"
        )
