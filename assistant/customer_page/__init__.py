"""The customer's own page: what the contact centre knows about her, why, and her
controls over it, opened with a signed, expiring link. See docs/customer-page.md.

Modules: `links` (the link tokens and their records), `page` (what the page shows, read
from the domain), `i18n` (gettext), `views` (the page and its forms), `api` (POST
/api/v1/customers/{id}/links), `cli` (`trustline customer link`);
its settings are rows of assistant/settings.py.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("customer_page", __name__)


class CustomerPageConfigError(Exception):
    """TL301: a link lifetime setting that cannot be used; the message says which."""

    code = "TL301"


def init_app(app: Flask) -> None:
    """Register the page's blueprint and its gettext on `app` (after the sidebar, which
    sets the secret key the links are signed with). Raises CustomerPageConfigError."""
    try:
        api.ttl_setting(app.config, None)
    except ValueError as exc:
        raise CustomerPageConfigError(
            "[TL301] TRUSTLINE_CUSTOMER_LINK_TTL and TRUSTLINE_CUSTOMER_LINK_MAX_TTL must be "
            f"durations such as 7d or 12h, the first no longer than the second: {exc}"
        ) from exc
    i18n.init_app(app)
    app.register_blueprint(bp)


from . import api, i18n, views  # noqa: E402,F401  (routes register on their blueprints)
