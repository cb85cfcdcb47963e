"""The connection both backends give the stores (``storage.sql``), and what only a PostgreSQL server can show.

On both: rows, counts and ids, read-only connections, one exception for constraints, writers
taking turns, consistent snapshots and concurrent migrations. On PostgreSQL only: two operating
system processes appending to one thread, the store after a server restart and during an
outage, a transaction cut by the server, and the statement timeout.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import psycopg
import pytest

from bot.stats_api import StatsApi
from matchmaker.db import current_version, migrate, snapshot, transaction
from matchmaker.negotiation_store import SQLiteNegotiationStore
from storage.sql import (
    DatabaseUnavailable,
    Error,
    IntegrityError,
    OperationalError,
    PostgresConnection,
    dialect,
    table_columns,
)
from tests.conftest import LocalServer, postgres_url
from tests.contract.conftest import Backend
from tests.contract.writer_process import append_messages

OWNER = "org:heat-lab--demo-"
TABLE = "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, score REAL)"


def test_rows_counts_and_ids_look_the_same_on_both(backend: Backend) -> None:
    connection = backend.connect()
    assert dialect(connection) == backend.name
    with transaction(connection, nullcontext()) as db:
        db.execute(TABLE)
        first = db.execute("INSERT INTO items (name, score) VALUES (?, ?)", ("a", 0.5))
        assert first.lastrowid == 1
        before = db.total_changes
        many = db.executemany("INSERT OR IGNORE INTO items (name, score) VALUES (?, ?)",
                              [("b", 1.5), ("a", 9.0), ("c", None)])
        assert db.total_changes - before == 2 and many.rowcount == 2
        assert db.execute("UPDATE items SET score = ? WHERE score IS NOT NULL", (True,)).rowcount == 2
    row = connection.execute("SELECT id, name AS label, score FROM items WHERE name = ?", ("b",)).fetchone()
    assert (row[0], row["label"], row["LABEL"], row["score"], tuple(row), row.keys()) == (
        2, "b", "b", 1.0, (2, "b", 1.0), ["id", "label", "score"])
    assert connection.execute("SELECT name FROM items WHERE name = ?", ("nobody",)).fetchone() is None
    assert [r[0] for r in connection.execute("SELECT name FROM items ORDER BY name DESC")] == ["c", "b", "a"]
    assert connection.execute("SELECT COUNT(*) FROM items WHERE name LIKE 'a%'").fetchone()[0] == 1
    assert table_columns(connection, "items") == {"id", "name", "score"} and table_columns(connection, "none") == set()


def test_text_sorts_by_bytes_on_both(backend: Backend) -> None:
    connection = backend.connect()
    backend.script(TABLE)
    words = ["b", "B", "a-c", "ab", "a", "é", "Z", "_"]
    with transaction(connection, nullcontext()) as db:
        db.executemany("INSERT INTO items (name) VALUES (?)", [(w,) for w in words])
    ordered = [r[0] for r in connection.execute("SELECT name FROM items ORDER BY name")]
    assert ordered == sorted(words, key=lambda w: w.encode("utf-8"))
    assert connection.execute("SELECT MIN(name), MAX(name) FROM items").fetchone()[:] == ("B", "é")
    if backend.name == "postgresql":
        collation = connection.execute("SELECT collation_name FROM information_schema.columns WHERE table_schema"
                                       " = current_schema() AND table_name = 'items' AND column_name = 'name'")
        assert collation.fetchone()[0] == "C", "whatever the server's locale, text compares by bytes"


def test_a_read_only_connection_reads_and_refuses_writes(backend: Backend) -> None:
    backend.script(TABLE + "; INSERT INTO items (name) VALUES ('kept');")
    reader = backend.connect(read_only=True)
    with pytest.raises(Error):
        reader.execute("INSERT INTO items (name) VALUES ('refused')")
    reader.rollback()
    assert [r[0] for r in reader.execute("SELECT name FROM items")] == ["kept"]
    with snapshot(reader, nullcontext()) as db:
        assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 1


def test_a_constraint_is_the_same_exception_on_both_and_the_transaction_is_undone(backend: Backend) -> None:
    connection = backend.connect()
    backend.script(TABLE + "; INSERT INTO items (name) VALUES ('a');")
    with pytest.raises(IntegrityError), transaction(connection, nullcontext()) as db:
        db.execute("INSERT INTO items (name) VALUES ('b')")
        db.execute("INSERT INTO items (name) VALUES ('a')")
    assert [r[0] for r in connection.execute("SELECT name FROM items")] == ["a"]
    with transaction(connection, nullcontext()) as db:
        db.execute("INSERT INTO items (name) VALUES ('c')")
    assert connection.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 2


def test_write_transactions_of_two_connections_take_turns(backend: Backend) -> None:
    backend.script(TABLE)
    first, second = backend.connect(), backend.connect()
    entered = threading.Event()
    order: list[str] = []

    def later() -> None:
        with transaction(second, nullcontext()) as db:
            order.append("second began")
            db.execute("INSERT INTO items (name) VALUES ('second')")
        entered.set()

    with transaction(first, nullcontext()) as db:
        db.execute("INSERT INTO items (name) VALUES ('first')")
        worker = threading.Thread(target=later)
        worker.start()
        assert not entered.wait(0.5)
        order.append("first commits")
    worker.join(10)
    assert entered.is_set() and order == ["first commits", "second began"]


def test_a_snapshot_keeps_one_view_while_others_write(backend: Backend) -> None:
    backend.script(TABLE + "; INSERT INTO items (name) VALUES ('a');")
    reader, writer = backend.connect(), backend.connect()
    with snapshot(reader, nullcontext()) as db:
        assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 1
        with transaction(writer, nullcontext()) as other:
            other.execute("INSERT INTO items (name) VALUES ('b')")
        assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 1
    assert reader.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 2


def test_concurrent_migrations_apply_each_step_once(backend: Backend) -> None:
    steps = [TABLE, "ALTER TABLE items ADD COLUMN note TEXT NOT NULL DEFAULT ''",
             "CREATE INDEX items_note ON items(note); INSERT INTO items (name) VALUES ('seed');"]
    connections = [backend.connect() for _ in range(6)]
    barrier = threading.Barrier(len(connections))
    applied: list[int] = []
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            applied.append(migrate(connections[index], "demo", steps))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(len(connections))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == [] and sum(applied) == len(steps)
    assert current_version(backend.connect(), "demo") == len(steps)
    assert [tuple(r) for r in backend.connect().execute("SELECT name, note FROM items")] == [("seed", "")]


# -- PostgreSQL only --------------------------------------------------------------------------------


def wait_until_answering(server: LocalServer, seconds: float = 60.0) -> None:
    """Return once the server accepts connections again."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with psycopg.connect(postgres_url(server), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def stopped(server: LocalServer) -> Iterator[None]:
    """The server is stopped inside the block and started (and answering) again after it, whatever happens."""
    server.run("stop")
    try:
        yield
    finally:
        server.run("start")
        wait_until_answering(server)


