"""Settings of the sidebar (merged into assistant.settings.SETTINGS). See docs/sidebar.md."""

from __future__ import annotations

from ..settings_table import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "TRUSTLINE_LAUNCH_SECRETS",
        "",
        "Per-host HS256 secrets for sidebar launch tokens, as ISSUER=SECRET pairs separated by "
        "commas (e.g. 'chatwoot=...,crm=...'). The token's `iss` claim picks the secret; each "
        "secret must be at least 32 characters. Empty: only the demo host (TRUSTLINE_DEMO) can "
        "launch the sidebar.",
    ),
    Setting(
        "TRUSTLINE_LAUNCH_AUDIENCE",
        "trustline-sidebar",
        "The `aud` claim every sidebar launch token must carry.",
    ),
    Setting(
        "TRUSTLINE_LAUNCH_MAX_AGE",
        300,
        "Longest lifetime of a launch token in seconds (exp - iat); longer-lived tokens are "
        "refused, so a leaked launch link is useless within minutes.",
    ),
    Setting(
        "TRUSTLINE_SECRET_KEY",
        "",
        "Key that signs sidebar sessions (Flask SECRET_KEY). Empty: one is generated on first "
        "start and kept in the instance folder (instance/secret_key, mode 0600); set it "
        "explicitly when several servers share the sessions.",
    ),
    Setting(
        "TRUSTLINE_SESSION_MAX_AGE",
        43_200,
        "Lifetime of a sidebar session in seconds (default 12 hours: one shift). The host "
        "launches a new session with a fresh token after that.",
    ),
    Setting(
        "TRUSTLINE_SINGLE_SESSION_ISSUERS",
        "",
        "Hosts (launch token issuers), space- or comma-separated, whose every launch ends "
        "the agent's older sidebar sessions from that host, as the launch claim "
        "end_other_sessions does for one launch. Sessions are kept server-side; "
        "`trustline sessions list|revoke` shows and ends them.",
    ),
    Setting(
        "TRUSTLINE_FRAME_ANCESTORS",
        "'self'",
        "CSP frame-ancestors sources allowed to frame the sidebar, space-separated (e.g. "
        "\"'self' https://app.chatwoot.com\"). No X-Frame-Options header is sent.",
    ),
    Setting(
        "TRUSTLINE_HOST_ORIGINS",
        "",
        "Origins of the host applications whose postMessage context the sidebar accepts "
        "(Chatwoot appContext, generic trustline:context), space- or comma-separated, e.g. "
        "'https://app.chatwoot.com'. Messages from any other origin are ignored. The demo "
        "desktop's own origin is added when TRUSTLINE_DEMO is on.",
    ),
    Setting(
        "TRUSTLINE_CREATE_CUSTOMER_ROLES",
        "supervisor",
        "Sidebar roles (agent, supervisor), comma-separated, allowed to create a customer "
        "for a host contact Trustline does not know yet.",
    ),
    Setting(
        "TRUSTLINE_DEMO",
        False,
        "Serve the demo agent desktop at / (three demo customers, signed with a demo host "
        "secret) and seed its customers at start-up. Off by default; `make run` turns it "
        "on. The demo has its own identity source (trustline-demo): demo sessions only "
        "see and create demo customers, whose ids no real host's contact resolves to. Keep "
        "it off on any server reachable by others.",
    ),
    Setting(
        "TRUSTLINE_MAX_STREAMS",
        0,
        "Open event streams a server process holds at once; beyond, a new stream gets "
        "503 with Retry-After (browsers retry) so that threads stay free for notes and "
        "pages. 0: under `trustline serve`, the threads minus an eighth (at least 4) kept "
        "for other requests; elsewhere, no limit.",
    ),
    Setting(
        "TRUSTLINE_MAX_STREAMS_PER_AGENT",
        8,
        "Open event streams one sidebar agent (all its sessions together; every anonymous "
        "demo visitor is the same demo agent) may hold in a server process; beyond, 503 "
        "with Retry-After. 0: no limit of its own.",
    ),
    Setting(
        "TRUSTLINE_MAX_STREAMS_PER_KEY",
        0,
        "Open event streams one API key may hold in a server process; beyond, 503 with "
        "Retry-After. 0: no limit of its own (an integration may follow many customers), "
        "only TRUSTLINE_MAX_STREAMS.",
    ),
    Setting(
        "TRUSTLINE_STREAMS_KEPT_FOR_KEYS_PERCENT",
        12,
        "Share of a process's stream limit (TRUSTLINE_MAX_STREAMS, or its default) that "
        "sidebar sessions may not take, kept for integrations with an API key, rounded "
        "up; 0 keeps none.",
    ),
    Setting(
        "TRUSTLINE_SSE_POLL_MS",
        25,
        "How often, in milliseconds, each server process reads the events table for new "
        "events to send on its open event streams (/customers/<id>/stream); one read per "
        "process, however many streams are open. A process reads at once after its own "
        "commits; this bounds how late another process's changes show.",
    ),
    Setting(
        "TRUSTLINE_SSE_HEARTBEAT_SECONDS",
        15,
        "Seconds between heartbeat comments on an idle event stream (keeps proxies from "
        "closing it).",
    ),
    Setting(
        "TRUSTLINE_SSE_MAX_SECONDS",
        300,
        "Longest life of one event stream in seconds; the browser then reconnects with "
        "Last-Event-ID and misses nothing. Bounds the threads a server spends on streams.",
    ),
)
