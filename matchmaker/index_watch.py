"""Hot swap: the serving process picks up newly published index versions without a restart.

A background thread polls the index root's ``CURRENT`` pointer (local or HDFS). When it
names a version other than the one served, the watcher copies it to the local cache,
loads it off to the side (checksums, counts, ids and model are verified by
:func:`index.store.load_version`), runs probe queries against the listing store, and only
then swaps the holder's single reference. Any failure leaves the old version serving: a
version that fails its checks is not tried again, a file-system error is retried at the
next poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.dense import Encoder
from index.hybrid import HybridIndex
from index.remote import prune_cache
from index.store import IndexIntegrityError, load_version
from matchmaker.index_holder import IndexHolder
from matchmaker.listings import ListingStore
from matchmaker.versions import VersionPoller
from storage.files import Location

logger = logging.getLogger(__name__)

PROBES = 5


class ProbeFailedError(IndexIntegrityError):
    """A loaded version does not find the listings it claims to hold."""


def probe(index: HybridIndex, listings: ListingStore, probes: int = PROBES) -> None:
    """Query a few indexed listings by title; at least one must come back in the top 10.

    Raises:
        ProbeFailedError: If the index is empty, holds none of the stored listings, or finds none.
    """
    ids = index.ids()
    if len(ids) == 0:
        raise ProbeFailedError("the new version is empty")
    sample = ids[np.linspace(0, len(ids) - 1, num=min(probes, len(ids))).astype(int)]
    stored = listings.get_many([int(i) for i in sample])
    if not stored:
        raise ProbeFailedError("none of the probed ids is in the listing store")
    for listing in stored.values():
        if listing.id in {hit.id for hit in index.search(listing.title, k=10)}:
            return
    raise ProbeFailedError(f"probe queries did not find listings {sorted(stored)}")


def load_checked(directory: Path, encoder: Encoder, listings: ListingStore) -> HybridIndex:
    """Verify and probe a fetched version directory."""
    index, _ = load_version(directory, encoder)
    probe(index, listings)
    return index


class IndexWatcher:
    """Polls an index root and swaps newly published versions into a holder."""

    def __init__(self, root: Location, cache_dir: Path, encoder: Encoder, holder: IndexHolder,
                 listings: ListingStore, interval: float = 10.0,
                 also: Sequence[Callable[[], object]] = ()) -> None:
        """Watch ``root`` every ``interval`` seconds, serving through ``holder``.

        ``also`` are further periodic checks run by the same thread (newer CF factors,
        replaying spooled events).
        """
        self._also = tuple(also)
        self._cache_dir = cache_dir
        self._holder, self._listings, self._interval = holder, listings, interval
        self._poller = VersionPoller("index", root, cache_dir, lambda directory: load_checked(directory, encoder, listings),
                                     self._serve, rejects=(IndexIntegrityError,))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> str | None:
        """Swap in the published version if it is new and sound; return its name if swapped."""
        return self._poller.check_once(self._holder.version)

    def _serve(self, index: HybridIndex, name: str) -> None:
        added = self._holder.swap(index, name, self._listings)
        logger.info("now serving index version %s (%d documents, %d folded in from the store)",
                    name, len(index), added)
        prune_cache(self._cache_dir, keep={name})

    def start(self) -> None:
        """Poll in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="index-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            for check in (self.check_once, *self._also):
                try:
                    check()
                except Exception:
                    logger.exception("periodic check %s failed", getattr(check, "__qualname__", check))
