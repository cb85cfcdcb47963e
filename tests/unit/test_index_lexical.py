"""BM25 index: ranking, incremental updates, filtering and persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.lexical import BM25Index

DOCS = {
    1: "Laser welding of aluminium car bodies",
    2: "Lithium battery electrolyte with high safety",
    3: "Deep learning for defect detection in steel",
    4: "锂电池固态电解质的安全性研究",
    5: "注塑件翘曲变形的控制方法",
}


def build() -> BM25Index:
    return BM25Index.build(list(DOCS), list(DOCS.values()))


def test_obvious_document_ranks_first() -> None:
    index = build()
    ids, scores = index.search("battery electrolytes", k=3)
    assert ids[0] == 2
    assert list(scores) == sorted(scores, reverse=True)
    assert build().search("注塑件翘曲", k=1)[0].tolist() == [5]


def test_documents_without_shared_terms_are_not_returned() -> None:
    ids, _ = build().search("welding", k=10)
    assert ids.tolist() == [1]
    assert build().search("zzzz unknownword", k=10)[0].size == 0


def test_incremental_add_is_searchable_and_changes_idf() -> None:
    index = build()
    idf_before = index.idf("weld")
    index.add([6], ["Friction stir welding of steel plates"])
    assert index.n_base == 5 and index.n_delta == 1
    assert index.document_frequency("weld") == 2
    assert index.idf("weld") < idf_before
    ids, _ = index.search("friction stir welding", k=2)
    assert ids[0] == 6 and set(ids.tolist()) == {1, 6}


def test_new_terms_in_delta_are_searchable() -> None:
    index = build()
    index.add([7], ["石墨烯散热膜"])
    assert index.search("石墨烯", k=3)[0].tolist() == [7]


def test_overwrite_and_remove() -> None:
    index = build()
    index.add([1], ["Graphene coating for corrosion protection"])
    assert len(index) == 5
    assert index.search("welding", k=5)[0].size == 0
    assert index.search("graphene", k=5)[0].tolist() == [1]
    assert index.remove([1, 99]) == 1
    assert 1 not in index and len(index) == 4
    assert index.search("graphene", k=5)[0].size == 0
    assert index.document_frequency("graphen") == 0


def test_compact_keeps_results() -> None:
    index = build()
    index.add([6], ["Friction stir welding of steel plates"])
    index.remove([3])
    before = index.search("steel welding", k=5)
    index.compact()
    assert index.n_delta == 0 and index.n_base == 5
    after = index.search("steel welding", k=5)
    assert before[0].tolist() == after[0].tolist()


def test_allowed_ids_filters_results() -> None:
    index = build()
    ids, _ = index.search("lithium battery 锂电池", k=5, allowed_ids=np.array([4], dtype=np.int64))
    assert ids.tolist() == [4]
    assert index.search("battery", k=5, allowed_ids=np.array([], dtype=np.int64))[0].size == 0


def test_save_load_round_trip(tmp_path: Path) -> None:
    index = build()
    index.add([6], ["Friction stir welding of steel plates"])
    index.remove([2])
    index.save(tmp_path)
    loaded = BM25Index.load(tmp_path)
    for query in ("steel welding", "电解质", "battery"):
        a, b = index.search(query, k=5), loaded.search(query, k=5)
        assert a[0].tolist() == b[0].tolist()
        np.testing.assert_allclose(a[1], b[1], rtol=1e-6)
    assert sorted(loaded.ids().tolist()) == [1, 3, 4, 5, 6]


def test_invalid_input_raises() -> None:
    with pytest.raises(ValueError):
        BM25Index(b=2.0)
    with pytest.raises(ValueError):
        build().add([8, 8], ["a", "b"])
    with pytest.raises(ValueError):
        build().add([8], ["a", "b"])
