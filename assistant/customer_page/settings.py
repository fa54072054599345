"""Settings of the customer's page (merged into assistant.settings.SETTINGS). See
docs/customer-page.md."""

from __future__ import annotations

from ..settings_table import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "TRUSTLINE_CUSTOMER_PAGE_URL",
        "",
        "Base URL customers reach this server at (e.g. https://privacy.example.com): links "
        "printed by `trustline customer link` and returned by POST "
        "/api/v1/customers/{id}/links start with it. Empty: the API uses the request's own "
        "host, the command http://TRUSTLINE_HOST:TRUSTLINE_PORT.",
    ),
    Setting(
        "TRUSTLINE_CUSTOMER_LINK_TTL",
        "7d",
        "How long a customer's link works when no --ttl (or `ttl`) is given: a number with "
        "s, m, h or d, e.g. 7d or 12h.",
    ),
    Setting(
        "TRUSTLINE_CUSTOMER_LINK_MAX_TTL",
        "30d",
        "Longest life a customer's link may be given; a longer --ttl is refused.",
    ),
)
