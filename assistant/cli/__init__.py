"""The `trustline` command: `main` is the click group, and each module of this package
holds one group of commands, added here. No command module imports this one back.

- `extract`, `train`, `serve`, `evaluate` (`trustline eval`): the extractor and the server.
- `database` (`db`), `customers` (`customer`, `ingest`, `profile`), `consent`,
  `rights` (`export`, `erase`, `purge`), `admin` (`keys`, `audit`, `policy`): the profile.
- `trustline webhooks` and `trustline sessions` come from their packages
  (`assistant/webhooks/cli.py`, `assistant/sidebar/cli.py`).
"""

from __future__ import annotations

import click

from ..sidebar.cli import sessions
from ..webhooks.cli import webhooks
from . import admin, consent, customers, database, evaluate, extract, rights, serve, train
from .extract import stream_results, stream_texts

__all__ = ["main", "stream_results", "stream_texts"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trustline")
def main() -> None:
    """Trustline reads contact-centre notes and keeps only what the customer allows.

    It finds preferences, complaints, consent statements and sensitive data in a note,
    stores the facts the consent policy allows and masks every secret. Run
    `trustline COMMAND --help` for a command's options.
    """


for command in (
    extract.extract,
    train.train,
    serve.serve,
    evaluate.eval_command,
    database.db,
    customers.customer,
    customers.ingest,
    customers.show_profile,
    consent.consent,
    rights.export_command,
    rights.erase_command,
    rights.purge,
    admin.keys,
    admin.audit,
    admin.policy,
    webhooks,
    sessions,
):
    main.add_command(command)
