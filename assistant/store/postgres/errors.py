"""Errors that name the setting to fix: the database URL is TRUSTLINE_DATABASE."""

from __future__ import annotations

SETTING = "TRUSTLINE_DATABASE"


class DatabaseSettingError(RuntimeError):
    """TRUSTLINE_DATABASE names no usable PostgreSQL database; the message says why and
    what to do. Never carries the URL's password."""

    setting = SETTING


class MalformedURL(DatabaseSettingError):
    pass


class Unreachable(DatabaseSettingError):
    pass


class SchemaTooNew(DatabaseSettingError):
    def __init__(self, unknown: list[str]) -> None:
        self.unknown = unknown
        super().__init__(
            f"the database named by {SETTING} has migrations this version of Trustline "
            f"does not know ({', '.join(unknown)}): a newer version migrated it. Run that "
            f"version, or point {SETTING} at another database."
        )
