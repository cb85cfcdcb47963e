"""Hybrid fusion, language-aware dense weighting and filtering."""

from __future__ import annotations

import numpy as np
import pytest

from index.build import build_hybrid
from index.config import HybridSettings
from index.hybrid import HybridIndex, reciprocal_rank_fusion
from tests.unit.fakes import HashingEncoder

DOCS = {
    10: "Laser welding of aluminium car bodies",
    11: "Lithium battery electrolyte with high safety",
    12: "Deep learning for defect detection in steel",
    13: "锂电池固态电解质的安全性研究",
    14: "注塑件翘曲变形的控制方法",
}


def make(settings: HybridSettings | None = None) -> tuple[HybridIndex, HashingEncoder]:
    encoder = HashingEncoder()
    index = build_hybrid(list(DOCS), list(DOCS.values()), encoder, settings or HybridSettings())
    return index, encoder


def test_rrf_order_on_hand_made_rankings() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], [1.0, 1.0], k=60)
    assert [doc for doc, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    weighted = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], [1.0, 3.0], k=60)
    assert [doc for doc, _ in weighted] == [3, 1, 4, 2]
    only_first = reciprocal_rank_fusion([[1, 2], [2, 1]], [1.0, 0.0], k=60)
    assert [doc for doc, _ in only_first] == [1, 2]


def test_hybrid_search_finds_obvious_document_with_both_ranks() -> None:
    index, _ = make()
    hits = index.search("lithium battery electrolyte", k=3)
    assert hits[0].id == 11
    assert hits[0].dense_rank == 1 and hits[0].lexical_rank == 1
    assert hits[0].score == pytest.approx(1.0)
    assert all(0.0 <= hit.score <= 1.0 for hit in hits)


def test_chinese_query_ignores_dense_leg_by_default() -> None:
    index, encoder = make()
    calls_before = len(encoder.calls)
    hits = index.search("注塑件翘曲", k=3)
    assert hits[0].id == 14
    assert all(hit.dense_rank is None for hit in hits)
    assert len(encoder.calls) == calls_before
    assert index.leg_weights("注塑件翘曲") == (0.0, 1.0)


def test_multilingual_setting_uses_dense_leg_for_chinese() -> None:
    index, encoder = make(HybridSettings(dense_languages=("en", "zh")))
    hits = index.search("注塑件翘曲", k=3)
    assert hits[0].id == 14 and hits[0].dense_rank is not None
    assert encoder.calls[-1] == ["注塑件翘曲"]


def test_allowed_ids_filters_both_legs() -> None:
    index, _ = make()
    allowed = np.array([12, 13], dtype=np.int64)
    for mode in ("hybrid", "dense", "lexical"):
        hits = index.search("lithium battery electrolyte steel", k=5, allowed_ids=allowed, mode=mode)
        assert hits and {hit.id for hit in hits} <= {12, 13}


def test_added_document_is_searchable_in_both_legs() -> None:
    index, _ = make()
    index.add([20], ["Graphene heat spreader film for phones"])
    hit = index.search("graphene heat spreader", k=1)[0]
    assert hit.id == 20 and hit.dense_rank == 1 and hit.lexical_rank == 1
    assert len(index) == 6 and 20 in index.ids().tolist()
    index.remove([20])
    assert all(hit.id != 20 for hit in index.search("graphene heat spreader", k=5))


def test_single_leg_modes() -> None:
    index, _ = make()
    dense_hits = index.search("welding car", k=2, mode="dense")
    assert all(hit.lexical_rank is None for hit in dense_hits)
    lexical_hits = index.search("welding car", k=2, mode="lexical")
    assert [hit.id for hit in lexical_hits] == [10]
    assert lexical_hits[0].dense_rank is None
    with pytest.raises(ValueError):
        index.search("welding", mode="fuzzy")  # type: ignore[arg-type]


def test_progress_is_reported_while_building() -> None:
    seen: list[tuple[int, int]] = []
    build_hybrid(list(DOCS), list(DOCS.values()), HashingEncoder(), batch_size=2, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_settings_round_trip_and_validation() -> None:
    settings = HybridSettings(rrf_k=10, dense_languages=("en", "zh"))
    assert HybridSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(ValueError):
        HybridSettings(depth=0)
