"""The index being served, replaced by newer versions in one reference swap."""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np

from index.hybrid import HybridIndex
from matchmaker.listings import Listing, ListingFilter, ListingStore


def fold_in_missing(index: HybridIndex, listings: ListingStore) -> int:
    """Add to ``index`` every stored listing it lacks; return how many were added."""
    present = set(np.asarray(index.ids()).tolist())
    missing_ids = [i for i in listings.matching_ids(ListingFilter()) if i not in present]
    missing = list(listings.get_many(missing_ids).values())
    if missing:
        index.add([item.id for item in missing], [item.search_text for item in missing])
    return len(missing)


class PublishedListings(Protocol):
    """Listings in the order they were published (``publish_seq``)."""

    def published_after(self, seq: int, limit: int = 500) -> list[tuple[int, Listing]]:
        """Listings published after ``seq``, in publishing order, with their sequence."""


class IndexHolder:
    """Holds the index being served; a newer version replaces it in one reference swap.

    Searches read :meth:`current` without locking. Additions and swaps share a lock, and a
    swap first folds into the new index every stored listing it lacks, so a listing posted
    while a new version is being swapped in is in the new index either way.
    """

    def __init__(self, index: HybridIndex, version: str | None = None) -> None:
        """Serve ``index`` (published as ``version``)."""
        self._index = index
        self._version = version
        self._lock = threading.Lock()
        self._published_seq = 0

    def current(self) -> HybridIndex:
        """The index to search now."""
        return self._index

    @property
    def version(self) -> str | None:
        """The published version served (``None`` for an index built in memory)."""
        return self._version

    def add(self, ids: list[int], texts: list[str]) -> None:
        """Add documents to the served index."""
        with self._lock:
            self._index.add(ids, texts)

    def published_up_to(self, seq: int) -> None:
        """Every listing published up to ``seq`` is in the served index (set once, at start)."""
        self._published_seq = max(self._published_seq, seq)

    def fold_in_published(self, listings: PublishedListings) -> int:
        """Add the listings published since the last call that the served index lacks.

        Another server sharing the database (a second action server) stores listings this
        one did not add; they become searchable here at the next call. Returns how many
        were added.
        """
        added = 0
        with self._lock:
            while True:
                batch = listings.published_after(self._published_seq)
                if not batch:
                    return added
                present = set(np.asarray(self._index.ids()).tolist())
                missing = [listing for _, listing in batch if listing.id not in present]
                if missing:
                    self._index.add([item.id for item in missing], [item.search_text for item in missing])
                    added += len(missing)
                self._published_seq = batch[-1][0]

    def swap(self, index: HybridIndex, version: str | None = None, listings: ListingStore | None = None) -> int:
        """Serve ``index`` from now on; return how many stored listings were folded into it."""
        added = fold_in_missing(index, listings) if listings is not None else 0
        with self._lock:
            if listings is not None:
                added += fold_in_missing(index, listings)
            self._index, self._version = index, version
        return added