@pytest.mark.integration
def test_two_processes_appending_to_one_thread_get_distinct_consecutive_seqs(postgres_backend: Backend) -> None:
    store = SQLiteNegotiationStore(postgres_backend.connect())
    thread, _ = store.open(1, "alice", OWNER, "kiln")
    url = postgres_backend.settings.database_url
    assert url is not None
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    per_process = 40
    processes = [context.Process(target=append_messages, args=(url, thread.id, "alice", prefix, per_process, start))
                 for prefix in ("p0", "p1")]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0, 0]
    messages = store.messages(thread.id, OWNER)
    assert [m.seq for m in messages] == list(range(1, 2 * per_process + 2))
    for prefix in ("p0", "p1"):
        mine = [m for m in messages if m.body.startswith(prefix)]
        assert [m.body for m in mine] == [f"{prefix}-{n}" for n in range(per_process)]
    senders = [m.body[:2] for m in messages[1:]]
    assert sum(1 for a, b in zip(senders, senders[1:], strict=False) if a != b) > 1, "the processes did not interleave"


@pytest.mark.integration
def test_the_store_works_after_a_restart_and_fails_fast_during_an_outage(postgres_backend: Backend,
                                                                        postgres: LocalServer,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in postgres_backend.env().items():
        monkeypatch.setenv(name, value)
    stats = StatsApi(None, "operator-token")
    auth = {"Authorization": "Bearer operator-token"}
    store = SQLiteNegotiationStore(postgres_backend.connect())
    thread, _ = store.open(1, "alice", OWNER, "kiln")
    store.post_message(thread.id, "alice", "before the restart", "m1")
    assert stats.handle("/stats", "", auth).status == 200
    postgres.run("restart")
    wait_until_answering(postgres)
    store.post_message(thread.id, "alice", "after the restart", "m2")
    assert stats.handle("/stats", "", auth).status == 200
    with stopped(postgres):
        began = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            store.post_message(thread.id, "alice", "during the outage", "m3")
        with pytest.raises(DatabaseUnavailable):
            store.messages(thread.id, OWNER)
        assert stats.handle("/stats", "", auth).status == 503
        assert time.monotonic() - began < 15
    assert [m.body for m in store.messages(thread.id, OWNER)] == ["request", "before the restart", "after the restart"]
    message, created = store.post_message(thread.id, "alice", "during the outage", "m3")
    assert created and message.seq == 4
    assert json.loads(stats.handle("/stats", "", auth).body)["contacts"] == 1


@pytest.mark.integration
def test_a_transaction_cut_by_the_server_is_rolled_back_and_never_continued(postgres_backend: Backend,
                                                                           postgres: LocalServer) -> None:
    postgres_backend.script(TABLE)
    connection = postgres_backend.connect()
    pid = connection.execute("SELECT pg_backend_pid()").fetchone()[0]
    with pytest.raises(DatabaseUnavailable), transaction(connection, nullcontext()) as db:
        db.execute("INSERT INTO items (name) VALUES ('half')")
        with psycopg.connect(postgres_url(postgres), autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone() == (True,)
        db.execute("INSERT INTO items (name) VALUES ('written after the cut')")
    assert connection.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
    assert connection.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO items (name) VALUES ('whole')")
    cut = connection.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(postgres_url(postgres), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (cut,))
    with pytest.raises(DatabaseUnavailable, match="rolled back"):
        connection.execute("SELECT 1")
    connection.rollback()
    assert [r[0] for r in connection.execute("SELECT name FROM items")] == []


@pytest.mark.integration
def test_waiting_for_the_write_lock_ends_at_the_statement_timeout(postgres_backend: Backend) -> None:
    url = postgres_backend.settings.database_url
    assert url is not None
    holder = postgres_backend.connect()
    waiter = PostgresConnection(url, statement_timeout=0.5)
    try:
        holder.execute("BEGIN IMMEDIATE")
        began = time.monotonic()
        with pytest.raises(OperationalError):
            waiter.execute("BEGIN IMMEDIATE")
        assert 0.4 < time.monotonic() - began < 5
        assert not waiter.in_transaction
        holder.rollback()
        waiter.execute("BEGIN IMMEDIATE")
        waiter.rollback()
    finally:
        waiter.close()
