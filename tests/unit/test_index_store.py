"""Versioned index store: round trip, integrity checks and the CURRENT pointer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.build import build_hybrid
from index.config import HybridSettings
from index.store import IndexIntegrityError, current_version, list_versions, load_current, publish, write_version
from tests.unit.fakes import HashingEncoder

DOCS = {
    1: "Laser welding of aluminium car bodies",
    2: "Lithium battery electrolyte with high safety",
    3: "注塑件翘曲变形的控制方法",
}


def write(root: Path, docs: dict[int, str] = DOCS) -> Path:
    hybrid = build_hybrid(list(docs), list(docs.values()), HashingEncoder(), HybridSettings(rrf_k=30))
    return write_version(root, hybrid, {"source": "unit test"})


def test_round_trip_through_current(tmp_path: Path) -> None:
    version = write(tmp_path)
    publish(tmp_path, version)
    index, meta = load_current(tmp_path, HashingEncoder())
    assert meta["version"] == version.name and meta["meta"] == {"source": "unit test"}
    assert meta["counts"]["documents"] == 3 and set(meta["checksums"]) >= {"dense.faiss", "ids.npy", "lexical.npz"}
    assert {"faiss-cpu", "numpy", "sentence-transformers"} <= set(meta["libraries"])
    assert index.settings.rrf_k == 30
    assert index.search("battery electrolyte", k=1)[0].id == 2
    assert index.search("注塑件", k=1)[0].id == 3


def test_tampered_file_raises_integrity_error(tmp_path: Path) -> None:
    version = write(tmp_path)
    publish(tmp_path, version)
    with (version / "lexical.json").open("a", encoding="utf-8") as handle:
        handle.write(" ")
    with pytest.raises(IndexIntegrityError):
        load_current(tmp_path, HashingEncoder())


def test_missing_file_and_wrong_count_raise(tmp_path: Path) -> None:
    version = write(tmp_path)
    publish(tmp_path, version)
    config_path = version / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["counts"]["documents"] = 4
    config_path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(IndexIntegrityError):
        load_current(tmp_path, HashingEncoder())
    (version / "dense.faiss").unlink()
    with pytest.raises(IndexIntegrityError):
        load_current(tmp_path, HashingEncoder())


def test_other_model_is_rejected(tmp_path: Path) -> None:
    publish(tmp_path, write(tmp_path))
    with pytest.raises(IndexIntegrityError):
        load_current(tmp_path, HashingEncoder(name="other-model"))


def test_publish_switches_current(tmp_path: Path) -> None:
    with pytest.raises(IndexIntegrityError):
        load_current(tmp_path, HashingEncoder())
    first = write(tmp_path)
    second = write(tmp_path, {**DOCS, 4: "Graphene heat spreader film"})
    assert first != second and list_versions(tmp_path) == sorted([first, second])
    publish(tmp_path, first)
    assert current_version(tmp_path) == first
    assert len(load_current(tmp_path, HashingEncoder())[0]) == 3
    publish(tmp_path, second)
    assert (tmp_path / "CURRENT").read_text(encoding="utf-8").strip() == second.name
    index, _ = load_current(tmp_path, HashingEncoder())
    assert len(index) == 4 and index.search("graphene", k=1)[0].id == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
