"""The PostgreSQL store against a real throwaway cluster (tests/pgcluster.py): the
database enforces the append-only ledger, the audit chain shows tampering, one
customer's writers serialise, events are read in commit order, the URL's problems get
clear errors (issue 14, section 2)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from assistant.store import audit_chain
from assistant.store.postgres import audit, events
from assistant.store.postgres.connection import connect, open_pool
from assistant.store.postgres.errors import MalformedURL, SchemaTooNew, Unreachable
from assistant.store.postgres.migrations import MIGRATIONS, applied, migrate
from assistant.store.postgres.writes import writing
from tests import pgcluster

AT = "2026-12-02T10:00:00.000000+00:00"
_names = itertools.count()


def new_database(postgres_url: str) -> str:
    """A new database on the session's cluster, migrated; returns its URL."""
    url = pgcluster.create_database(postgres_url, f"t{next(_names)}_{random.randrange(10**6)}")
    with connect(url, autocommit=True) as conn:
        migrate(conn)
    return url


@pytest.fixture
def db_url(postgres_url: str) -> str:
    return new_database(postgres_url)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with connect(db_url) as c:
        yield c


def add_customer(conn: psycopg.Connection[Any], cid: str, name: str = "0") -> None:
    with conn.transaction():
        conn.execute(
            "INSERT INTO customers (id, name, created_at, updated_at) VALUES (%s, %s, %s, %s)",
            [cid, name, AT, AT],
        )


def add_consent(conn: psycopg.Connection[Any], cid: str) -> int:
    with conn.transaction():
        found = conn.execute(
            "INSERT INTO consents (customer_id, purpose, status, lawful_basis, source, method, "
            "evidence, effective_from, recorded_at) VALUES (%s, 'marketing', 'granted', "
            "'consent', 'agent', 'verbal', 'said yes', %s, %s) RETURNING id",
            [cid, AT, AT],
        ).fetchone()
    assert found is not None
    return int(found["id"])


def publish(conn: psycopg.Connection[Any], cid: str | None, n: int = 0) -> int:
    return events.publish(
        conn, type="consent.changed", customer_id=cid, actor="t", at=AT, data={"n": n}
    )


# -- migrations -----------------------------------------------------------------------


def test_migrations_are_named_and_applied_once(db_url: str) -> None:
    with connect(db_url, autocommit=True) as c:
        assert applied(c) == [name for name, _ in MIGRATIONS]
        assert migrate(c) == []


# -- the consent ledger is append-only, enforced by the database -----------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consents SET status = 'withdrawn'",
        "UPDATE consents SET evidence = 'edited' WHERE id = %(id)s",
        "DELETE FROM consents WHERE id = %(id)s",
        "TRUNCATE consents CASCADE",
    ],
)
def test_consent_ledger_refuses_changes(conn: psycopg.Connection[Any], statement: str) -> None:
    add_customer(conn, "c1")
    consent_id = add_consent(conn, "c1")
    refused = pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="append-only")
    with refused, conn.transaction():
        conn.execute(statement.encode(), {"id": consent_id} if "%(id)s" in statement else None)
    row = conn.execute("SELECT status, evidence FROM consents").fetchone()
    assert row == {"status": "granted", "evidence": "said yes"}


def test_erasing_the_customer_takes_her_ledger(conn: psycopg.Connection[Any]) -> None:
    add_customer(conn, "c1")
    add_customer(conn, "c2")
    add_consent(conn, "c1")
    add_consent(conn, "c2")
    with conn.transaction():
        conn.execute("DELETE FROM customers WHERE id = 'c1'")
    assert conn.execute("SELECT customer_id FROM consents").fetchall() == [{"customer_id": "c2"}]


# -- the audit chain --------------------------------------------------------------------


def _append(conn: psycopg.Connection[Any], n: int) -> None:
    for i in range(n):
        with writing(conn):
            audit.append(conn, at=AT, actor="t", action="x", subject=None, details={"i": i})


