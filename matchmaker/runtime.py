"""Wiring of the serving side: stores, the served index and the match service.

Nothing here runs at import. :func:`build_services` opens the embedded database, loads the
published index version and folds in every listing stored since that version was built,
so listings posted through chat stay searchable across restarts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import faiss
import numpy as np

from index.dense import SentenceTransformerEncoder
from index.hybrid import HybridIndex
from index.store import load_current
from matchmaker.listings import SQLiteListingStore, connect
from matchmaker.matching import MatchService
from matchmaker.settings import Settings
from matchmaker.threads import SQLiteThreadStore
from nlu.lexicon import Lexicon

logger = logging.getLogger(__name__)


class IndexHolder:
    """Holds the index being served; a newer version replaces it in one reference swap."""

    def __init__(self, index: HybridIndex) -> None:
        """Serve ``index``."""
        self._index = index
        self._lock = threading.Lock()

    def current(self) -> HybridIndex:
        """The index to search now."""
        return self._index

    def swap(self, index: HybridIndex) -> None:
        """Serve ``index`` from now on."""
        with self._lock:
            self._index = index


@dataclass(frozen=True)
class Services:
    """Everything the actions use."""

    settings: Settings
    lexicon: Lexicon
    listings: SQLiteListingStore
    threads: SQLiteThreadStore
    indexes: IndexHolder
    matcher: MatchService


def fold_in_missing(index: HybridIndex, listings: SQLiteListingStore) -> int:
    """Add to ``index`` every stored listing it lacks; return how many were added."""
    present = set(np.asarray(index.ids()).tolist())
    missing = [item for item in listings.iter_all() if item.id not in present]
    if missing:
        index.add([item.id for item in missing], [item.search_text for item in missing])
    return len(missing)


def build_services(settings: Settings) -> Services:
    """Open stores and load the published index for ``settings``.

    FAISS is limited to one thread: a server answers one query at a time per request, and
    FAISS's thread pool made a single search about ten times slower on two cores.
    """
    faiss.omp_set_num_threads(1)
    connection = connect(settings.database_path)
    listings = SQLiteListingStore(connection)
    encoder = SentenceTransformerEncoder(settings.model_name)
    index, meta = load_current(settings.index_root, encoder)
    added = fold_in_missing(index, listings)
    logger.info("Serving index %s (%d documents, %d folded in from the store)",
                meta.get("version"), len(index), added)
    holder = IndexHolder(index)
    return Services(settings=settings, lexicon=Lexicon.load(settings.lexicon_path), listings=listings,
                    threads=SQLiteThreadStore(connection), indexes=holder,
                    matcher=MatchService(listings, holder))
