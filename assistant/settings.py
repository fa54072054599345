"""Settings are data: one table of every setting Trustline reads, as
(name, default, help, group, parser). Environment variables override the defaults.

This is the only module that reads the environment for settings: the app factory takes
`current()` into its config, the commands read `BY_NAME[name].read()`, and the
extractor (`nlp/`, which knows nothing of the assistant) is handed its values through
`extractor_options()`. Modules that fall back on a default read it here
(`default(name)`), never spell it again. `python -m assistant.settings` writes
docs/settings.md; every setting is also described where operators look (README.md and
the pages under docs/; tests/test_settings_docs.py checks both).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp.extractor import DEFAULT_MAX_CHARS, DEFAULT_MODEL, DEFAULT_TIME_BUDGET_MS

GROUPS = ("core", "extraction", "api", "server", "sidebar", "webhooks", "customer page")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def flag(raw: str) -> bool:
    """An on/off setting: 1, true, yes or on (any case) is on; anything else off."""
    return raw.strip().lower() in TRUE_WORDS


def _by_default(default: Any) -> Callable[[str], Any]:
    """The parser a setting without its own gets: by the type of its default."""
    if isinstance(default, bool):
        return flag
    if isinstance(default, int):
        return int
    return str


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the settings table."""

    name: str
    default: Any
    help: str
    group: str = "core"
    # Reads a value set in the environment; None: by the default's type (bool, int, str).
    parser: Callable[[str], Any] | None = None

    def read(self) -> Any:
        """The value from the environment (empty counts as unset), or the default."""
        raw = os.environ.get(self.name)
        if raw is None or raw == "":
            return self.default
        return (self.parser or _by_default(self.default))(raw)


# Standard Webhooks' recommended schedule, in seconds: immediately, 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 10 h.
DEFAULT_SCHEDULE = "0,5,300,1800,7200,18000,36000,36000"