def test_audit_chain_verifies_with_sqlites_digest(conn: psycopg.Connection[Any]) -> None:
    _append(conn, 3)
    assert audit.verify(conn) == audit.Verification(True, 3)
    last = conn.execute("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    assert last is not None
    fields = [last[k] for k in ("prev_hash", "at", "actor", "action", "subject", "details")]
    assert last["hash"] == audit_chain.digest(*fields)  # one chain format on both engines


def test_audit_log_refuses_update_and_delete(conn: psycopg.Connection[Any]) -> None:
    _append(conn, 1)
    for statement in (b"UPDATE audit_log SET actor = 'x'", b"DELETE FROM audit_log"):
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation), conn.transaction():
            conn.execute(statement)
    assert audit.verify(conn).ok


@pytest.mark.parametrize(
    ("tamper", "bad_id", "problem"),
    [
        ("UPDATE audit_log SET details = '{\"i\": 9}' WHERE id = 2", 2, "entry content changed"),
        ("DELETE FROM audit_log WHERE id = 2", 3, "previous entry missing or changed"),
        ("DELETE FROM audit_log WHERE id = 4", 4, "latest entries deleted"),
    ],
)
def test_audit_chain_shows_tampering(
    conn: psycopg.Connection[Any], tamper: str, bad_id: int, problem: str
) -> None:
    _append(conn, 4)
    with conn.transaction():
        # A superuser can switch the triggers off: the chain is what still shows it.
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(tamper.encode())
    result = audit.verify(conn)
    assert (result.ok, result.first_bad_id, result.problem) == (False, bad_id, problem)


def test_audit_appenders_on_two_connections_keep_one_chain(db_url: str) -> None:
    def work() -> None:
        with connect(db_url) as c:
            _append(c, 15)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with connect(db_url) as c:
        assert audit.verify(c) == audit.Verification(True, 45)


# -- one customer's writers serialise across connections (hosts) ------------------------


def test_two_writers_of_one_customer_lose_no_update(db_url: str, conn: Any) -> None:
    add_customer(conn, "c1", name="0")
    rounds = 25

    def writer() -> None:
        with connect(db_url) as c:
            for _ in range(rounds):
                with writing(c, "c1"):
                    found = c.execute("SELECT name FROM customers WHERE id = 'c1'").fetchone()
                    time.sleep(0.001)  # read-modify-write with a window for the other writer
                    c.execute(
                        "UPDATE customers SET name = %s WHERE id = 'c1'",
                        [str(int(found["name"]) + 1)],
                    )

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    found = conn.execute("SELECT name FROM customers WHERE id = 'c1'").fetchone()
    assert found == {"name": str(2 * rounds)}


def test_writers_of_other_customers_do_not_wait(db_url: str, conn: Any) -> None:
    add_customer(conn, "c1")
    add_customer(conn, "c2")
    with connect(db_url) as other, writing(conn, "c1"):
        other.execute("SET lock_timeout = '200ms'")
        with writing(other, "c2"):
            pass  # would time out on c1's lock
        with pytest.raises(psycopg.errors.LockNotAvailable), writing(other, "c1"):
            pass


# -- events in commit order --------------------------------------------------------------


def test_an_event_committed_after_a_later_id_is_not_skipped(db_url: str, conn: Any) -> None:
    add_customer(conn, "c1")
    with connect(db_url) as slow, connect(db_url) as fast:
        with slow.transaction():
            first_id = publish(slow, "c1", 1)  # takes the lower id, commits last
            with fast.transaction():
                second_id = publish(fast, "c1", 2)
            assert second_id > first_id
            seen = events.after(conn, 0)
            conn.commit()
            assert [e["id"] for e in seen] == [second_id]
            # A reader keeping the highest id it saw as its cursor would skip first_id.
        later = events.after(conn, seen[-1]["position"])
        conn.commit()
    assert [e["id"] for e in later] == [first_id]
    assert later[0]["position"] > seen[0]["position"]


