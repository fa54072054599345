"""Security headers of the sidebar's pages: a strict CSP whose frame-ancestors come from
TRUSTLINE_FRAME_ANCESTORS, and never X-Frame-Options (it would forbid the host's frame)."""

from __future__ import annotations

from flask import Response

from . import bp
from .config import sidebar_config


def content_security_policy(frame_ancestors: str) -> str:
    """No inline script or style anywhere: htmx is configured by a meta tag, without eval."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def protect(resp: Response, frame_ancestors: str) -> Response:
    resp.headers["Content-Security-Policy"] = content_security_policy(frame_ancestors)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    # Launch URLs carry a token, pages carry personal data: no Referer, no caching.
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers.pop("X-Frame-Options", None)
    return resp


@bp.after_request
def sidebar_headers(resp: Response) -> Response:
    return protect(resp, sidebar_config().frame_ancestors)
