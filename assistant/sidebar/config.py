"""The sidebar's settings, parsed and checked once at start-up.

Errors (`SidebarConfigError.code`, stable):

* TL201: TRUSTLINE_LAUNCH_SECRETS is malformed or a secret is too short.
* TL202: TRUSTLINE_FRAME_ANCESTORS holds something that is not a CSP source.
* TL203: TRUSTLINE_HOST_ORIGINS holds something that is not an origin.
* TL204: the generated session key cannot be kept in the instance folder.
* TL205: TRUSTLINE_CREATE_CUSTOMER_ROLES names an unknown role.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from flask import Flask, current_app

from .. import settings

ROLES = ("agent", "supervisor")
MIN_SECRET_CHARS = 32  # HS256 wants a key at least as long as its hash (RFC 7518 3.2)
DEMO_ISSUER = "trustline-demo"
# The demo's contacts are its own: never a real host's ids (a real Chatwoot has a
# contact 101 too), so no real agent lands on a demo customer, nor a demo visitor on a
# real one.
DEMO_SOURCE = "trustline-demo"
DEMO_CRM_SOURCE = "trustline-demo-crm"
SECRET_KEY_FILE = "secret_key"

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?")
# A CSP source expression: keyword, scheme, or host source (with optional port/wildcards).
_CSP_SOURCE = re.compile(
    r"'self'|'none'|[a-z][a-z0-9+.\-]*:|"
    r"([a-z][a-z0-9+.\-]*://)?(\*\.)?[A-Za-z0-9.\-]+(:([0-9]{1,5}|\*))?(/[^\s;,]*)?"
)


class SidebarConfigError(Exception):
    """A sidebar setting that cannot be used; the message says how to fix it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code


@dataclass(frozen=True, slots=True)
class SidebarConfig:
    """What the sidebar needs from the settings table, validated."""

    launch_secrets: Mapping[str, str]
    audience: str
    launch_max_age: int
    frame_ancestors: str
    host_origins: tuple[str, ...]
    create_roles: frozenset[str]
    demo: bool
    poll_seconds: float
    heartbeat_seconds: float
    stream_max_seconds: float
    single_session_issuers: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "launch_secrets", MappingProxyType(dict(self.launch_secrets)))


def parse_launch_secrets(raw: Any) -> dict[str, str]:
    """'ISSUER=SECRET,ISSUER2=SECRET2' (or a mapping) -> {issuer: secret}; raises TL201."""
    if isinstance(raw, Mapping):
        pairs: Iterable[tuple[str, str]] = ((str(k), str(v)) for k, v in raw.items())
    else:
        items = [item.strip() for item in str(raw or "").split(",") if item.strip()]
        parsed = []
        for item in items:
            issuer, sep, secret = item.partition("=")
            if not sep or not issuer.strip():
                raise SidebarConfigError(
                    "TL201",
                    "TRUSTLINE_LAUNCH_SECRETS must be ISSUER=SECRET pairs separated by commas "
                    f"(got an item without '=': {issuer[:20]!r}...).",
                )
            parsed.append((issuer.strip(), secret.strip()))
        pairs = parsed
    out: dict[str, str] = {}
    for issuer, secret in pairs:
        if len(secret) < MIN_SECRET_CHARS:
            raise SidebarConfigError(
                "TL201",
                f"the launch secret of issuer {issuer!r} is {len(secret)} characters; use at "
                f'least {MIN_SECRET_CHARS} random characters (e.g. `python -c "import secrets; '
                'print(secrets.token_urlsafe(32))"`).',
            )
        if issuer in out:
            raise SidebarConfigError("TL201", f"issuer {issuer!r} appears twice.")
        out[issuer] = secret
    return out


def _words(raw: Any) -> list[str]:
    if isinstance(raw, list | tuple | set | frozenset):
        return [str(w).strip() for w in raw if str(w).strip()]
    return [w for w in re.split(r"[\s,]+", str(raw or "")) if w]


def parse_frame_ancestors(raw: Any) -> str:
    """The frame-ancestors source list; refuses anything that could end the directive."""
    words = _words(raw) or ["'none'"]
    for word in words:
        if not _CSP_SOURCE.fullmatch(word):
            raise SidebarConfigError(
                "TL202",
                f"TRUSTLINE_FRAME_ANCESTORS: {word!r} is not a CSP source. Use 'self' and "
                "origins such as https://app.chatwoot.com, separated by spaces.",
            )
    return " ".join(words)