def test_a_follower_reads_concurrent_writers_in_commit_order(db_url: str, conn: Any) -> None:
    add_customer(conn, "c1")
    writers, per_writer = 4, 20
    committed: list[int] = []  # event ids in commit order, as the writers saw it
    lock = threading.Lock()
    done = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        with connect(db_url) as c:
            for n in range(per_writer):
                with c.transaction():
                    event_id = publish(c, "c1", n)
                    time.sleep(rng.random() / 200)  # commit out of id order
                with lock:
                    committed.append(event_id)

    seen: list[dict[str, Any]] = []

    def follower() -> None:
        with connect(db_url, autocommit=True) as c:
            position = 0
            while True:
                finished = done.is_set()
                batch = events.after(c, position)
                seen.extend(batch)
                if batch:
                    position = batch[-1]["position"]
                elif finished:
                    return
                else:
                    time.sleep(0.001)

    reader = threading.Thread(target=follower)
    reader.start()
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    ids = [e["id"] for e in seen]
    assert sorted(ids) == sorted(committed)  # every event read, none twice
    assert ids != sorted(ids)  # ids did commit out of order (else the test shows nothing)
    positions = [e["position"] for e in seen]
    assert positions == sorted(positions)


def test_an_event_deleted_in_its_own_transaction_is_neither_streamed_nor_sent(
    conn: psycopg.Connection[Any],
) -> None:
    add_customer(conn, "c1")
    with conn.transaction():
        gone = publish(conn, "c1", 1)
        conn.execute("DELETE FROM events WHERE id = %s", [gone])
        kept = publish(conn, "c1", 2)
    assert [e["id"] for e in events.after(conn, 0)] == [kept]
    outbox_rows = conn.execute("SELECT event_id FROM webhook_outbox").fetchall()
    assert outbox_rows == [{"event_id": kept}]


def test_a_commit_with_events_wakes_a_listener(db_url: str, conn: Any) -> None:
    add_customer(conn, "c1")
    with events.Listener(db_url) as listener:
        assert listener.wait(0.1) is False  # nothing committed: times out

        def later() -> None:
            time.sleep(0.2)
            with connect(db_url) as c, c.transaction():
                publish(c, "c1")

        t = threading.Thread(target=later)
        started = time.monotonic()
        t.start()
        assert listener.wait(5) is True
        assert time.monotonic() - started < 2
        t.join()
        assert [e["data"] for e in events.after(conn, 0)] == [{"n": 0}]


# -- clear errors naming the setting -----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:s3cret@localhost:notaport/trustline",
        "postgresql://user:s3cret@localhost/trustline?sslmode=bogus&x=",
        "mysql://user:s3cret@localhost/trustline",
        "postgresql://user:s3cret@localhost:5432",
    ],
)
def test_a_malformed_url_names_the_setting(url: str) -> None:
    with pytest.raises(MalformedURL, match="TRUSTLINE_DATABASE") as caught:
        open_pool(url)
    assert "s3cret" not in str(caught.value)


def test_an_unreachable_server_names_the_setting() -> None:
    port = pgcluster.free_port()  # nothing listens there
    with pytest.raises(Unreachable, match="TRUSTLINE_DATABASE") as caught:
        open_pool(f"postgresql://u:s3cret@127.0.0.1:{port}/trustline")
    assert f"127.0.0.1:{port}/trustline" in str(caught.value)
    assert "Connection refused" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_schema_newer_than_the_code_names_the_setting(db_url: str) -> None:
    with connect(db_url, autocommit=True) as c:
        c.execute("INSERT INTO trustline_migrations (name) VALUES ('m999_from_the_future')")
    with pytest.raises(SchemaTooNew, match="TRUSTLINE_DATABASE") as caught:
        open_pool(db_url)
    assert "m999_from_the_future" in str(caught.value)


def test_the_pool_opens_on_a_good_url(db_url: str) -> None:
    pool = open_pool(db_url)
    try:
        with pool.connection() as c:
            assert c.execute("SELECT count(*) AS n FROM customers").fetchone() == {"n": 0}
    finally:
        pool.close()
