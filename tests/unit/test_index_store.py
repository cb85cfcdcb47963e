"""Versioned index store: round trip through a published root, integrity checks and the CURRENT pointer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.build import build_hybrid
from index.config import HybridSettings
from index.hybrid import HybridIndex
from index.remote import current_name, fetch_version, publish_version
from index.store import IndexIntegrityError, load_version, write_version
from storage.files import Location, resolve
from tests.unit.fakes import HashingEncoder

DOCS = {
    1: "Laser welding of aluminium car bodies",
    2: "Lithium battery electrolyte with high safety",
    3: "注塑件翘曲变形的控制方法",
}


def root_of(tmp_path: Path) -> Location:
    return resolve(str(tmp_path / "root"))


def publish(tmp_path: Path, docs: dict[int, str] = DOCS) -> Path:
    """Build a version in a scratch folder and publish it under the root; return the published directory."""
    hybrid = build_hybrid(list(docs), list(docs.values()), HashingEncoder(), HybridSettings(rrf_k=30))
    built = write_version(tmp_path / "build", hybrid, {"source": "unit test"})
    name = publish_version(root_of(tmp_path), built)
    return tmp_path / "root" / "versions" / name


def load_published(tmp_path: Path, encoder: HashingEncoder | None = None) -> tuple[HybridIndex, dict[str, object]]:
    root = root_of(tmp_path)
    name = current_name(root)
    if name is None:
        raise IndexIntegrityError("nothing published")
    return load_version(fetch_version(root, name, tmp_path / "cache"), encoder or HashingEncoder())


def test_round_trip_through_current(tmp_path: Path) -> None:
    version = publish(tmp_path)
    index, meta = load_published(tmp_path)
    assert meta["version"] == version.name and meta["meta"] == {"source": "unit test"}
    counts, checksums, libraries = meta["counts"], meta["checksums"], meta["libraries"]
    assert isinstance(counts, dict) and counts["documents"] == 3
    assert isinstance(checksums, dict) and set(checksums) >= {"dense.faiss", "ids.npy", "lexical.npz"}
    assert isinstance(libraries, dict) and {"faiss-cpu", "numpy", "sentence-transformers"} <= set(libraries)
    assert index.settings.rrf_k == 30
    assert index.search("battery electrolyte", k=1)[0].id == 2
    assert index.search("注塑件", k=1)[0].id == 3


def test_tampered_file_raises_integrity_error(tmp_path: Path) -> None:
    version = publish(tmp_path)
    with (version / "lexical.json").open("a", encoding="utf-8") as handle:
        handle.write(" ")
    with pytest.raises(IndexIntegrityError):
        load_published(tmp_path)


def test_missing_file_and_wrong_count_raise(tmp_path: Path) -> None:
    version = publish(tmp_path)
    config_path = version / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["counts"]["documents"] = 4
    config_path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(IndexIntegrityError):
        load_published(tmp_path)
    (version / "dense.faiss").unlink()
    with pytest.raises(IndexIntegrityError):
        load_published(tmp_path)


def test_other_model_is_rejected(tmp_path: Path) -> None:
    publish(tmp_path)
    with pytest.raises(IndexIntegrityError):
        load_published(tmp_path, HashingEncoder(name="other-model"))


def test_publish_switches_current(tmp_path: Path) -> None:
    assert current_name(root_of(tmp_path)) is None
    first = publish(tmp_path)
    assert len(load_published(tmp_path)[0]) == 3
    second = publish(tmp_path, {**DOCS, 4: "Graphene heat spreader film"})
    assert first != second
    assert (tmp_path / "root" / "CURRENT").read_text(encoding="utf-8").strip() == second.name
    index, _ = load_published(tmp_path)
    assert len(index) == 4 and index.search("graphene", k=1)[0].id == 4
    assert not [p for p in (tmp_path / "root" / "versions").iterdir() if p.name.startswith(".")]
