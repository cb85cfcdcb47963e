"""Re-ranking is bounded: signals never push out a listing the text matched far better."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from behaviour.store import SQLiteEventStore
from matchmaker.matching import MatchService, SearchRequest
from matchmaker.reranking import CFHolder, Reranker, Signals
from tests.unit.fakes import make_listing, make_services


class FavourAllBut(Reranker):
    """A reranker whose signals are best for every candidate except one, worst for that one."""

    def __init__(self, disfavoured: int, max_shift: float) -> None:
        super().__init__((0.6, 0.3, 0.1), SQLiteEventStore(Path(":memory:")), CFHolder(None, Path(".")), max_shift)
        self.disfavoured = disfavoured

    def signals(self, user_id: str, candidates: Sequence[tuple[int, str]]) -> dict[int, Signals]:
        worst = Signals(cf=0.0, credit=0.0, credit_known=True)
        best = Signals(cf=1.0, credit=100.0, credit_known=True)
        return {listing_id: worst if listing_id == self.disfavoured else best for listing_id, _ in candidates}


def test_shift_is_clipped_both_ways() -> None:
    reranker = FavourAllBut(0, max_shift=0.1)
    assert reranker.final(0.9, Signals(cf=0.0, credit=0.0), bonus=0.0) == pytest.approx(0.8)
    assert reranker.final(0.2, Signals(cf=1.0, credit=100.0), bonus=0.05) == pytest.approx(0.3)
    assert reranker.final(0.5, None, bonus=0.02) == pytest.approx(0.52)


@pytest.mark.parametrize("max_shift", [0.05, 0.15])
def test_a_far_better_text_match_stays_first_whatever_the_signals(tmp_path: Path, max_shift: float) -> None:
    services = make_services(tmp_path)
    for n in range(8):
        services.matcher.post(make_listing(f"x{n}", "achievement", f"Lithium battery study {n}",
                                           f"A lithium battery electrolyte study number {n}.", owner=f"org:o{n}"))
    request = SearchRequest(query="sulfide solid electrolyte pouch cells safety", target_kind="achievement",
                            language="en", requester_id="user-1")
    plain = MatchService(services.listings, services.indexes).search(request, limit=6)
    top = plain[0]
    assert top.listing.title == "Sulfide solid electrolyte for lithium batteries"
    assert top.retrieval_score - plain[1].retrieval_score > 2 * max_shift

    reranked = MatchService(services.listings, services.indexes, FavourAllBut(top.listing.id, max_shift))
    matches = reranked.search(request, limit=6)
    assert matches[0].listing.id == top.listing.id
    assert matches[0].score == pytest.approx(top.retrieval_score - max_shift, abs=1e-3)
    assert all(m.score > m.retrieval_score for m in matches[1:])
