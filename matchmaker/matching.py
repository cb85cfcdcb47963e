"""Matching: hard filters, hybrid retrieval, soft preferences and an explanation per match."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from index.explain import closest_passage, shared_terms
from index.hybrid import Hit, HybridIndex
from matchmaker.listings import Listing, ListingFilter, ListingStore
from matchmaker.reranking import Reranker, Signals

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

    def listing_filter(self) -> ListingFilter:
        """The hard constraints as a store filter."""
        return ListingFilter(kind=self.target_kind, regions=self.regions, field=self.field,
                             min_maturity=self.min_maturity,
                             language=None if self.cross_lingual else self.language,
                             exclude_owner=self.requester_id)


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
        retrieved = [(self._adjusted(h, listings[h.id], request), h) for h in hits
                     if h.id in listings and h.score > 0]
        signals: dict[int, Signals] = {}
        if self._reranker is not None and retrieved:
            signals = self._reranker.signals(request.requester_id,
                                             [(h.id, listings[h.id].owner_id) for _, h in retrieved])
        scored = [(self._reranker.blend(score, signals[h.id]) if self._reranker else score, score, h)
                  for score, h in retrieved]
        scored.sort(key=lambda item: (-item[0], item[2].id))
        page = scored[offset:offset + limit]
        return [self._explain(offset + i + 1, final, retrieval, hit, listings[hit.id], request, signals.get(hit.id))
                for i, (final, retrieval, hit) in enumerate(page)]

    def post(self, listing: Listing) -> Listing:
        """Store ``listing`` and add it to the served index, so it is searchable now."""
        stored = self._store.add(listing)
        self._indexes.add([stored.id], [stored.search_text])
        return stored

    @staticmethod
    def _adjusted(hit: Hit, listing: Listing, request: SearchRequest) -> float:
        bonus = 0.0
        if listing.region in request.prefer_regions:
            bonus += PREFERENCE_BONUS
        if request.prefer_field and listing.field == request.prefer_field:
            bonus += PREFERENCE_BONUS
        return min(1.0, hit.score + bonus)

    @staticmethod
    def _explain(rank: int, score: float, retrieval: float, hit: Hit, listing: Listing, request: SearchRequest,
                 signals: Signals | None) -> Match:
        legs = tuple(name for name, r in (("dense", hit.dense_rank), ("lexical", hit.lexical_rank))
                     if r is not None)
        return Match(
            rank=rank,
            listing=listing,
            score=round(score, 3),
            shared_terms=tuple(shared_terms(request.query, listing.search_text, limit=4)),
            passage=closest_passage(request.query, listing.text, max_chars=80),
            same_region=listing.region in request.prefer_regions,
            same_field=bool(request.prefer_field) and listing.field == request.prefer_field,
            legs=legs,
            retrieval_score=round(retrieval, 3),
            signals=signals,
        )