SETTINGS: tuple[Setting, ...] = (
    # -- core, extraction, the API, the server (README.md) -----------------------------
    Setting(
        "TRUSTLINE_DATABASE",
        "",
        "Path of the SQLite database file. Default: trustline.db in the Flask instance "
        "folder (./instance when run from a checkout).",
        group="core",
    ),
    Setting(
        "TRUSTLINE_POLICY",
        "",
        "Path of a consent policy JSON file replacing the shipped default "
        "(assistant/data/policy.json): purposes, lawful bases, enforcement, retention.",
        group="core",
    ),
    Setting(
        "TRUSTLINE_SPACY_MODEL",
        DEFAULT_MODEL,
        "Installed spaCy pipeline package to build on (en_core_web_sm/md/lg/trf also work). "
        "Never downloaded at run time: a missing model stops start-up with the install command.",
        group="extraction",
    ),
    Setting(
        "TRUSTLINE_MAX_TEXT_CHARS",
        DEFAULT_MAX_CHARS,
        "Longest text accepted for extraction, in characters; longer ones get a clear error.",
        group="extraction",
    ),
    Setting(
        "TRUSTLINE_TEXT_TIME_BUDGET_MS",
        DEFAULT_TIME_BUDGET_MS,
        "Time one text's analysis may take, in milliseconds, plus 1,000 ms per 1,000 "
        "characters; a text over it is refused whole with error TL006 (nothing stored). A "
        "backstop: extraction is linear in the text's length.",
        group="extraction",
    ),
    Setting(
        "TRUSTLINE_MAX_REQUEST_TEXTS",
        256,
        "Most texts one extraction request may carry (`items` of POST /api/v1/extract); "
        "400 beyond.",
        group="api",
    ),
    Setting(
        "TRUSTLINE_MAX_REQUEST_CHARS",
        300_000,
        "Most characters one request may send to extraction, all its texts together "
        "(413 beyond); each text is also bounded by TRUSTLINE_MAX_TEXT_CHARS.",
        group="api",
    ),
    Setting(
        "TRUSTLINE_MAX_CALLER_CHARS",
        600_000,
        "Most characters one caller (API key or agent session) may have queued for or in "
        "extraction at once in a server process; a request beyond gets 429 with "
        "Retry-After until the caller's earlier requests are answered. 0: no limit. Keep "
        "it at least TRUSTLINE_MAX_REQUEST_CHARS.",
        group="api",
    ),
    Setting(
        "TRUSTLINE_MAX_REQUEST_BYTES",
        2_000_000,
        "Largest HTTP request body accepted by the API, in bytes (413 beyond).",
        group="api",
    ),
    Setting(
        "TRUSTLINE_BATCH_SIZE",
        64,
        "Texts per nlp.pipe batch in `trustline extract --jsonl` and the batch API.",
        group="extraction",
    ),
    Setting(
        "TRUSTLINE_API_KEY_HASHES",
        "",
        "Comma-separated sha256 hex digests of the API keys allowed to call /api/v1. When "
        "empty, `trustline serve` creates a one-off key and prints it (never logged again).",
        group="api",
    ),
    Setting(
        "TRUSTLINE_HOST",
        "127.0.0.1",
        "Interface `trustline serve` binds (its --host option overrides).",
        group="server",
    ),
    Setting(
        "TRUSTLINE_PORT",
        5000,
        "TCP port `trustline serve` binds (its --port option overrides).",
        group="server",
    ),
    Setting(
        "TRUSTLINE_WORKERS",
        2,
        "gunicorn worker processes of `trustline serve` (about one per CPU core).",
        group="server",
    ),
    Setting(
        "TRUSTLINE_THREADS",
        256,
        "Threads per gunicorn worker: each open event stream holds one, so workers x "
        "threads bounds the streams and requests served at once (threads start when "
        "needed).",
        group="server",
    ),
    Setting(
        "TRUSTLINE_GRACEFUL_TIMEOUT",
        20,
        "Seconds a stopping `trustline serve` gives requests in flight to end "
        "before killing workers.",
        group="server",
    ),
    Setting(
        "TRUSTLINE_HEADER_TIMEOUT",
        10,
        "Seconds a client has to send a request's whole head (request line and headers), "
        "from its connection or from the first byte of its next request on a kept-alive "
        "one; beyond, 408 and the connection is closed. Requests are read by each "
        "worker's event loop before a thread serves them, so a slow client holds no "
        "thread meanwhile.",
        group="server",
    ),
    Setting(
        "TRUSTLINE_BODY_TIMEOUT",
        30,
        "Seconds a client has to send a request's whole body once its head is in; "
        "beyond, 408 and the connection is closed.",
        group="server",
    ),
    Setting(
        "TRUSTLINE_MAX_CONNECTIONS_PER_CLIENT",
        256,
        "Connections one client address may hold open to each server process at once "
        "(open event streams included); one more gets 429 and is closed. 0: no limit. "
        "Raise it when many agents reach the server from one address (a NAT, a proxy).",
        group="server",
    ),
    Setting(
        "TRUSTLINE_RATE_LIMIT_PER_MINUTE",
        1200,
        "Requests a minute allowed per API key and per agent session, across all the "
        "server's workers (429 with Retry-After beyond); 0 turns the limit off.",
        group="api",
    ),
    Setting(
        "TRUSTLINE_RATE_LIMIT_BURST",
        200,
        "Requests a key or session may make at once before the per-minute rate applies.",
        group="api",
    ),
    # -- the sidebar (docs/sidebar.md) ----------------------------------------------------
    Setting(
        "TRUSTLINE_LAUNCH_SECRETS",
        "",
        "Per-host HS256 secrets for sidebar launch tokens, as ISSUER=SECRET pairs separated by "
        "commas (e.g. 'chatwoot=...,crm=...'). The token's `iss` claim picks the secret; each "
        "secret must be at least 32 characters. Empty: only the demo host (TRUSTLINE_DEMO) can "
        "launch the sidebar.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_LAUNCH_AUDIENCE",
        "trustline-sidebar",
        "The `aud` claim every sidebar launch token must carry.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_LAUNCH_MAX_AGE",
        300,
        "Longest lifetime of a launch token in seconds (exp - iat); longer-lived tokens are "
        "refused, so a leaked launch link is useless within minutes.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_SECRET_KEY",
        "",
        "Key that signs sidebar sessions (Flask SECRET_KEY). Empty: one is generated on first "
        "start and kept in the instance folder (instance/secret_key, mode 0600); set it "
        "explicitly when several servers share the sessions.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_SESSION_MAX_AGE",
        43_200,
        "Lifetime of a sidebar session in seconds (default 12 hours: one shift). The host "
        "launches a new session with a fresh token after that.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_SINGLE_SESSION_ISSUERS",
        "",
        "Hosts (launch token issuers), space- or comma-separated, whose every launch ends "
        "the agent's older sidebar sessions from that host, as the launch claim "
        "end_other_sessions does for one launch. Sessions are kept server-side; "
        "`trustline sessions list|revoke` shows and ends them.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_FRAME_ANCESTORS",
        "'self'",
        "CSP frame-ancestors sources allowed to frame the sidebar, space-separated (e.g. "
        "\"'self' https://app.chatwoot.com\"). No X-Frame-Options header is sent.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_HOST_ORIGINS",
        "",
        "Origins of the host applications whose postMessage context the sidebar accepts "
        "(Chatwoot appContext, generic trustline:context), space- or comma-separated, e.g. "
        "'https://app.chatwoot.com'. Messages from any other origin are ignored. The demo "
        "desktop's own origin is added when TRUSTLINE_DEMO is on.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_CREATE_CUSTOMER_ROLES",
        "supervisor",
        "Sidebar roles (agent, supervisor), comma-separated, allowed to create a customer "
        "for a host contact Trustline does not know yet.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_DEMO",
        False,
        "Serve the demo agent desktop at / (three demo customers, signed with a demo host "
        "secret) and seed its customers at start-up. Off by default; `make run` turns it "
        "on. The demo has its own identity source (trustline-demo): demo sessions only "
        "see and create demo customers, whose ids no real host's contact resolves to. Keep "
        "it off on any server reachable by others.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_MAX_STREAMS",
        0,
        "Open event streams a server process holds at once; beyond, a new stream gets "
        "503 with Retry-After (browsers retry) so that threads stay free for notes and "
        "pages. 0: under `trustline serve`, the threads minus an eighth (at least 4) kept "
        "for other requests; elsewhere, no limit.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_MAX_STREAMS_PER_AGENT",
        8,
        "Open event streams one sidebar agent (all its sessions together; every anonymous "
        "demo visitor is the same demo agent) may hold in a server process; beyond, 503 "
        "with Retry-After. 0: no limit of its own.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_MAX_STREAMS_PER_KEY",
        0,
        "Open event streams one API key may hold in a server process; beyond, 503 with "
        "Retry-After. 0: no limit of its own (an integration may follow many customers), "
        "only TRUSTLINE_MAX_STREAMS.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_STREAMS_KEPT_FOR_KEYS_PERCENT",
        12,
        "Share of a process's stream limit (TRUSTLINE_MAX_STREAMS, or its default) that "
        "sidebar sessions may not take, kept for integrations with an API key, rounded "
        "up; 0 keeps none.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_SSE_POLL_MS",
        25,
        "How often, in milliseconds, each server process reads the events table for new "
        "events to send on its open event streams (/customers/<id>/stream); one read per "
        "process, however many streams are open. A process reads at once after its own "
        "commits; this bounds how late another process's changes show.",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_SSE_HEARTBEAT_SECONDS",
        15,
        "Seconds between heartbeat comments on an idle event stream (keeps proxies from "
        "closing it).",
        group="sidebar",
    ),
    Setting(
        "TRUSTLINE_SSE_MAX_SECONDS",
        300,
        "Longest life of one event stream in seconds; the browser then reconnects with "
        "Last-Event-ID and misses nothing. Bounds the threads a server spends on streams.",
        group="sidebar",
    ),
    # -- webhooks (docs/webhooks.md) -------------------------------------------------------
    Setting(
        "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS",
        "",
        "Comma-separated CIDR networks that outbound webhooks may reach although they are "
        "private, loopback or link-local (e.g. 10.20.0.0/16). Empty: public addresses only. "
        "Checked on the resolved address at connect time.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_RETRY_SCHEDULE",
        DEFAULT_SCHEDULE,
        "Comma-separated delays in seconds before each delivery attempt (the first is "
        "normally 0: immediately). Decimals allowed.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_MAX_ATTEMPTS",
        8,
        "Attempts per delivery before it becomes a dead letter; beyond the schedule's "
        "length the last delay repeats.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_RETRY_JITTER_PERCENT",
        10,
        "Random extra delay added to each retry, in percent of the scheduled delay (0-100).",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_MAX_RETRY_AFTER",
        36_000,
        "Longest Retry-After (of a 429 or 503 answer) honoured, in seconds; longer asks are "
        "cut to this.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_CONNECT_TIMEOUT_MS",
        5_000,
        "Time allowed to open the TCP (and TLS) connection to a webhook target.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_READ_TIMEOUT_MS",
        15_000,
        "Time allowed for the target to answer once connected (a hard limit on the whole "
        "exchange, not per read).",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_CONCURRENCY",
        32,
        "Deliveries the worker sends at the same time (never two of one customer to one "
        "target). A target that takes 100 ms to answer gets at most this many x 10 a second.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_POLL_MS",
        25,
        "How often the worker looks for new events and due retries, in milliseconds.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_SECRET_OVERLAP_HOURS",
        24,
        "After `trustline webhooks rotate`, hours during which the previous secret still "
        "signs (both signatures are sent).",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_RETENTION_DAYS",
        30,
        "Delivered and cancelled deliveries, and processed inbound messages, are deleted "
        "after this many days. Dead letters and erasure deliveries are kept.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_WORKER",
        True,
        "Run the delivery worker inside `trustline serve` (off: run `trustline webhooks "
        "worker` yourself).",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_INBOUND_SECRETS",
        "",
        "Inbound Standard Webhooks sources and their secrets: 'SOURCE=whsec_...,...'. A "
        "source may be listed twice during a secret rotation. POST /webhooks/in/SOURCE.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_CHATWOOT_SECRET",
        "",
        "Secret of the Chatwoot webhook (comma-separated during a rotation). Empty: "
        "POST /webhooks/in/chatwoot answers 404.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_CHATWOOT_TRUSTED_IDENTIFIER",
        False,
        "Trust a Chatwoot contact's `identifier` as a Trustline customer id without proof "
        "(only the business sets identifiers on this Chatwoot). Off: only contacts that "
        "passed Chatwoot's identity validation (hmac_verified) are linked through it.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_INBOUND_TOLERANCE_SECONDS",
        300,
        "How far an inbound webhook's timestamp may be from now (stale or future "
        "requests get 401). At most 300, the reference package's own limit.",
        group="webhooks",
    ),
    Setting(
        "TRUSTLINE_INBOUND_MAX_BYTES",
        262_144,
        "Largest inbound webhook body, in bytes (413 beyond).",
        group="webhooks",
    ),
    # -- the customer's page (docs/customer-page.md) ------------------------------------
    Setting(
        "TRUSTLINE_CUSTOMER_PAGE_URL",
        "",
        "Base URL customers reach this server at (e.g. https://privacy.example.com): links "
        "printed by `trustline customer link` and returned by POST "
        "/api/v1/customers/{id}/links start with it. Empty: the API uses the request's own "
        "host, the command http://TRUSTLINE_HOST:TRUSTLINE_PORT.",
        group="customer page",
    ),
    Setting(
        "TRUSTLINE_CUSTOMER_LINK_TTL",
        "7d",
        "How long a customer's link works when no --ttl (or `ttl`) is given: a number with "
        "s, m, h or d, e.g. 7d or 12h.",
        group="customer page",
    ),
    Setting(
        "TRUSTLINE_CUSTOMER_LINK_MAX_TTL",
        "30d",
        "Longest life a customer's link may be given; a longer --ttl is refused.",
        group="customer page",
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}


def current() -> dict[str, Any]:
    """Every setting's value from the environment or its default."""
    return {s.name: s.read() for s in SETTINGS}


def default(name: str) -> Any:
    """The default of setting `name` (KeyError for a name the table does not hold)."""
    return BY_NAME[name].default


def value(config: Mapping[str, Any], name: str) -> Any:
    """Setting `name` from an app's config, or its default when the config lacks it."""
    return config.get(name, BY_NAME[name].default)


def extractor_options(model: str | None = None) -> dict[str, Any]:
    """`Extractor.load`'s arguments from the settings (`model` overrides the setting)."""
    return {
        "model": model or BY_NAME["TRUSTLINE_SPACY_MODEL"].read(),
        "max_chars": BY_NAME["TRUSTLINE_MAX_TEXT_CHARS"].read(),
        "time_budget_ms": BY_NAME["TRUSTLINE_TEXT_TIME_BUDGET_MS"].read(),
    }


DOCS = Path(__file__).parents[1] / "docs" / "settings.md"


def _shown(value: Any) -> str:
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"`{value}`"


def markdown() -> str:
    """docs/settings.md: the table, one section per group."""
    lines = [
        "# Settings",
        "",
        "<!-- Generated by `python -m assistant.settings` from assistant/settings.py;"
        " do not edit. -->",
        "",
        "Every setting Trustline reads, from the environment (empty counts as unset). On/off"
        " settings take 1, true, yes or on. The pages on each part (README.md,"
        " [sidebar.md](sidebar.md), [webhooks.md](webhooks.md),"
        " [customer-page.md](customer-page.md)) say more on what they do.",
    ]
    for group in GROUPS:
        lines += ["", f"## {group.capitalize()}", "", "| setting | default | what it does |"]
        lines.append("|---|---|---|")
        for s in SETTINGS:
            if s.group == group:
                described = s.help.replace("|", "\\|")  # a pipe would end the cell
                lines.append(f"| `{s.name}` | {_shown(s.default)} | {described} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/settings.md (or the path given)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else DOCS
    target.write_text(markdown(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
