"""The services on both engines (issue 14, section 3): the same calls through
`SQLiteStore` and `PostgresStore` give the same facts, decisions, ledger, events (in
order), export and audit actions; the audit chain verifies and an erasure leaves
nothing of the customer on either. Two PostgreSQL connections writing one customer at
once lose no update (the per-customer lock)."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from assistant import services
from assistant.domain.events import Event
from assistant.domain.rights import ERASED_TABLES
from assistant.policy import load_policy
from assistant.store.interface import Store
from assistant.store.open import close_store, open_store
from assistant.store.postgres import audit as pg_audit
from assistant.store.postgres.connection import connect as pg_connect
from assistant.store.postgres.errors import DatabaseSettingError, SchemaTooNew, Unreachable
from assistant.store.postgres.migrations import migrate as pg_migrate
from assistant.store.postgres.store import PostgresStore
from assistant.store.postgres.writes import CUSTOMER_LOCKS
from assistant.store.sqlite import audit as sqlite_audit
from assistant.store.sqlite.db import connect as sqlite_connect
from assistant.store.sqlite.db import migrate as sqlite_migrate
from assistant.store.sqlite.store import SQLiteStore
from nlp import Extractor
from tests import pgcluster

POLICY = load_policy()
ENGINES = ["sqlite", "postgres"]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_names = itertools.count()

# Every table with a customer_id column (what an erasure must leave empty of her).
CUSTOMER_TABLES = (
    *ERASED_TABLES,
    "consent_proposals",
    "dsr",
    "idempotency",
    "subject_keys",
    "customer_links",
    "webhook_inbox",
)


def new_postgres(postgres_url: str) -> str:
    url = pgcluster.create_database(postgres_url, f"e{next(_names)}_{random.randrange(10**6)}")
    with pg_connect(url, autocommit=True) as conn:
        pg_migrate(conn)
    return url


@pytest.fixture
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Store]]:
    """`make_store(engine)`: a new, migrated, empty database on that engine."""
    opened: list[Any] = []

    def make(engine: str) -> Store:
        if engine == "sqlite":
            path = tmp_path / f"s{len(opened)}.db"
            db = sqlite_connect(path)
            sqlite_migrate(db)
            opened.append(db.conn)
            WHERE[id(db)] = str(path)
            return SQLiteStore(db)
        url = new_postgres(request.getfixturevalue("postgres_url"))
        store = PostgresStore.connect(url)
        opened.append(store.conn)
        WHERE[id(store.conn)] = url
        return store

    yield make
    for conn in opened:
        conn.close()


WHERE: dict[int, str] = {}  # a store's file or URL, by the id of its handle


def another(store: Store) -> Store:
    """A second handle on the database of `store` (another process or host); close it
    with `close`."""
    if isinstance(store, SQLiteStore):
        return SQLiteStore(sqlite_connect(WHERE[id(store.db)]))
    assert isinstance(store, PostgresStore)
    return PostgresStore.connect(WHERE[id(store.conn)])


def close(store: Store) -> None:
    if isinstance(store, SQLiteStore):
        store.db.conn.close()
    else:
        assert isinstance(store, PostgresStore)
        store.close()


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, make_store: Callable[[str], Store]) -> Store:
    return make_store(request.param)


def query(store: Store, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Raw rows from either engine (`?` placeholders), for checks only."""
    if isinstance(store, SQLiteStore):
        cur = store.db.execute(sql, list(params))
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    assert isinstance(store, PostgresStore)
    return list(store.conn.execute(sql.replace("?", "%s"), list(params)).fetchall())


def chain_ok(store: Store) -> bool:
    if isinstance(store, SQLiteStore):
        return sqlite_audit.verify(store.db).ok
    assert isinstance(store, PostgresStore)
    return pg_audit.verify(store.conn).ok


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def note(store: Store, extractor: Extractor, text: str, minutes: int) -> dict[str, Any]:
    return services.save_note(
        store, extractor, POLICY, "c-1", text, agent="agent-1", now=at(minutes)
    )


