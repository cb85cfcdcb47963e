"""The listing store contract, on both backends: ids, duplicates, filters, paging, review and publishing order."""

from __future__ import annotations

from dataclasses import replace

import pytest

from matchmaker.listings import Listing, ListingError, ListingFilter, SQLiteListingStore
from matchmaker.negotiation import NegotiationError as ThreadError
from matchmaker.negotiation_store import SQLiteNegotiationStore as SQLiteThreadStore
from tests.contract.conftest import Backend


def listing(source: str, **changes: object) -> Listing:
    base = Listing(id=0, kind="achievement", title="Solid electrolyte", text="A sulfide solid electrolyte.",
                   owner_id="org:lab", owner_name="Lab (demo)", owner_type="institute", listing_type="paper",
                   region="jiangsu", field="new_energy", maturity=5, language="en", source=source)
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture()
def store(backend: Backend) -> SQLiteListingStore:
    return SQLiteListingStore(backend.connect())


def test_add_assigns_stable_ids_and_skips_duplicate_sources(store: SQLiteListingStore) -> None:
    first = store.add(listing("a"))
    again = store.add(listing("a", title="changed"))
    assert first.id > 0 and again.id == first.id and again.title == "Solid electrolyte"
    assert store.add_many([listing("a"), listing("b")]) == 1
    assert store.add_many([listing("c"), listing("d"), listing("b")]) == 2
    assert store.count() == 4
    assert store.get_many([first.id])[first.id] == first


def test_a_listing_round_trips_with_every_field(store: SQLiteListingStore) -> None:
    offer = listing("f", kind="funding", amount_min=500_000, amount_max=5_000_000, stage="angel", budget=None,
                    deadline_days=90, created_at=1_700_000_000.25, title="天使轮 锂电池材料")
    stored = store.add(offer)
    assert store.get_many([stored.id]) == {stored.id: replace(offer, id=stored.id)}


def test_an_explicit_id_is_kept_and_later_ids_follow_it(store: SQLiteListingStore) -> None:
    assert store.add(listing("x", id=500)).id == 500
    assert store.add(listing("y")).id == 501
    assert sorted(store.get_many([500, 501])) == [500, 501]


def test_filters_combine(store: SQLiteListingStore) -> None:
    store.add_many([listing("a"), listing("b", region="zhejiang"), listing("c", maturity=8),
                    listing("d", kind="demand"), listing("e", owner_id="me")])
    ids = store.get_many(store.matching_ids(ListingFilter(kind="achievement", regions=("jiangsu",),
                                                          min_maturity=6)))
    assert [item.source for item in ids.values()] == ["c"]
    mine_excluded = store.matching_ids(ListingFilter(kind="achievement", exclude_owner="me"))
    assert len(mine_excluded) == 3
    assert len(store.matching_ids(ListingFilter(regions=("jiangsu", "zhejiang"), max_maturity=5))) == 4


@pytest.mark.parametrize("changes", [{"title": " "}, {"kind": "offer"}, {"maturity": 12}, {"text": "x" * 5000}])
def test_invalid_listings_are_refused_and_nothing_is_stored(store: SQLiteListingStore, changes: dict) -> None:
    with pytest.raises(ListingError):
        store.add(listing("bad", **changes))
    assert store.count() == 0


def test_iter_all_pages_through_everything_and_get_many_takes_many_ids(store: SQLiteListingStore) -> None:
    store.add_many(listing(f"s{i}") for i in range(2500))
    every = list(store.iter_all())
    assert len(every) == 2500 and [item.id for item in every] == sorted(item.id for item in every)
    assert len(store.get_many([item.id for item in every] + [999_999])) == 2500


def test_publishing_order_follows_commits_and_review_decides(store: SQLiteListingStore) -> None:
    first = store.add(listing("p1"))
    pending = store.add(listing("p2", status="pending"))
    second = store.add(listing("p3"))
    assert store.pending_count() == 1
    assert [(seq, item.id) for seq, item in store.published_after(0)] == [(1, first.id), (2, second.id)]
    published = store.set_status(pending.id, "published", "fine")
    assert published.status == "published" and published.review_note == "fine"
    assert [(seq, item.id) for seq, item in store.published_after(2)] == [(3, pending.id)]
    assert store.last_publish_seq() == 3 and store.pending_count() == 0
    with pytest.raises(ListingError, match="not pending"):
        store.set_status(pending.id, "rejected")
    with pytest.raises(ListingError, match="no listing"):
        store.set_status(9999, "published")
    rejected = store.set_status(store.add(listing("p4", status="pending")).id, "rejected", "duplicate")
    assert rejected.status == "rejected" and store.last_publish_seq() == 3
    assert pending.id in store.matching_ids(ListingFilter()) and rejected.id not in store.matching_ids(ListingFilter())


def test_by_owner_is_newest_first(store: SQLiteListingStore) -> None:
    ids = [store.add(listing(f"o{i}", owner_id="org:me")).id for i in range(3)]
    store.add(listing("other"))
    assert [item.id for item in store.by_owner("org:me")] == ids[::-1]


def test_threads_are_seen_by_both_parties_and_not_duplicated(backend: Backend) -> None:
    threads = SQLiteThreadStore(backend.connect())
    thread, created = threads.open(7, "alice", "org:lab", "battery")
    again, created_again = threads.open(7, "alice", "org:lab", "battery")
    assert created and not created_again and again.id == thread.id
    assert [t.id for t in threads.for_participant("org:lab")] == [thread.id]
    assert [t.id for t in threads.for_participant("alice")] == [thread.id]
    assert threads.for_participant("bob") == []
    assert threads.accept(thread.id, "org:lab").state == "accepted"


def test_threads_refuse_self_contact_and_unknown_threads(backend: Backend) -> None:
    threads = SQLiteThreadStore(backend.connect())
    with pytest.raises(ThreadError):
        threads.open(1, "alice", "alice", "")
    with pytest.raises(ThreadError):
        threads.accept(1, "alice")
