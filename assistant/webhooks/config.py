"""The webhook settings parsed once into typed records; a bad value stops start-up."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import settings
from .network import Network

SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
CHATWOOT = "chatwoot"
# The reference package refuses timestamps more than five minutes away from now.
MAX_TOLERANCE_SECONDS = 300


class WebhookConfigError(ValueError):
    """A webhook setting that cannot be used; the message names it and how to fix it."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"TL401 {setting}: {message}")
        self.setting = setting


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """How the worker delivers: schedule, timeouts, concurrency, allowed networks."""

    schedule: tuple[float, ...]
    max_attempts: int
    jitter: float  # a fraction: 0.1 adds up to 10 % to each delay
    max_retry_after: float
    connect_timeout: float
    read_timeout: float
    concurrency: int
    poll_interval: float
    secret_overlap_hours: float
    retention_days: int
    allowed_networks: tuple[Network, ...]

    @property
    def lease_seconds(self) -> float:
        """How long a claimed delivery stays claimed: a claim may wait for one exchange
        in the worker's queue, then takes one (each at most connect + read timeout),
        plus a margin. A worker killed mid-send leaves its claims to be taken again
        after this."""
        return 2 * (self.connect_timeout + self.read_timeout) + 5.0

    def delay_before(self, attempt: int) -> float:
        """Scheduled delay before attempt number `attempt` (1-based)."""
        index = min(attempt - 1, len(self.schedule) - 1)
        return self.schedule[index]


INBOUND_CONFIG_KEY = "trustline.webhooks.inbound"  # the app extension holding it


@dataclass(frozen=True, slots=True)
class InboundConfig:
    """Inbound sources: Standard Webhooks secrets per source, Chatwoot's secrets."""

    sources: Mapping[str, tuple[str, ...]]
    chatwoot_secrets: tuple[str, ...]
    tolerance_seconds: int
    max_bytes: int
    chatwoot_trust_identifier: bool = False

    def known(self, source: str) -> bool:
        if source == CHATWOOT:
            return bool(self.chatwoot_secrets)
        return source in self.sources


def _number(setting: str, raw: Any, *, minimum: float = 0) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise WebhookConfigError(setting, f"{raw!r} is not a number") from None
    if value < minimum or value != value or value in (float("inf"), float("-inf")):
        raise WebhookConfigError(setting, f"{raw!r} must be a number >= {minimum}")
    return value


def parse_schedule(raw: str) -> tuple[float, ...]:
    setting = "TRUSTLINE_WEBHOOK_RETRY_SCHEDULE"
    parts = [p.strip() for p in str(raw).split(",") if p.strip()]
    if not parts:
        raise WebhookConfigError(setting, "give at least one delay, e.g. '0,5,300'")
    return tuple(_number(setting, p) for p in parts)


def parse_networks(raw: str) -> tuple[Network, ...]:
    setting = "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS"
    out: list[Network] = []
    for part in str(raw).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise WebhookConfigError(
                setting, f"{part!r} is not a CIDR network (e.g. 127.0.0.0/8, fd00::/8)"
            ) from None
    return tuple(out)


def check_secret(setting: str, secret: str) -> str:
    """A `whsec_` secret whose key decodes to at least 24 bytes (Standard Webhooks)."""
    secret = secret.strip()
    if not secret.startswith("whsec_"):
        raise WebhookConfigError(setting, "secrets start with 'whsec_' followed by base64")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_") + "==", validate=False)
    except (binascii.Error, ValueError):
        raise WebhookConfigError(setting, "a secret is not valid base64 after 'whsec_'") from None
    if len(key) < 24:
        raise WebhookConfigError(setting, "a secret must hold at least 24 random bytes")
    return secret


def parse_sources(raw: str) -> dict[str, tuple[str, ...]]:
    setting = "TRUSTLINE_INBOUND_SECRETS"
    sources: dict[str, tuple[str, ...]] = {}
    for part in str(raw).split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, secret = part.partition("=")
        name = name.strip()
        if not sep or not SOURCE_NAME.fullmatch(name):
            raise WebhookConfigError(
                setting, "use SOURCE=whsec_... with SOURCE of a-z, 0-9, '_' or '-'"
            )
        if name == CHATWOOT:
            raise WebhookConfigError(
                setting, "'chatwoot' has its own format: set TRUSTLINE_CHATWOOT_SECRET"
            )
        sources[name] = (*sources.get(name, ()), check_secret(setting, secret))
    return sources