def scenario(store: Store, extractor: Extractor) -> dict[str, Any]:
    """A customer's life through every service, at fixed times; returns what can be
    observed of it (before her erasure)."""
    services.upsert_customer(
        store, "c-1", actor="t", name="Ada Lovelace", email="ada@example.org",
        identities=[services.Identity("crm", "A-1")], now=at(0),
    )  # fmt: skip
    services.upsert_customer(store, "c-2", actor="t", name="Other", now=at(0))
    _, created = services.upsert_customer(store, "c-1", actor="t", phone="+44 20 7946 0000")
    assert not created
    services.record_consent(
        store, POLICY, "c-1", purpose="personalization", status="granted", actor="t",
        source="agent", method="verbal", evidence={"agent": "t"}, now=at(1),
    )  # fmt: skip
    first = note(store, extractor, "Interested in Nike running shoes. Prefers email.", 2)
    complaint = note(store, extractor, "Parcel arrived late, very unhappy.", 3)
    note(store, extractor, "Prefers post.", 4)  # supersedes the e-mail preference
    proposed = note(store, extractor, "Happy for us to text her about offers.", 5)
    (proposal,) = proposed["consent_proposals"]
    wording, version = POLICY.wording("marketing")
    services.confirm_proposal(
        store, POLICY, "c-1", proposal["id"], actor="agent-1", wording=wording,
        wording_version=version, now=at(6),
    )  # fmt: skip
    shoes = next(f for f in first["facts"] if f.get("field") == "interest")
    corrected = services.correct_fact(
        store, POLICY, "c-1", shoes["id"], {"value": "Adidas trail shoes"}, actor="agent-2",
        reason="she said Adidas", now=at(7),
    )  # fmt: skip
    (late,) = complaint["facts"]
    services.set_complaint_status(store, "c-1", late["id"], "resolved", actor="a", now=at(8))
    services.remove_fact(
        store, "c-1", corrected["id"], actor="agent-2", reason="asked to forget", now=at(9)
    )
    services.open_request(store, "c-1", "access", actor="agent-1", now=at(10))
    services.record_consent(
        store, POLICY, "c-1", purpose="personalization", status="withdrawn", actor="t",
        source="agent", method="verbal", evidence={"agent": "t"}, now=at(11),
    )  # fmt: skip
    exported = services.export(store, POLICY, "c-1")
    exported.pop("exported_at")
    return {
        "export": exported,
        "profile": services.profile(store, POLICY, "c-1"),
        "events": store.events_after(0),
        "audit": [
            (e["actor"], e["action"], _without_digests(e["details"]))
            for e in query(store, "SELECT actor, action, details FROM audit_log ORDER BY id")
        ],
    }


def _without_digests(details: str) -> dict[str, Any]:
    import json

    # Keyed digests use the customer's own random key: they differ between databases.
    return {k: v for k, v in json.loads(details).items() if not k.endswith("_digest")}


def test_the_services_give_the_same_results_on_both_engines(
    make_store: Callable[[str], Store], extractor: Extractor
) -> None:
    on_sqlite = scenario(make_store("sqlite"), extractor)
    on_postgres = scenario(make_store("postgres"), extractor)
    for part in ("export", "profile", "events", "audit"):
        assert on_postgres[part] == on_sqlite[part], part


