"""Wiring of the serving side: stores, the served index and the match service.

Nothing here runs at import. :func:`build_services` opens the configured database, loads the
published index version (from a local root or HDFS, through the local cache), folds in
every listing stored since that version was built, so listings posted through chat stay
searchable across restarts, and prepares the watcher that swaps in newer versions.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import faiss

from behaviour.store import EventStore
from index.dense import Encoder, SentenceTransformerEncoder
from index.remote import current_name, fetch_version
from index.store import IndexIntegrityError, load_version
from matchmaker.alerts import AlertEngine, NeedMatcher, SQLiteNeedStore, implicit_need
from matchmaker.brokerage import Brokerage
from matchmaker.delivery import RetryPolicy
from matchmaker.desk import SQLiteDesk
from matchmaker.event_stores import serving_event_store
from matchmaker.index_holder import IndexHolder, fold_in_missing
from matchmaker.index_watch import IndexWatcher
from matchmaker.listings import Listing, SQLiteListingStore
from matchmaker.matching import MatchService
from matchmaker.negotiation import Nda, load_nda
from matchmaker.negotiation_store import SQLiteNegotiationStore
from matchmaker.reranking import CFHolder, Reranker
from matchmaker.settings import Settings
from matchmaker.stats import SearchLog
from nlu.lexicon import Lexicon
from storage.files import resolve
from storage.sql import open_database

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """Everything the actions use."""

    settings: Settings
    lexicon: Lexicon
    listings: SQLiteListingStore
    threads: SQLiteNegotiationStore
    indexes: IndexHolder
    matcher: MatchService
    events: EventStore
    cf: CFHolder
    nda: Nda
    brokerage: Brokerage
    search_log: SearchLog
    alerts: AlertEngine
    watcher: IndexWatcher | None = None

    def listing_posted(self, listing: Listing) -> None:
        """A listing was stored through chat: it goes on the intermediaries' desk, an achievement's
        owner hears of new matching demands, and the alert engine looks at it now, not at its next poll."""
        self.brokerage.listing_posted(listing)
        need = implicit_need(listing)
        if need is not None:
            self.alerts.save_need(need)
        if listing.status == "published":
            self.alerts.wake()


def build_services(settings: Settings) -> Services:
    """Open stores and load the published index for ``settings``.

    FAISS is limited to one thread: a server answers one query at a time per request, and
    FAISS's thread pool made a single search about ten times slower on two cores.
    """
    faiss.omp_set_num_threads(1)
    connection = open_database(settings)
    listings = SQLiteListingStore(connection)
    encoder = SentenceTransformerEncoder(settings.model_name)
    root = resolve(settings.index_uri, settings.webhdfs_url)
    name = current_name(root)
    if name is None:
        raise IndexIntegrityError(f"no index published under {root.uri}: run `make demo` or the index job")
    index, _ = load_version(fetch_version(root, name, settings.index_cache_dir), encoder)
    published = listings.last_publish_seq()
    added = fold_in_missing(index, listings)
    logger.info("Serving index %s from %s (%d documents, %d folded in from the store)",
                name, root.uri, len(index), added)
    holder = IndexHolder(index, name)
    holder.published_up_to(published)
    events = serving_event_store(settings)
    cf = CFHolder(resolve(settings.cf_uri, settings.webhdfs_url), settings.var_dir / "cf-cache")
    cf.check_once()
    threads = negotiation_store(settings, events, listings)
    reranker = Reranker(settings.rank_weights, events, cf, settings.rerank_max_shift)
    matcher = MatchService(listings, holder, reranker)
    desk = SQLiteDesk(open_database(settings), threads.accounts, threads.notify)
    alerts = alert_engine(settings, listings, threads, encoder)
    brokerage = Brokerage(desk, threads, listings, matcher, on_publish=alerts.wake)
    watcher = IndexWatcher(root, settings.index_cache_dir, encoder, holder, listings,
                           interval=settings.index_poll_seconds,
                           also=(lambda: holder.fold_in_published(listings), cf.check_once, events.replay,
                                 lambda: expire_threads(threads, settings),
                                 lambda: brokerage.flag_unanswered(time.time(), settings.unanswered_hours)))
    return Services(settings=settings, lexicon=Lexicon.load(settings.lexicon_path), listings=listings,
                    threads=threads, indexes=holder, matcher=matcher, events=events, cf=cf,
                    nda=load_nda(settings.nda_path), brokerage=brokerage,
                    search_log=SearchLog(open_database(settings)), alerts=alerts, watcher=watcher)


def negotiation_store(settings: Settings, events: EventStore, listings: SQLiteListingStore) -> SQLiteNegotiationStore:
    """Threads, messages, accounts and the outbox, on a connection of their own.

    Its transactions span several statements, so it does not share a connection with the
    listing store (a connection holds one transaction at a time; writers take turns).
    """
    return SQLiteNegotiationStore(open_database(settings), events=events, listings=listings,
                                  retry=RetryPolicy(base_seconds=settings.push_retry_seconds))


def alert_engine(settings: Settings, listings: SQLiteListingStore, threads: SQLiteNegotiationStore,
                 encoder: Encoder) -> AlertEngine:
    """Saved needs on a connection of their own, matched by ``encoder``, alerted through the outbox."""
    engine = AlertEngine(SQLiteNeedStore(open_database(settings)), listings, NeedMatcher(encoder),
                         threads.notify, per_day=settings.alerts_per_day)
    engine.load()
    return engine


def expire_threads(threads: SQLiteNegotiationStore, settings: Settings) -> None:
    """Close threads nobody answered for ``thread_expiry_days`` days."""
    closed = threads.expire_stale(time.time(), settings.thread_expiry_days)
    if closed:
        logger.info("closed %d threads without an answer for %d days", len(closed), settings.thread_expiry_days)
