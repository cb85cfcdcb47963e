"""Matching: hard filters, preferences, explanations, and posting without a rebuild."""

from __future__ import annotations

from pathlib import Path

import pytest

from matchmaker.index_holder import fold_in_missing
from matchmaker.matching import SearchRequest
from matchmaker.runtime import Services
from tests.unit.fakes import make_listing, make_services


@pytest.fixture()
def services(tmp_path: Path) -> Services:
    return make_services(tmp_path)


def request(query: str, **changes: object) -> SearchRequest:
    base = {"query": query, "target_kind": "achievement", "language": "en", "requester_id": "user-1"}
    base.update(changes)
    return SearchRequest(**base)  # type: ignore[arg-type]


def titles(services: Services, req: SearchRequest, offset: int = 0) -> list[str]:
    return [m.listing.title for m in services.matcher.search(req, offset=offset, limit=5)]


def test_best_match_first_with_reasons(services: Services) -> None:
    matches = services.matcher.search(request("waste heat of ceramic kilns"), limit=5)
    assert matches[0].listing.title == "Kiln waste heat recovery"
    assert matches[0].rank == 1 and 0 < matches[0].score <= 1
    assert "waste" in matches[0].shared_terms or "heat" in matches[0].shared_terms
    assert matches[0].passage


def test_language_and_kind_are_filtered(services: Services) -> None:
    found = titles(services, request("lithium battery"))
    assert "Battery safety at low temperature" not in found
    assert all("锂" not in title for title in found)
    assert titles(services, request("锂电池 正极", language="zh")) == ["锂电池正极材料"]


def test_hard_filters_region_and_maturity(services: Services) -> None:
    assert titles(services, request("lithium battery", regions=("zhejiang",))) == ["Low-temperature lithium battery cathode"]
    mature = services.matcher.search(request("lithium battery", min_maturity=7), limit=5)
    assert mature[0].listing.title == "Low-temperature lithium battery cathode"
    assert all(m.listing.maturity >= 7 for m in mature)
    assert titles(services, request("lithium battery", regions=("tibet",))) == []


def test_region_preference_lifts_a_tie(services: Services) -> None:
    plain = services.matcher.search(request("lithium battery"), limit=2)
    preferred = services.matcher.search(request("lithium battery", prefer_regions=("zhejiang",)), limit=2)
    assert preferred[0].listing.region == "zhejiang" and preferred[0].same_region
    assert {m.listing.id for m in plain} == {m.listing.id for m in preferred}


def test_paging_continues_ranks(services: Services) -> None:
    first = services.matcher.search(request("lithium battery kiln heat"), offset=0, limit=2)
    second = services.matcher.search(request("lithium battery kiln heat"), offset=2, limit=2)
    assert [m.rank for m in first + second] == [1, 2, 3] or [m.rank for m in first + second] == [1, 2, 3, 4]
    assert not {m.listing.id for m in first} & {m.listing.id for m in second}


def test_requester_never_matches_own_listings(services: Services) -> None:
    own = titles(services, request("kiln heat", requester_id="org:heat-lab"))
    assert "Kiln waste heat recovery" not in own


def test_posted_listing_is_searchable_at_once(services: Services) -> None:
    posted = services.matcher.post(make_listing("p1", "achievement", "Graphene anticorrosion coating",
                                                "A graphene coating protects steel pipes in seawater."))
    assert titles(services, request("anticorrosion coating for steel pipes"))[0] == "Graphene anticorrosion coating"
    assert posted.id in services.indexes.current().ids()


def test_fold_in_adds_listings_the_index_lacks(services: Services) -> None:
    stored = services.listings.add(make_listing("p2", "achievement", "Seawater desalination membrane",
                                                "A membrane for seawater desalination."))
    assert stored.id not in services.indexes.current().ids()
    assert fold_in_missing(services.indexes.current(), services.listings) == 1
    assert fold_in_missing(services.indexes.current(), services.listings) == 0
    assert titles(services, request("desalination membrane"))[0] == "Seawater desalination membrane"
