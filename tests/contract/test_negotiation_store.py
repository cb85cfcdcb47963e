"""The negotiation store contract: migrations, ordering and durability under concurrent writers.

Every test runs on both backends (``tests/contract/conftest.py``: SQLite and PostgreSQL).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from matchmaker.db import MigrationError, current_version, migrate
from matchmaker.negotiation import NegotiationStore
from matchmaker.negotiation_store import SQLiteNegotiationStore
from tests.contract.conftest import Backend

OWNER = "org:heat-lab--demo-"
WRITERS = 8
MESSAGES_PER_WRITER = 25

# The threads table exactly as the first matchmaker/threads.py created it.
OLD_THREADS_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    listing_id INTEGER NOT NULL,
    requester_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    state TEXT NOT NULL,
    context TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (listing_id, requester_id)
);
CREATE INDEX IF NOT EXISTS threads_requester ON threads(requester_id);
CREATE INDEX IF NOT EXISTS threads_owner ON threads(owner_id);
"""
OLD_ROWS = [(3, "alice", OWNER, "requested", "kiln heat", 10.0, 11.0),
            (4, "alice", OWNER, "accepted", "heat pump", 12.0, 13.0),
            (5, "bob", OWNER, "declined", "", 14.0, 15.0),
            (6, "bob", OWNER, "agreed", "boilers", 16.0, 17.0),
            (7, "carol", "org:other", "closed", "x", 18.0, 19.0)]


def new_store(backend: Backend) -> NegotiationStore:
    """A new store on its own connection to the backend's database."""
    return SQLiteNegotiationStore(backend.connect())


def seed_old_threads(backend: Backend, rows: Sequence[tuple[int, str, str, str, str, float, float]]) -> None:
    """Create the pre-negotiation threads table holding ``rows``."""
    backend.script(OLD_THREADS_SCHEMA)
    connection = backend.connect()
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany("INSERT INTO threads (listing_id, requester_id, owner_id, state, context,"
                           " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    connection.commit()


def applied(backend: Backend) -> dict[str, int]:
    """Applied schema versions by schema name."""
    rows = backend.connect().execute("SELECT name, MAX(version) FROM schema_migrations GROUP BY name").fetchall()
    return {str(row[0]): int(row[1]) for row in rows}


def test_migrations_are_idempotent_and_keep_data(backend: Backend) -> None:
    store = new_store(backend)
    thread, _ = store.open(1, "alice", OWNER, "kiln")
    versions = applied(backend)
    assert versions == {"accounts": 3, "negotiation": 4, "listings": 2}
    for _ in range(3):
        again = new_store(backend)
    assert applied(backend) == versions
    assert again.thread(thread.id, "alice") == thread
    assert [m.body for m in again.messages(thread.id, OWNER)] == ["request"]


def test_the_old_threads_table_is_migrated_with_its_rows(backend: Backend) -> None:
    seed_old_threads(backend, OLD_ROWS)
    store = new_store(backend)
    assert applied(backend)["negotiation"] == 4
    kept = sorted(store.for_participant(OWNER) + store.for_participant("org:other"), key=lambda t: t.id)
    assert [(t.id, t.listing_id, t.requester_id, t.state, t.context, t.created_at) for t in kept] == [
        (i + 1, r[0], r[1], r[3], r[4], r[5]) for i, r in enumerate(OLD_ROWS)]
    assert [t.answered_at for t in kept] == [None, 13.0, 15.0, 17.0, 19.0]
    same, created = store.open(3, "alice", OWNER, "again")
    assert (same.id, created) == (1, False)
    fresh, created = store.open(8, "alice", OWNER, "new")
    assert created and fresh.id == len(OLD_ROWS) + 1
    store.accept(1, OWNER)
    store.confirm_nda(2, OWNER, "v1")
    assert store.confirm_nda(2, "alice", "v1").state == "open"
    assert [m.seq for m in store.messages(2, "alice")] == [1, 2]
    assert store.rate(4, "bob", 5).rated_id == OWNER
    new_store(backend)
    assert applied(backend)["negotiation"] == 4


def test_concurrent_writers_get_strictly_increasing_seqs_and_lose_nothing(backend: Backend) -> None:
    first = new_store(backend)
    first.accounts.redeem(first.accounts.invite("Heat Lab", None), "owner-rest")
    owner = first.accounts.acting_id("owner-rest")
    thread, _ = first.open(1, "alice", owner, "kiln")
    stores = [new_store(backend) for _ in range(WRITERS)]
    barrier = threading.Barrier(WRITERS)
    seqs: list[list[int]] = [[] for _ in range(WRITERS)]
    errors: list[BaseException] = []

    def write(index: int) -> None:
        sender = "alice" if index % 2 else owner
        barrier.wait()
        try:
            for n in range(MESSAGES_PER_WRITER):
                key = f"w{index}-{n}"
                message, _ = stores[index].post_message(thread.id, sender, key, key)
                retried, created = stores[index].post_message(thread.id, sender, key, key)
                assert retried == message and not created
                seqs[index].append(message.seq)
                time.sleep(0.001)  # let the other writers in, so their transactions interleave
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    workers = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert all(part == sorted(part) and len(set(part)) == len(part) for part in seqs)
    messages = new_store(backend).messages(thread.id, owner)
    total = WRITERS * MESSAGES_PER_WRITER
    assert [m.seq for m in messages] == list(range(1, total + 2))
    assert sorted(m.body for m in messages[1:]) == sorted(
        f"w{i}-{n}" for i in range(WRITERS) for n in range(MESSAGES_PER_WRITER))
    reader = new_store(backend)
    assert len(reader.take_inbox("alice")) == total // 2
    assert [d.seq for d in reader.take_inbox("owner-rest")] == [m.seq for m in messages if m.sender_id == "alice"]


def test_concurrent_contact_requests_open_one_thread(backend: Backend) -> None:
    new_store(backend)
    stores = [new_store(backend) for _ in range(WRITERS)]
    barrier = threading.Barrier(WRITERS)
    outcomes: list[tuple[int, bool]] = []

    def contact(index: int) -> None:
        barrier.wait()
        thread, created = stores[index].open(9, "alice", OWNER, "kiln")
        outcomes.append((thread.id, created))

    workers = [threading.Thread(target=contact, args=(i,)) for i in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len({thread_id for thread_id, _ in outcomes}) == 1
    assert sorted(created for _, created in outcomes) == [False] * (WRITERS - 1) + [True]
    assert len(new_store(backend).messages(outcomes[0][0], OWNER)) == 1


def test_a_failed_migration_step_is_rolled_back_and_newer_databases_are_refused(backend: Backend) -> None:
    connection = backend.connect()
    steps = ["CREATE TABLE a (x INTEGER);", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);"]
    with pytest.raises(MigrationError) as failed:
        migrate(connection, "demo", steps)
    assert failed.value.version == 2
    assert current_version(connection, "demo") == 1
    tables = backend.tables()
    assert "a" in tables and "b" not in tables
    assert migrate(connection, "demo", [steps[0], "CREATE TABLE b (x INTEGER);"]) == 1
    assert migrate(connection, "demo", [steps[0], "CREATE TABLE b (x INTEGER);"]) == 0
    with pytest.raises(MigrationError):
        migrate(connection, "demo", steps[:1])
