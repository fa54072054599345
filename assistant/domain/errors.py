"""Errors of the domain: a request the profile cannot carry out."""

from __future__ import annotations


class ProfileError(Exception):
    """A request the profile cannot carry out; `status` is the HTTP status to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class NotFound(ProfileError):
    def __init__(self, what: str) -> None:
        super().__init__(404, "not_found", f"{what} not found")
