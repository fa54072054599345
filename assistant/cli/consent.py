"""`trustline consent`: record, confirm or withdraw a customer's consent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .. import services
from ..consent import CHANNELS
from ..db import app_db
from ..domain.errors import ProfileError
from ..policy import Policy, PolicyError
from .common import echo_json, fail


@click.group()
def consent() -> None:
    """Record, confirm or withdraw a customer's consent.

    The consent ledger is append-only: each command adds a record.
    """


def _policy() -> Policy:
    """The policy in use: TRUSTLINE_POLICY, or the shipped default."""
    from ..policy import load_policy
    from ..settings import BY_NAME

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
        from ..engine import get_extractor, get_policy
        from ..redaction import redact

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
                raise fail(exc) from exc
            echo_json(record)

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
    from ..engine import get_policy

    with app_db() as (_, handle):
        policy = get_policy()
        try:
            pending = services.profile(handle, policy, customer_id)["consent_proposals"]
        except ProfileError as exc:
            raise fail(exc) from exc
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
            raise fail(exc) from exc
        echo_json(record)
