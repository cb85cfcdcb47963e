"""The embedded SQLite stores of listings and threads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from matchmaker.listings import Listing, ListingError, ListingFilter, SQLiteListingStore, connect
from matchmaker.negotiation import NegotiationError as ThreadError
from matchmaker.negotiation_store import SQLiteNegotiationStore as SQLiteThreadStore


def listing(source: str, **changes: object) -> Listing:
    base = Listing(id=0, kind="achievement", title="Solid electrolyte", text="A sulfide solid electrolyte.",
                   owner_id="org:lab", owner_name="Lab (demo)", owner_type="institute", listing_type="paper",
                   region="jiangsu", field="new_energy", maturity=5, language="en", source=source)
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture()
def store(tmp_path: Path) -> SQLiteListingStore:
    return SQLiteListingStore(connect(tmp_path / "db.sqlite"))


def test_add_assigns_stable_ids_and_skips_duplicate_sources(store: SQLiteListingStore) -> None:
    first = store.add(listing("a"))
    again = store.add(listing("a", title="changed"))
    assert first.id > 0 and again.id == first.id and again.title == "Solid electrolyte"
    assert store.add_many([listing("a"), listing("b")]) == 1
    assert store.count() == 2


def test_filters_combine(store: SQLiteListingStore) -> None:
    store.add_many([listing("a"), listing("b", region="zhejiang"), listing("c", maturity=8),
                    listing("d", kind="demand"), listing("e", owner_id="me")])
    ids = store.get_many(store.matching_ids(ListingFilter(kind="achievement", regions=("jiangsu",),
                                                          min_maturity=6)))
    assert [item.source for item in ids.values()] == ["c"]
    mine_excluded = store.matching_ids(ListingFilter(kind="achievement", exclude_owner="me"))
    assert len(mine_excluded) == 3


@pytest.mark.parametrize("changes", [{"title": " "}, {"kind": "offer"}, {"maturity": 12}, {"text": "x" * 5000}])
def test_invalid_listings_are_refused_and_nothing_is_stored(store: SQLiteListingStore, changes: dict) -> None:
    with pytest.raises(ListingError):
        store.add(listing("bad", **changes))
    assert store.count() == 0


def test_iter_all_pages_through_everything(store: SQLiteListingStore) -> None:
    store.add_many(listing(f"s{i}") for i in range(2500))
    assert sum(1 for _ in store.iter_all()) == 2500


def test_threads_are_seen_by_both_parties_and_not_duplicated(tmp_path: Path) -> None:
    threads = SQLiteThreadStore(connect(tmp_path / "db.sqlite"))
    thread, created = threads.open(7, "alice", "org:lab", "battery")
    again, created_again = threads.open(7, "alice", "org:lab", "battery")
    assert created and not created_again and again.id == thread.id
    assert [t.id for t in threads.for_participant("org:lab")] == [thread.id]
    assert [t.id for t in threads.for_participant("alice")] == [thread.id]
    assert threads.for_participant("bob") == []
    assert threads.accept(thread.id, "org:lab").state == "accepted"


def test_threads_refuse_self_contact_and_unknown_threads(tmp_path: Path) -> None:
    threads = SQLiteThreadStore(connect(tmp_path / "db.sqlite"))
    with pytest.raises(ThreadError):
        threads.open(1, "alice", "alice", "")
    with pytest.raises(ThreadError):
        threads.accept(1, "alice")
