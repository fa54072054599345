"""`trustline sessions list|revoke`: the sidebar sessions kept server-side."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from ..store.sqlite import sessions as records


@click.group()
def sessions() -> None:
    """List and revoke sidebar sessions.

    Sessions are kept server-side; a revoked one answers 401 at once.
    """


@sessions.command("list")
@click.option("--agent", "agent_id", default=None, help="Only this agent's sessions.")
@click.option("--issuer", default=None, help="Only sessions launched by this host.")
@click.option("--all", "everything", is_flag=True, help="Ended and expired ones too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(agent_id: str | None, issuer: str | None, everything: bool, as_json: bool) -> None:
    """List sidebar sessions, oldest first (never their tokens)."""
    from ..db import app_db

    with app_db() as (_, db):
        found = records.listing(db, agent_id=agent_id, issuer=issuer, everything=everything)
    if as_json:
        click.echo(json.dumps([{**asdict(r), "state": r.state()} for r in found], indent=2))
        return
    if not found:
        click.echo("no sessions")
    for r in found:
        ended = f" ({r.end_reason})" if r.end_reason else ""
        click.echo(
            f"{r.id}  {r.issuer}:{r.agent_id} ({r.agent_name}, {r.role})  "
            f"since {r.created_at}  until {r.expires_at}  {r.state()}{ended}"
        )


@sessions.command("revoke")
@click.argument("ids", nargs=-1, type=int)
@click.option("--agent", "agent_id", default=None, help="Every active session of this agent.")
@click.option("--issuer", default=None, help="With --agent: only those from this host.")
@click.option(
    "--reason",
    default="revoked with trustline sessions revoke",
    show_default=True,
    help="Why, kept with the session.",
)
def revoke(ids: tuple[int, ...], agent_id: str | None, issuer: str | None, reason: str) -> None:
    """End sessions by id, or all of an agent's sessions.

    Their next request answers 401 and their open event streams end.
    """
    from ..db import app_db

    if not ids and agent_id is None:
        raise click.UsageError("give session ids, or --agent")
    with app_db() as (_, db):
        ended = records.end(db, ids=list(ids), agent_id=agent_id, issuer=issuer, reason=reason)
    missing = sorted(set(ids) - set(ended))
    click.echo(
        f"ended {len(ended)} session(s)" + (f": {', '.join(map(str, ended))}" if ended else "")
    )
    if missing:
        raise click.ClickException(f"no active session {', '.join(map(str, missing))}")
