"""Size rule, IVF training and nprobe calibration of the dense index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.ann import (
    EXACT_LIMIT,
    MAX_NLIST,
    MIN_NLIST,
    build_dense,
    choose_factory,
    exact_search,
    ivf_of,
    nlist_for,
    recall_at_k,
)
from index.dense import DenseIndex, l2_normalise

DIMENSION = 32


def clustered(count: int, seed: int, clusters: int = 200) -> np.ndarray:
    """Unit vectors around fixed random centres with varied spreads (a stand-in for embeddings).

    The centres do not depend on ``seed``, so different seeds give documents and queries
    from one distribution.
    """
    model = np.random.default_rng(0)
    centres = model.standard_normal((clusters, DIMENSION))
    spreads = model.uniform(0.2, 0.6, clusters)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, clusters, count)
    noise = rng.standard_normal((count, DIMENSION)) / np.sqrt(DIMENSION)
    return l2_normalise(l2_normalise(centres[labels]) + spreads[labels, None] * noise)


def test_choose_factory_is_exact_up_to_the_limit_then_ivf_sq8() -> None:
    assert choose_factory(0) == "Flat"
    assert choose_factory(EXACT_LIMIT) == "Flat"
    assert choose_factory(EXACT_LIMIT + 1) == f"IVF{nlist_for(EXACT_LIMIT + 1)},SQ8"
    assert choose_factory(100_000) == "IVF1024,SQ8"
    assert choose_factory(1_000_000) == "IVF4096,SQ8"
    with pytest.raises(ValueError):
        choose_factory(-1)


def test_nlist_grows_as_a_power_of_two_within_bounds() -> None:
    sizes = [EXACT_LIMIT + 1, 200_000, 1_000_000, 10_000_000, 10**12]
    nlists = [nlist_for(n) for n in sizes]
    assert nlists == sorted(nlists)
    assert all(MIN_NLIST <= v <= MAX_NLIST and v & (v - 1) == 0 for v in nlists)
    assert nlist_for(10**12) == MAX_NLIST
    assert nlist_for(1_000) == MIN_NLIST


def test_ivf_build_reaches_target_recall_and_nprobe_survives_save_load(tmp_path: Path) -> None:
    vectors = clustered(20_000, seed=1)
    ids = np.arange(20_000, dtype=np.int64) * 7 + 3
    dense, report = build_dense(ids, vectors, "IVF64,SQ8", target_recall=0.95, seed=0)
    assert report["factory"] == "IVF64,SQ8" and report["n"] == 20_000 and report["nlist"] == 64
    assert 1 <= report["nprobe"] < 64
    assert report["calibration_recall@10"] >= 0.95
    assert report["train_points"] < 20_000
    assert len(dense) == 20_000

    queries = clustered(300, seed=2)
    truth = ids[exact_search(queries, vectors, 10)]
    dense.save(tmp_path)
    loaded = DenseIndex.load(tmp_path, factory="IVF64,SQ8")
    ivf = ivf_of(loaded)
    assert ivf is not None and ivf.nprobe == report["nprobe"]
    found = np.stack([loaded.search(q, k=10)[0] for q in queries])
    assert recall_at_k(found, truth) >= 0.9


def test_calibration_picks_a_larger_nprobe_for_a_higher_target() -> None:
    vectors = clustered(5_000, seed=3)
    ids = np.arange(5_000)
    _, low = build_dense(ids, vectors, "IVF32,Flat", target_recall=0.5, seed=0)
    _, high = build_dense(ids, vectors, "IVF32,Flat", target_recall=0.99, seed=0)
    assert low["nprobe"] < high["nprobe"]
    assert high["calibration_recall@10"] >= 0.99


def test_flat_path_is_exact() -> None:
    vectors = clustered(3_000, seed=4)
    ids = np.arange(3_000, dtype=np.int64) + 500
    dense, report = build_dense(ids, vectors)
    assert report["factory"] == "Flat" and report["nlist"] is None and report["nprobe"] is None
    assert report["calibration_recall@10"] == pytest.approx(1.0)
    queries = clustered(50, seed=5)
    expected = ids[np.argsort(-(queries @ vectors.T), axis=1)[:, :10]]
    found = np.stack([dense.search(q, k=10)[0] for q in queries])
    assert np.array_equal(found, expected)


def test_build_dense_rejects_bad_input() -> None:
    vectors = clustered(100, seed=6)
    with pytest.raises(ValueError, match="unique"):
        build_dense([1] * 100, vectors)
    with pytest.raises(ValueError, match="shape"):
        build_dense(np.arange(99), vectors)
    with pytest.raises(ValueError, match="IVF cells"):
        build_dense(np.arange(100), vectors, "IVF256,Flat")
    with pytest.raises(ValueError, match="target_recall"):
        build_dense(np.arange(100), vectors, target_recall=0.0)


def test_exact_search_merges_chunks_and_recall_counts_overlap() -> None:
    vectors = clustered(1_000, seed=7)
    queries = vectors[:20]
    whole = exact_search(queries, vectors, 5, chunk=10_000)
    assert np.array_equal(exact_search(queries, vectors, 5, chunk=64), whole)
    assert np.array_equal(whole[:, 0], np.arange(20))
    assert recall_at_k(np.array([[1, 2, -1]]), np.array([[2, 1, 3]])) == pytest.approx(2 / 3)
