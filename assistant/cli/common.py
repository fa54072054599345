"""What the command modules share: the extractor, the JSON output, errors, settings.

Nothing here imports the package's root (`assistant.cli`, which builds the group)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from nlp import Extractor, TrustlineNLPError

from .. import settings
from ..domain.errors import ProfileError


def load_extractor(model: str | None) -> Extractor:
    try:
        return Extractor.load(**settings.extractor_options(model))
    except TrustlineNLPError as exc:
        raise click.ClickException(str(exc)) from exc


def echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))


def fail(exc: ProfileError) -> click.ClickException:
    return click.ClickException(f"{exc.message} ({exc.code})")


def setting(name: str) -> Callable[[], Any]:
    return lambda: settings.BY_NAME[name].read()
