"""Hot swap of published index versions: checks before the swap, no lost query or posting."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from index.build import build_hybrid
from index.remote import current_name, publish_version
from index.store import write_version
from matchmaker.index_holder import IndexHolder
from matchmaker.index_watch import IndexWatcher
from matchmaker.listings import Listing, SQLiteListingStore, connect
from storage.files import resolve
from tests.unit.fakes import DEMO, HashingEncoder, make_listing


def _store(tmp_path: Path) -> SQLiteListingStore:
    store = SQLiteListingStore(connect(tmp_path / "listings.db"))
    store.add_many(DEMO)
    return store


def _publish(root: Path, scratch: Path, listings: list[Listing], encoder: HashingEncoder) -> str:
    index = build_hybrid([item.id for item in listings], [item.search_text for item in listings], encoder)
    return publish_version(resolve(root), write_version(scratch, index))


def _watcher(tmp_path: Path, store: SQLiteListingStore, encoder: HashingEncoder) -> tuple[IndexWatcher, IndexHolder]:
    root = tmp_path / "index"
    listings = list(store.iter_all())
    first = _publish(root, tmp_path / "scratch", listings[:-1], encoder)
    index = build_hybrid([item.id for item in listings[:-1]], [item.search_text for item in listings[:-1]],
                         encoder)
    holder = IndexHolder(index, first)
    return IndexWatcher(resolve(root), tmp_path / "cache", encoder, holder, store, interval=0.05), holder


def test_a_new_version_is_swapped_in_with_posted_listings_folded_in(tmp_path: Path) -> None:
    encoder = HashingEncoder()
    store = _store(tmp_path)
    watcher, holder = _watcher(tmp_path, store, encoder)
    posted = store.add(make_listing("posted", "achievement", "Graphene heat spreader", "A graphene film for phones."))
    holder.add([posted.id], [posted.search_text])
    second = _publish(tmp_path / "index", tmp_path / "scratch", list(store.iter_all())[:3], encoder)

    assert watcher.check_once() == second
    assert holder.version == second
    served = set(holder.current().ids().tolist())
    assert {item.id for item in store.iter_all()} <= served
    assert watcher.check_once() is None


def test_a_corrupt_version_is_rejected_and_the_old_one_keeps_serving(tmp_path: Path) -> None:
    encoder = HashingEncoder()
    store = _store(tmp_path)
    watcher, holder = _watcher(tmp_path, store, encoder)
    before = holder.version
    bad = _publish(tmp_path / "index", tmp_path / "scratch", list(store.iter_all()), encoder)
    (tmp_path / "index" / "versions" / bad / "ids.npy").write_bytes(b"garbage")

    assert watcher.check_once() is None
    assert holder.version == before
    assert holder.current().search("lithium battery", k=3)


def test_a_version_that_matches_no_stored_listing_fails_its_probe(tmp_path: Path) -> None:
    encoder = HashingEncoder()
    store = _store(tmp_path)
    watcher, holder = _watcher(tmp_path, store, encoder)
    strangers = [make_listing(f"x{i}", "demand", f"Unrelated {i}", "Nothing stored.") for i in range(3)]
    strangers = [Listing(**{**item.__dict__, "id": 9000 + i}) for i, item in enumerate(strangers)]
    _publish(tmp_path / "index", tmp_path / "scratch", strangers, encoder)

    before = holder.version
    assert watcher.check_once() is None
    assert holder.version == before


def test_a_model_mismatch_is_rejected(tmp_path: Path) -> None:
    store = _store(tmp_path)
    watcher, holder = _watcher(tmp_path, store, HashingEncoder())
    other = _publish(tmp_path / "index", tmp_path / "scratch", list(store.iter_all()), HashingEncoder("other"))
    config = json.loads((tmp_path / "index" / "versions" / other / "config.json").read_text())
    assert config["model_name"] == "other"

    assert watcher.check_once() is None
    assert holder.version != other


def test_queries_and_postings_during_swaps_are_all_answered_and_kept(tmp_path: Path) -> None:
    encoder = HashingEncoder()
    store = _store(tmp_path)
    watcher, holder = _watcher(tmp_path, store, encoder)
    stop = threading.Event()
    answered: list[int] = []
    failures: list[BaseException] = []

    def query() -> None:
        while not stop.is_set():
            try:
                hits = holder.current().search("lithium battery cathode", k=3)
                answered.append(len(hits))
            except BaseException as error:  # noqa: BLE001 - every failure is a lost query
                failures.append(error)

    threads = [threading.Thread(target=query) for _ in range(4)]
    for thread in threads:
        thread.start()
    posted_ids = []
    for round_number in range(5):
        posted = store.add(make_listing(f"p{round_number}", "achievement", f"Battery separator {round_number}",
                                        "A ceramic-coated separator for lithium batteries."))
        holder.add([posted.id], [posted.search_text])
        posted_ids.append(posted.id)
        _publish(tmp_path / "index", tmp_path / f"scratch{round_number}", list(store.iter_all())[:5], encoder)
        assert watcher.check_once() == current_name(resolve(tmp_path / "index"))
    stop.set()
    for thread in threads:
        thread.join()

    assert not failures
    assert answered and all(count > 0 for count in answered)
    assert set(posted_ids) <= set(np.asarray(holder.current().ids()).tolist())
