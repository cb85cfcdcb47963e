"""FAISS dense index and the sentence-transformers encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.dense import DenseIndex, SentenceTransformerEncoder, resolve_model_path


def unit_rows() -> np.ndarray:
    return np.eye(4, dtype=np.float32)


def test_search_returns_nearest_with_stable_ids() -> None:
    index = DenseIndex(4)
    index.add([100, 200, 300, 400], unit_rows())
    ids, scores = index.search(unit_rows()[2], k=2)
    assert ids[0] == 300 and scores[0] == pytest.approx(1.0)
    assert len(index) == 4


def test_allowed_ids_restricts_search() -> None:
    index = DenseIndex(4)
    index.add([100, 200, 300, 400], unit_rows())
    ids, _ = index.search(unit_rows()[0], k=4, allowed_ids=np.array([300, 400]))
    assert sorted(ids.tolist()) == [300, 400]
    assert index.search(unit_rows()[0], k=4, allowed_ids=np.array([], dtype=np.int64))[0].size == 0


def test_overwrite_remove_and_round_trip(tmp_path: Path) -> None:
    index = DenseIndex(4)
    index.add([100, 200], unit_rows()[:2])
    index.add([200], unit_rows()[3:4])
    assert len(index) == 2
    assert index.search(unit_rows()[3], k=1)[0].tolist() == [200]
    index.save(tmp_path)
    loaded = DenseIndex.load(tmp_path)
    assert sorted(loaded.ids().tolist()) == [100, 200]
    assert loaded.search(unit_rows()[0], k=1)[0].tolist() == [100]
    assert loaded.remove([100, 999]) == 1 and len(loaded) == 1


def test_shape_errors() -> None:
    index = DenseIndex(4)
    with pytest.raises(ValueError):
        index.add([1, 2], unit_rows())
    with pytest.raises(ValueError):
        index.search(np.ones(3), k=1)


def test_packaged_model_names_resolve_to_local_path() -> None:
    path = resolve_model_path("all-MiniLM-L6-v2")
    assert Path(path).is_dir()
    assert resolve_model_path("sentence-transformers/all-MiniLM-L6-v2") == path
    assert resolve_model_path("/models/other") == "/models/other"


def test_encoder_does_not_load_model_on_construction() -> None:
    encoder = SentenceTransformerEncoder()
    assert encoder.name == "all-MiniLM-L6-v2"
    assert encoder._model is None


@pytest.mark.slow
def test_minilm_embeddings_are_normalised_and_semantic() -> None:
    encoder = SentenceTransformerEncoder()
    vectors = encoder.encode(["A cat sits on the mat.", "A kitten rests on a rug.", "Stock markets fell sharply."])
    assert vectors.shape == (3, encoder.dimension) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
