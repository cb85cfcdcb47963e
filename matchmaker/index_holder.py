"""The index being served, replaced by newer versions in one reference swap."""

from __future__ import annotations

import threading

import numpy as np

from index.hybrid import HybridIndex
from matchmaker.listings import ListingFilter, ListingStore


def fold_in_missing(index: HybridIndex, listings: ListingStore) -> int:
    """Add to ``index`` every stored listing it lacks; return how many were added."""
    present = set(np.asarray(index.ids()).tolist())
    missing_ids = [i for i in listings.matching_ids(ListingFilter()) if i not in present]
    missing = list(listings.get_many(missing_ids).values())
    if missing:
        index.add([item.id for item in missing], [item.search_text for item in missing])
    return len(missing)


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

    def swap(self, index: HybridIndex, version: str | None = None, listings: ListingStore | None = None) -> int:
        """Serve ``index`` from now on; return how many stored listings were folded into it."""
        added = fold_in_missing(index, listings) if listings is not None else 0
        with self._lock:
            if listings is not None:
                added += fold_in_missing(index, listings)
            self._index, self._version = index, version
        return added