def test_a_customers_life_on_each_engine(store: Store, extractor: Extractor) -> None:
    seen = scenario(store, extractor)
    exported = seen["export"]
    # The ledger: every record kept, in order (append-only).
    assert [(c["purpose"], c["channel"], c["status"]) for c in exported["consents"]] == [
        ("personalization", None, "granted"),
        ("marketing", "sms", "granted"),
        ("personalization", None, "withdrawn"),
    ]
    assert exported["consents"][1]["evidence"]["wording"] == POLICY.wording("marketing")[0]
    # Facts: the withdrawal took every personalization fact out, history kept.
    facts = {(f.get("field"), f.get("value")): f for f in exported["facts"]}
    assert ("contact_channel", "post") in facts and ("interest", "Adidas trail shoes") in facts
    # What is left needs no consent: the channel (its e-mail predecessor superseded).
    shown = [(f["field"], f["value"]) for f in exported["profile"]["preferences"]]
    assert shown == [("contact_channel", "post")]
    assert (
        facts[("contact_channel", "email")]["superseded_by"]
        == facts[("contact_channel", "post")]["id"]
    )
    complaints = exported["profile"]["complaints"]
    assert [(c["category"], c["status"]) for c in complaints] == [("delivery", "resolved")]
    assert all(isinstance(f["id"], int) for f in exported["facts"])
    assert {d["outcome"] for d in exported["decisions"]} >= {"stored"}
    assert [r["kind"] for r in exported["requests"]] == ["access"]
    assert seen["profile"]["consent_proposals"] == []  # confirmed
    # Events in order, with increasing ids (the streams' cursor).
    events = seen["events"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    types = [e["type"] for e in events]
    assert types[:2] == ["consent.changed", "profile.preference.added"]
    assert "consent.proposed" in types and types.index("consent.proposed") < types.index(
        "profile.complaint.updated"
    )
    assert types[-1] == "consent.changed"  # the withdrawal (nothing left that needs it)
    assert isinstance(events[0]["data"], dict)
    after = store.events_after(ids[2], "c-1", limit=2)
    assert [e["id"] for e in after] == ids[3:5]
    assert chain_ok(store)


def test_an_erasure_leaves_nothing_of_her_on_each_engine(
    store: Store, extractor: Extractor
) -> None:
    scenario(store, extractor)
    services.open_request(store, "c-1", "erase", actor="agent-1", now=at(12))
    before = store.change_token()
    out = services.erase(store, "c-1", actor="dpo", now=at(13))
    assert out["erased"] and out["counts"]["facts"] > 0
    for table in CUSTOMER_TABLES:
        # (the erasure's own event names her: streams and webhooks must hear of it)
        left = query(
            store,
            f"SELECT * FROM {table} WHERE customer_id = ?"
            + (" AND type != 'customer.erased'" if table == "events" else ""),
            ["c-1"],
        )
        assert left == [], table
    assert query(store, "SELECT id FROM customers") == [{"id": "c-2"}]
    for word in ("Ada", "Lovelace", "ada@example.org", "Nike", "Adidas", "forget"):
        for table in ("audit_log", "events", "tombstones", "decisions", "facts", "notes"):
            dump = str(query(store, f"SELECT * FROM {table}"))
            assert word not in dump, (word, table)
    (erased,) = store.events_after(0)
    assert erased["type"] == "customer.erased" and erased["customer_id"] == "c-1"
    assert store.change_token() != before or isinstance(store, SQLiteStore)
    assert chain_ok(store)
    assert store.scrub() is True  # nothing holds the erased rows back


def test_purge_applies_retention_on_each_engine(store: Store, extractor: Extractor) -> None:
    services.upsert_customer(store, "c-1", actor="t", name="Ann")
    old = datetime.now(UTC) - timedelta(days=5000)
    services.ingest_note(store, extractor, POLICY, "c-1", "Prefers email.", agent="a", now=old)
    services.ingest_note(store, extractor, POLICY, "c-1", "Prefers post.", agent="a")
    removed = services.purge(store, POLICY, actor="cron")
    assert sum(v for k, v in removed.items() if k != "notes") == 1
    assert [f["value"] for f in store.all_facts("c-1")] == ["post"]
    assert chain_ok(store)


def test_a_failed_write_leaves_nothing_on_each_engine(store: Store) -> None:
    services.upsert_customer(store, "c-1", actor="t", name="Ann")
    services.upsert_customer(store, "c-2", actor="t", identities=[services.Identity("crm", "X")])
    token = store.events_after(0)
    with pytest.raises(services.ProfileError):
        services.upsert_customer(
            store, "c-1", actor="t", name="Bea", identities=[services.Identity("crm", "X")]
        )
    assert (store.customer("c-1") or {})["name"] == "Ann"
    with pytest.raises(RuntimeError), store.transaction():
        services.record_consent(
            store, POLICY, "c-1", purpose="marketing", status="granted", actor="t",
            source="agent", method="verbal", evidence={},
        )  # fmt: skip
        raise RuntimeError("rolled back")
    assert store.consent_ledger("c-1") == []
    assert store.events_after(0) == token
    assert chain_ok(store)


def test_two_postgres_hosts_writing_one_customer_lose_no_update(
    postgres_url: str, extractor: Extractor
) -> None:
    """Each note's exclusive preference supersedes the one before: without the
    customer's lock two writers both read "no current channel" and both stay current."""
    url = new_postgres(postgres_url)
    setup = PostgresStore.connect(url)
    services.upsert_customer(setup, "c-1", actor="t", name="Ann")
    texts = ["Prefers email.", "Prefers post.", "Prefers phone."]
    results = {t: extractor.extract(t) for t in texts}
    per_thread, writers = 12, 3
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        store = PostgresStore.connect(url)
        try:
            start.wait()
            for i in range(per_thread):
                text = texts[(n + i) % len(texts)]
                services.ingest_note(
                    store, extractor, POLICY, "c-1", text, agent=f"host-{n}", result=results[text]
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    current = [f for f in setup.active_facts("c-1") if f["field"] == "contact_channel"]
    assert len(current) == 1, [f["value"] for f in current]
    facts = setup.all_facts("c-1")
    assert len(facts) == writers * per_thread
    notes = setup.notes("c-1")
    assert len(notes) == writers * per_thread
    events = setup.events_after(0, "c-1", limit=10_000)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    added = [e for e in events if e["type"] == "profile.preference.added"]
    assert len(added) == writers * per_thread
    assert pg_audit.verify(setup.conn).ok
    setup.close()


def test_a_store_is_passed_through_and_a_handle_wrapped(tmp_path: Path) -> None:
    from assistant.services.records import store_of

    db = sqlite_connect(tmp_path / "w.db")
    wrapped = store_of(db)
    assert isinstance(wrapped, SQLiteStore) and wrapped.db is db
    assert store_of(wrapped) is wrapped
    db.conn.close()


def test_the_change_token_moves_when_another_handle_commits(store: Store) -> None:
    services.upsert_customer(store, "c-1", actor="t", name="Ann")
    other = another(store)
    try:
        token = store.change_token()
        assert store.change_token() == token  # nothing committed meanwhile
        services.record_consent(
            other, POLICY, "c-1", purpose="marketing", status="granted", actor="t",
            source="agent", method="verbal", evidence={},
        )  # fmt: skip
        assert store.change_token() != token
        assert [e["type"] for e in store.events_after(0)] == ["consent.changed"]
    finally:
        close(other)


def test_postgres_events_are_read_in_commit_order(make_store: Callable[[str], Store]) -> None:
    """An event inserted first but committed last comes after the one committed first:
    a reader resuming after the latter does not skip it."""
    store = make_store("postgres")
    services.upsert_customer(store, "c-1", actor="t", name="Ann")
    services.upsert_customer(store, "c-2", actor="t", name="Bea")
    slow, quick = another(store), another(store)
    try:
        grant = dict(
            purpose="marketing", status="granted", actor="t", source="agent",
            method="verbal", evidence={},
        )  # fmt: skip
        with slow.transaction():
            # The lower row id; no audit entry (whose head lock would make `quick` wait).
            slow.publish(Event("consent.changed", "c-1", "t", "2026-01-05T09:00:00+00:00", {}))
            services.record_consent(quick, POLICY, "c-2", **grant)  # commits first
            (seen,) = store.events_after(0)
            assert seen["customer_id"] == "c-2"
        (late,) = store.events_after(seen["id"])
        assert late["customer_id"] == "c-1" and late["id"] > seen["id"]
        assert [e["customer_id"] for e in store.events_after(0)] == ["c-2", "c-1"]
    finally:
        close(slow)
        close(quick)


def test_postgres_scrub_says_false_while_an_older_snapshot_holds_the_rows(
    make_store: Callable[[str], Store],
) -> None:
    store = make_store("postgres")
    services.upsert_customer(store, "c-1", actor="t", name="Zebediah")
    assert isinstance(store, PostgresStore)
    reader = another(store)
    assert isinstance(reader, PostgresStore)
    try:
        seen = "SELECT count(*) AS n FROM customers WHERE id = 'c-1'"
        with reader.conn.transaction():  # a report reading, not a writer: no lock
            reader.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            assert reader.conn.execute(seen).fetchone() == {"n": 1}  # takes its snapshot
            services.erase(store, "c-1", actor="dpo")  # logs the warning, commits
            assert store.scrub() is False
            assert reader.conn.execute(seen).fetchone() == {"n": 1}  # still sees her
        assert store.scrub() is True
    finally:
        close(reader)


# -- open_store: the engine chosen from the setting's value -----------------------------


def test_open_store_takes_a_path_for_sqlite(tmp_path: Path) -> None:
    for target in (tmp_path / "a" / "t.db", str(tmp_path / "b.db")):
        store = open_store(target)
        try:
            assert isinstance(store, SQLiteStore)
            services.upsert_customer(store, "c-1", actor="t", name="Ann")  # migrated
            assert Path(target).is_file()
        finally:
            close_store(store)
    again = open_store(tmp_path / "b.db")  # an existing file: opened, nothing lost
    assert again.customer("c-1") is not None
    close_store(again)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_open_store_takes_a_postgresql_url(postgres_url: str, scheme: str) -> None:
    url = pgcluster.create_database(postgres_url, f"o{next(_names)}_{random.randrange(10**6)}")
    store = open_store(scheme + url.removeprefix("postgresql"))
    try:
        assert isinstance(store, PostgresStore) and store.conn.autocommit
        services.upsert_customer(store, "c-1", actor="t", name="Ann")  # migrated
        assert chain_ok(store)
    finally:
        close_store(store)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("mysql://db/trustline", "scheme 'mysql'"),
        ("sqlite:///var/trustline.db", "scheme 'sqlite'"),
        ("postgresql://host:notaport/trustline", "not a valid PostgreSQL URL"),
        ("postgresql://localhost", "names no database"),
    ],
)
def test_open_store_says_what_is_wrong_with_the_setting(value: str, says: str) -> None:
    with pytest.raises(DatabaseSettingError) as failed:
        open_store(value)
    assert says in str(failed.value) and "TRUSTLINE_DATABASE" in str(failed.value)