def parse_host_origins(raw: Any) -> tuple[str, ...]:
    """Exact origins (scheme://host[:port]) whose postMessage context is accepted."""
    out = []
    for word in _words(raw):
        origin = word.rstrip("/")
        if not _ORIGIN.fullmatch(origin):
            raise SidebarConfigError(
                "TL203",
                f"TRUSTLINE_HOST_ORIGINS: {word!r} is not an origin such as "
                "https://app.chatwoot.com (scheme, host and optional port; no path).",
            )
        out.append(origin)
    return tuple(dict.fromkeys(out))


def parse_roles(raw: Any) -> frozenset[str]:
    roles = frozenset(_words(raw))
    unknown = sorted(roles - set(ROLES))
    if unknown:
        raise SidebarConfigError(
            "TL205",
            f"TRUSTLINE_CREATE_CUSTOMER_ROLES: unknown role(s) {', '.join(unknown)}; "
            f"use {' or '.join(ROLES)}.",
        )
    return roles


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def load_or_create_secret_key(path: Path) -> str:
    """The session key kept at `path`, created (mode 0600) on first use.

    Creation is atomic (a hard link of a private temporary file), so processes starting
    together agree on one key. Raises SidebarConfigError TL204 when the folder is not
    writable.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_urlsafe(48) + "\n")
            with contextlib.suppress(FileExistsError):  # another process won: use its key
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return _read_key(path)
    except OSError as exc:
        raise SidebarConfigError(
            "TL204",
            f"cannot keep the session key at {path} ({exc.strerror or exc}); make the "
            "instance folder writable or set TRUSTLINE_SECRET_KEY.",
        ) from exc


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # a key readable by others signs sessions for anyone
    if len(key) < MIN_SECRET_CHARS:
        raise SidebarConfigError(
            "TL204", f"the session key in {path} is too short; delete the file to renew it."
        )
    return key


def demo_secret(secret_key: str) -> str:
    """The demo host's launch secret, derived from the session key (same on every process)."""
    return hmac.new(
        secret_key.encode("utf-8"), b"trustline-demo-launch", hashlib.sha256
    ).hexdigest()


def configure(app: Flask) -> SidebarConfig:
    """Read, check and store the sidebar settings; sets the session key. Raises TL2xx."""
    conf = app.config
    key = conf.get("TRUSTLINE_SECRET_KEY") or conf.get("SECRET_KEY")
    if not key:
        key = load_or_create_secret_key(Path(app.instance_path) / SECRET_KEY_FILE)
    app.secret_key = str(key)
    demo = _flag(settings.value(conf, "TRUSTLINE_DEMO"))
    launch_secrets = parse_launch_secrets(settings.value(conf, "TRUSTLINE_LAUNCH_SECRETS"))
    if demo:
        launch_secrets.setdefault(DEMO_ISSUER, demo_secret(str(key)))
    config = SidebarConfig(
        launch_secrets=launch_secrets,
        audience=str(
            conf.get("TRUSTLINE_LAUNCH_AUDIENCE") or settings.default("TRUSTLINE_LAUNCH_AUDIENCE")
        ),
        launch_max_age=int(
            conf.get("TRUSTLINE_LAUNCH_MAX_AGE") or settings.default("TRUSTLINE_LAUNCH_MAX_AGE")
        ),
        frame_ancestors=parse_frame_ancestors(settings.value(conf, "TRUSTLINE_FRAME_ANCESTORS")),
        host_origins=parse_host_origins(settings.value(conf, "TRUSTLINE_HOST_ORIGINS")),
        create_roles=parse_roles(settings.value(conf, "TRUSTLINE_CREATE_CUSTOMER_ROLES")),
        demo=demo,
        poll_seconds=float(
            conf.get("TRUSTLINE_SSE_POLL_MS") or settings.default("TRUSTLINE_SSE_POLL_MS")
        )
        / 1000,
        heartbeat_seconds=float(
            conf.get("TRUSTLINE_SSE_HEARTBEAT_SECONDS")
            or settings.default("TRUSTLINE_SSE_HEARTBEAT_SECONDS")
        ),
        stream_max_seconds=float(
            conf.get("TRUSTLINE_SSE_MAX_SECONDS") or settings.default("TRUSTLINE_SSE_MAX_SECONDS")
        ),
        single_session_issuers=frozenset(
            _words(settings.value(conf, "TRUSTLINE_SINGLE_SESSION_ISSUERS"))
        ),
    )
    app.extensions["trustline.sidebar"] = config
    return config


def sidebar_config() -> SidebarConfig:
    config: SidebarConfig = current_app.extensions["trustline.sidebar"]
    return config
