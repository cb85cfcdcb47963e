"""The event-store contract, for SQLite and for a real HBase (Thrift)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from behaviour.events import Event, EventError
from behaviour.hbase_store import HBaseEventStore
from behaviour.store import Credit, EventStore, SQLiteEventStore


@pytest.fixture(params=["sqlite", pytest.param("hbase", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "sqlite":
        yield SQLiteEventStore(tmp_path / "events.db")
        return
    host, port = request.getfixturevalue("hbase")
    hbase = HBaseEventStore(host, port, table_prefix=f"test_{uuid.uuid4().hex[:8]}_")
    hbase.ensure_table()
    try:
        yield hbase
    finally:
        hbase.drop()


def test_events_come_back_per_user_and_per_listing_in_time_order(store: EventStore) -> None:
    events = [Event("shown", "alice", listing_id=7, rank=1, query="battery", ts=100.0),
              Event("contact", "alice", listing_id=7, ts=102.5),
              Event("shown", "bob", listing_id=7, rank=3, query="电池", ts=101.0),
              Event("shown", "alice", listing_id=9, rank=2, ts=99.0)]
    assert store.append(events) == 4
    assert [e.event_id for e in store.for_user("alice")] == [events[3].event_id, events[0].event_id,
                                                             events[1].event_id]
    assert [e.user_id for e in store.for_listing(7)] == ["alice", "bob", "alice"]
    assert store.for_listing(7)[1].query == "电池"
    assert store.for_user("carol") == []
    assert store.count() == 4
    assert sorted(e.event_id for e in store.scan()) == sorted(e.event_id for e in events)


def test_a_user_id_holding_the_key_separator_sees_only_its_own_events(store: EventStore) -> None:
    from behaviour.hbase_store import salt

    other = next(f"dave|{n}" for n in range(1000) if salt(f"dave|{n}") == salt("dave"))
    store.append([Event("shown", other, listing_id=4, rank=1, ts=10.0), Event("shown", "dave", listing_id=5, ts=11.0)])
    assert [e.user_id for e in store.for_user("dave")] == ["dave"]
    assert [e.user_id for e in store.for_user(other)] == [other]


def test_an_event_stored_twice_counts_once(store: EventStore) -> None:
    event = Event("deal", "alice", listing_id=3, subject_id="org:lab", thread_id=5)
    store.append([event])
    store.append([event, event])
    assert store.count() == 1


def test_malformed_events_are_refused_before_anything_is_written(store: EventStore) -> None:
    with pytest.raises(EventError):
        store.append([Event("shown", "alice", listing_id=1), Event("rating", "alice", rating=9)])
    assert store.count() == 0


def test_credit_is_replaced_and_read_back_by_participant(store: EventStore) -> None:
    store.put_credits([Credit("org:a", 61.5, {"deals": 0.4}, 1.0), Credit("org:b", 80.0, {}, 1.0)])
    store.put_credits([Credit("org:a", 72.25, {"deals": 0.6, "ratings": 0.9}, 2.0)])
    found = store.credits(["org:a", "org:b", "org:none"])
    assert set(found) == {"org:a", "org:b"}
    assert found["org:a"] == Credit("org:a", 72.25, {"deals": 0.6, "ratings": 0.9}, 2.0)


@pytest.mark.integration
def test_servers_starting_together_on_a_new_table_all_come_up(hbase: tuple[str, int]) -> None:
    """Two action servers of the production profile open the same new table at once."""
    import threading

    prefix = f"test_{uuid.uuid4().hex[:8]}_"
    stores = [HBaseEventStore(*hbase, table_prefix=prefix) for _ in range(4)]
    failures: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def open_table(store: HBaseEventStore) -> None:
        start.wait()
        try:
            store.ensure_table()
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            failures.append(error)

    threads = [threading.Thread(target=open_table, args=(store,)) for store in stores]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        assert stores[0].count() == 0
    finally:
        stores[0].drop()