def test_open_store_refuses_a_folder_and_a_file_that_is_no_database(tmp_path: Path) -> None:
    with pytest.raises(DatabaseSettingError, match="names the folder"):
        open_store(tmp_path)
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"not a database at all " * 100)
    with pytest.raises(DatabaseSettingError, match="cannot be opened as a SQLite database"):
        open_store(junk)
    assert junk.read_bytes().startswith(b"not a database")  # left as it was


def test_open_store_says_when_postgresql_is_unreachable() -> None:
    port = pgcluster.free_port()
    with pytest.raises(Unreachable, match="TRUSTLINE_DATABASE") as failed:
        open_store(f"postgresql://u:secret-pw@127.0.0.1:{port}/trustline")
    assert "secret-pw" not in str(failed.value)


def test_open_store_refuses_a_schema_newer_than_the_code(postgres_url: str) -> None:
    url = new_postgres(postgres_url)
    with pg_connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO trustline_migrations (name) VALUES ('m999_future')")
    with pytest.raises(SchemaTooNew, match="m999_future"):
        open_store(url)


def test_postgres_holds_the_customers_lock_to_the_commit(
    make_store: Callable[[str], Store],
) -> None:
    """Taken by the first call naming her, kept when a savepoint is released, taken
    again after a savepoint that took it rolled back; a read outside a transaction
    takes none."""
    store = make_store("postgres")
    services.upsert_customer(store, "c-1", actor="t", name="Ann")
    watcher = another(store)
    assert isinstance(store, PostgresStore) and isinstance(watcher, PostgresStore)

    def locked() -> int:
        found = watcher.conn.execute(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s",
            [CUSTOMER_LOCKS],
        ).fetchone()
        return int(found["n"]) if found else 0

    try:
        store.customer("c-1")
        assert locked() == 0
        with store.transaction():
            with store.transaction():
                store.customer("c-1")
            assert locked() == 1  # the released savepoint's lock lasts
        assert locked() == 0
        with store.transaction():
            with pytest.raises(RuntimeError), store.transaction():
                store.customer("c-1")
                raise RuntimeError
            store.consent_state("c-1")
            assert locked() == 1
        assert locked() == 0
    finally:
        close(watcher)
