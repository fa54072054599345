"""The one error type of the webhooks package."""

from __future__ import annotations


class WebhookError(Exception):
    """A webhook request that cannot be carried out; `status` is the HTTP status to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
