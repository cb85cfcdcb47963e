"""Matching: hard filters, hybrid retrieval, soft preferences and an explanation per match."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from index.explain import closest_passage, shared_terms
from index.hybrid import Hit, HybridIndex
from matchmaker.listings import Listing, ListingFilter, ListingStore
from matchmaker.reranking import DEFAULT_MAX_SHIFT, Reranker, Signals, bounded_shift

PREFERENCE_BONUS = 0.05
CANDIDATE_POOL = 60


class IndexProvider(Protocol):
    """Gives the index currently served (it may be swapped for a newer version)."""

    def current(self) -> HybridIndex:
        """The index to search now."""

    def add(self, ids: list[int], texts: list[str]) -> None:
        """Add documents to the index served now."""


@dataclass(frozen=True)
class SearchRequest:
    """What to look for: the description, hard filters and soft preferences."""

    query: str
    target_kind: str
    language: str
    requester_id: str
    regions: tuple[str, ...] = ()
    field: str | None = None
    min_maturity: int | None = None
    prefer_regions: tuple[str, ...] = ()
    prefer_field: str | None = None
    cross_lingual: bool = False
    prefer_maturity: int | None = None
    max_maturity: int | None = None

    def listing_filter(self) -> ListingFilter:
        """The hard constraints as a store filter."""
        return ListingFilter(kind=self.target_kind, regions=self.regions, field=self.field,
                             min_maturity=self.min_maturity,
                             language=None if self.cross_lingual else self.language,
                             exclude_owner=self.requester_id, max_maturity=self.max_maturity)


@dataclass(frozen=True)
class Match:
    """A ranked listing with the evidence for why it matches."""

    rank: int
    listing: Listing
    score: float
    shared_terms: tuple[str, ...] = ()
    passage: str = ""
    same_region: bool = False
    same_field: bool = False
    legs: tuple[str, ...] = field(default_factory=tuple)
    retrieval_score: float = 0.0
    signals: Signals | None = None


class MatchService:
    """Finds, ranks and explains matches; makes new listings searchable at once."""

    def __init__(self, store: ListingStore, indexes: IndexProvider, reranker: Reranker | None = None) -> None:
        """Search ``indexes``, read listing details from ``store``, re-rank with ``reranker`` if given."""
        self._store = store
        self._indexes = indexes
        self._reranker = reranker

    def search(self, request: SearchRequest, offset: int = 0, limit: int = 5) -> list[Match]:
        """Matches ranked ``offset+1`` to ``offset+limit`` for ``request``."""
        allowed = self._store.matching_ids(request.listing_filter())
        if not allowed or not request.query.strip():
            return []
        pool = max(CANDIDATE_POOL, offset + limit)
        hits = self._indexes.current().search(
            request.query, k=pool, allowed_ids=np.asarray(allowed, dtype=np.int64))
        listings = self._store.get_many([h.id for h in hits])
        retrieved = [h for h in hits if h.id in listings and h.score > 0]
        signals: dict[int, Signals] = {}
        if self._reranker is not None and retrieved:
            signals = self._reranker.signals(request.requester_id,
                                             [(h.id, listings[h.id].owner_id) for h in retrieved])
        scored = [(self._final(h, listings[h.id], request, signals.get(h.id)), h) for h in retrieved]
        scored.sort(key=lambda item: (-item[0], item[1].id))
        page = scored[offset:offset + limit]
        return [self._explain(offset + i + 1, final, hit, listings[hit.id], request, signals.get(hit.id))
                for i, (final, hit) in enumerate(page)]

    def post(self, listing: Listing) -> Listing:
        """Store ``listing``; a published one is added to the served index, so it is searchable now.

        A listing held for review (``pending``) is stored only; :meth:`publish` indexes it once
        it is approved.
        """
        stored = self._store.add(listing)
        if stored.status == "published":
            self.publish(stored)
        return stored

    def publish(self, listing: Listing) -> None:
        """Add a published listing to the served index."""
        self._indexes.add([listing.id], [listing.search_text])

    def _final(self, hit: Hit, listing: Listing, request: SearchRequest, signals: Signals | None) -> float:
        """Retrieval score moved by preferences and re-ranking signals, within the re-ranking bound."""
        bonus = PREFERENCE_BONUS * sum(preferences_met(listing, request))
        if self._reranker is not None:
            return self._reranker.final(hit.score, signals, bonus)
        return hit.score + bounded_shift(bonus, DEFAULT_MAX_SHIFT)

    @staticmethod
    def _explain(rank: int, score: float, hit: Hit, listing: Listing, request: SearchRequest,
                 signals: Signals | None) -> Match:
        legs = tuple(name for name, r in (("dense", hit.dense_rank), ("lexical", hit.lexical_rank))
                     if r is not None)
        return Match(
            rank=rank,
            listing=listing,
            score=round(min(1.0, max(0.0, score)), 3),
            shared_terms=tuple(shared_terms(request.query, listing.search_text, limit=4)),
            passage=closest_passage(request.query, listing.text, max_chars=80),
            same_region=preferences_met(listing, request)[0],
            same_field=preferences_met(listing, request)[1],
            legs=legs,
            retrieval_score=round(hit.score, 3),
            signals=signals,
        )


def preferences_met(listing: Listing, request: SearchRequest) -> tuple[bool, bool, bool]:
    """Whether ``listing`` is in a preferred region, in the preferred field, and mature enough."""
    return (listing.region in request.prefer_regions,
            bool(request.prefer_field) and listing.field == request.prefer_field,
            request.prefer_maturity is not None and listing.maturity >= request.prefer_maturity)