def delivery_config(config: Mapping[str, Any]) -> DeliveryConfig:
    """The delivery settings of an app's config (raises WebhookConfigError)."""
    jitter = _number(
        "TRUSTLINE_WEBHOOK_RETRY_JITTER_PERCENT", config["TRUSTLINE_WEBHOOK_RETRY_JITTER_PERCENT"]
    )
    if jitter > 100:
        raise WebhookConfigError("TRUSTLINE_WEBHOOK_RETRY_JITTER_PERCENT", "at most 100")
    attempts = int(
        _number(
            "TRUSTLINE_WEBHOOK_MAX_ATTEMPTS", config["TRUSTLINE_WEBHOOK_MAX_ATTEMPTS"], minimum=1
        )
    )
    return DeliveryConfig(
        schedule=parse_schedule(config["TRUSTLINE_WEBHOOK_RETRY_SCHEDULE"]),
        max_attempts=attempts,
        jitter=jitter / 100,
        max_retry_after=_number(
            "TRUSTLINE_WEBHOOK_MAX_RETRY_AFTER", config["TRUSTLINE_WEBHOOK_MAX_RETRY_AFTER"]
        ),
        connect_timeout=_number(
            "TRUSTLINE_WEBHOOK_CONNECT_TIMEOUT_MS",
            config["TRUSTLINE_WEBHOOK_CONNECT_TIMEOUT_MS"],
            minimum=1,
        )
        / 1000,
        read_timeout=_number(
            "TRUSTLINE_WEBHOOK_READ_TIMEOUT_MS",
            config["TRUSTLINE_WEBHOOK_READ_TIMEOUT_MS"],
            minimum=1,
        )
        / 1000,
        concurrency=int(
            _number(
                "TRUSTLINE_WEBHOOK_CONCURRENCY", config["TRUSTLINE_WEBHOOK_CONCURRENCY"], minimum=1
            )
        ),
        poll_interval=_number(
            "TRUSTLINE_WEBHOOK_POLL_MS", config["TRUSTLINE_WEBHOOK_POLL_MS"], minimum=1
        )
        / 1000,
        secret_overlap_hours=_number(
            "TRUSTLINE_WEBHOOK_SECRET_OVERLAP_HOURS",
            config["TRUSTLINE_WEBHOOK_SECRET_OVERLAP_HOURS"],
        ),
        retention_days=int(
            _number(
                "TRUSTLINE_WEBHOOK_RETENTION_DAYS",
                config["TRUSTLINE_WEBHOOK_RETENTION_DAYS"],
                minimum=1,
            )
        ),
        allowed_networks=parse_networks(config["TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS"]),
    )


def inbound_config(config: Mapping[str, Any]) -> InboundConfig:
    """The inbound settings of an app's config (raises WebhookConfigError)."""
    tolerance = int(
        _number(
            "TRUSTLINE_INBOUND_TOLERANCE_SECONDS",
            config["TRUSTLINE_INBOUND_TOLERANCE_SECONDS"],
            minimum=1,
        )
    )
    if tolerance > MAX_TOLERANCE_SECONDS:
        raise WebhookConfigError(
            "TRUSTLINE_INBOUND_TOLERANCE_SECONDS", f"at most {MAX_TOLERANCE_SECONDS}"
        )
    chatwoot = tuple(
        s.strip() for s in str(config["TRUSTLINE_CHATWOOT_SECRET"] or "").split(",") if s.strip()
    )
    return InboundConfig(
        sources=parse_sources(config["TRUSTLINE_INBOUND_SECRETS"] or ""),
        chatwoot_secrets=chatwoot,
        tolerance_seconds=tolerance,
        max_bytes=int(
            _number("TRUSTLINE_INBOUND_MAX_BYTES", config["TRUSTLINE_INBOUND_MAX_BYTES"], minimum=1)
        ),
        chatwoot_trust_identifier=str(
            settings.value(config, "TRUSTLINE_CHATWOOT_TRUSTED_IDENTIFIER")
        )
        .strip()
        .lower()
        in ("1", "true", "yes", "on"),
    )
