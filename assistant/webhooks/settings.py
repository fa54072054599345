"""Settings of the webhooks (merged into assistant.settings.SETTINGS)."""

from __future__ import annotations

from ..settings_table import Setting

# Standard Webhooks' recommended schedule, in seconds: immediately, 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 10 h.
DEFAULT_SCHEDULE = "0,5,300,1800,7200,18000,36000,36000"

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS",
        "",
        "Comma-separated CIDR networks that outbound webhooks may reach although they are "
        "private, loopback or link-local (e.g. 10.20.0.0/16). Empty: public addresses only. "
        "Checked on the resolved address at connect time.",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_RETRY_SCHEDULE",
        DEFAULT_SCHEDULE,
        "Comma-separated delays in seconds before each delivery attempt (the first is "
        "normally 0: immediately). Decimals allowed.",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_MAX_ATTEMPTS",
        8,
        "Attempts per delivery before it becomes a dead letter; beyond the schedule's "
        "length the last delay repeats.",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_RETRY_JITTER_PERCENT",
        10,
        "Random extra delay added to each retry, in percent of the scheduled delay (0-100).",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_MAX_RETRY_AFTER",
        36_000,
        "Longest Retry-After (of a 429 or 503 answer) honoured, in seconds; longer asks are "
        "cut to this.",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_CONNECT_TIMEOUT_MS",
        5_000,
        "Time allowed to open the TCP (and TLS) connection to a webhook target.",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_READ_TIMEOUT_MS",
        15_000,
        "Time allowed for the target to answer once connected (a hard limit on the whole "
        "exchange, not per read).",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_CONCURRENCY",
        32,
        "Deliveries the worker sends at the same time (never two of one customer to one "
        "target). A target that takes 100 ms to answer gets at most this many x 10 a second.",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_POLL_MS",
        25,
        "How often the worker looks for new events and due retries, in milliseconds.",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_SECRET_OVERLAP_HOURS",
        24,
        "After `trustline webhooks rotate`, hours during which the previous secret still "
        "signs (both signatures are sent).",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_RETENTION_DAYS",
        30,
        "Delivered and cancelled deliveries, and processed inbound messages, are deleted "
        "after this many days. Dead letters and erasure deliveries are kept.",
    ),
    Setting(
        "TRUSTLINE_WEBHOOK_WORKER",
        True,
        "Run the delivery worker inside `trustline serve` (off: run `trustline webhooks "
        "worker` yourself).",
    ),
    Setting(
        "TRUSTLINE_INBOUND_SECRETS",
        "",
        "Inbound Standard Webhooks sources and their secrets: 'SOURCE=whsec_...,...'. A "
        "source may be listed twice during a secret rotation. POST /webhooks/in/SOURCE.",
    ),
    Setting(
        "TRUSTLINE_CHATWOOT_SECRET",
        "",
        "Secret of the Chatwoot webhook (comma-separated during a rotation). Empty: "
        "POST /webhooks/in/chatwoot answers 404.",
    ),
    Setting(
        "TRUSTLINE_CHATWOOT_TRUSTED_IDENTIFIER",
        False,
        "Trust a Chatwoot contact's `identifier` as a Trustline customer id without proof "
        "(only the business sets identifiers on this Chatwoot). Off: only contacts that "
        "passed Chatwoot's identity validation (hmac_verified) are linked through it.",
    ),
    Setting(
        "TRUSTLINE_INBOUND_TOLERANCE_SECONDS",
        300,
        "How far an inbound webhook's timestamp may be from now (stale or future "
        "requests get 401). At most 300, the reference package's own limit.",
    ),
    Setting(
        "TRUSTLINE_INBOUND_MAX_BYTES",
        262_144,
        "Largest inbound webhook body, in bytes (413 beyond).",
    ),
)
