"""Write transactions, serialised per customer across every host.

READ COMMITTED, and a transaction-level advisory lock on the customer (the two-int key
form: class CUSTOMER_LOCKS, `hashtext(customer_id)`), taken first: a second writer of
the same customer, on any host, waits until the first commits, then reads what it wrote,
so no update is lost. Writers of different customers do not wait for each other (two
ids may share a hash: they then only queue, never conflict).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

CUSTOMER_LOCKS = 0x7472  # the advisory lock class of customers' write locks


def lock_customer(conn: psycopg.Connection[Any], customer_id: str) -> None:
    """Wait for, then hold until the transaction ends, `customer_id`'s write lock."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [CUSTOMER_LOCKS, customer_id])


@contextmanager
def writing(
    conn: psycopg.Connection[Any], customer_id: str | None = None
) -> Iterator[psycopg.Connection[Any]]:
    """One write transaction (a savepoint when nested), holding `customer_id`'s lock
    when given. Commits at the end of the block; rolls back on an exception."""
    with conn.transaction():
        if customer_id is not None:
            lock_customer(conn, customer_id)
        yield conn
