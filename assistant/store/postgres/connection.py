"""Opening the database named by TRUSTLINE_DATABASE: the URL checked, the server reached,
the schema migrated (or found newer than the code), then a pool of connections."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from .errors import SETTING, MalformedURL, Unreachable
from .migrations import migrate

SCHEMES = ("postgresql", "postgres")
CONNECT_TIMEOUT = 5  # seconds to reach the server before saying it is unreachable


def is_postgres_url(value: str) -> bool:
    """Whether a TRUSTLINE_DATABASE value selects PostgreSQL (else it is a SQLite file)."""
    return value.split(":", 1)[0].lower() in SCHEMES and "://" in value


def where(url: str) -> str:
    """host:port/dbname of `url`, for messages: never the user or the password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "?"
    host = info.get("host") or "localhost"
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


def check_url(url: str) -> dict[str, Any]:
    """The parsed connection parameters of `url`; MalformedURL when it is not one."""
    scheme = url.split(":", 1)[0].lower()
    if scheme not in SCHEMES or "://" not in url:
        raise MalformedURL(
            f"{SETTING} must be a URL like postgresql://user:password@host:5432/trustline "
            f"(or a SQLite file's path); got one with scheme {scheme!r}"
        )
    try:
        urlsplit(url).port  # noqa: B018  (a non-numeric port raises here)
        info = conninfo_to_dict(url)
    except (ValueError, psycopg.ProgrammingError) as exc:
        # The message of either may quote the URL: never echo it (it holds a password).
        raise MalformedURL(
            f"{SETTING} is not a valid PostgreSQL URL ({type(exc).__name__}); expected "
            "postgresql://user:password@host:5432/trustline"
        ) from None
    if not info.get("dbname"):
        raise MalformedURL(
            f"{SETTING} names no database: add it, as in postgresql://host/trustline"
        )
    return info


def connect(url: str, **kwargs: Any) -> psycopg.Connection[dict[str, Any]]:
    """One connection (dict rows, READ COMMITTED, not autocommit); Unreachable when the
    server does not answer."""
    check_url(url)
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, row_factory=dict_row, **kwargs)
    except psycopg.OperationalError as exc:
        raise Unreachable(
            f"cannot reach the PostgreSQL database named by {SETTING} ({where(url)}): "
            f"{_first_line(exc)}. Start the server or fix {SETTING}."
        ) from None


def _first_line(exc: BaseException) -> str:
    """libpq's reason ("... port 5432 failed: Connection refused"), without its hints."""
    lines = str(exc).strip().splitlines()
    if not lines:
        return type(exc).__name__
    return lines[0].removeprefix("connection failed: ").strip().rstrip(".")


def open_pool(url: str, *, min_size: int = 1, max_size: int = 8) -> ConnectionPool[Any]:
    """Check the URL, reach the server, migrate, then open a pool of connections.

    Raises MalformedURL, Unreachable or SchemaTooNew (each naming TRUSTLINE_DATABASE).
    """
    with connect(url, autocommit=True) as conn:
        migrate(conn)
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT},
        open=False,
        name="trustline",
    )
    pool.open(wait=True, timeout=CONNECT_TIMEOUT * 2)
    return pool
