"""Versioned index directories: writing one, verifying and loading one.

Layout under a root folder::

    root/versions/<UTC time>-<short id>/dense.faiss, ids.npy, lexical.npz, lexical.json, config.json
    root/CURRENT      (the name of the published version)

A version is written into a hidden temporary directory and renamed into ``versions/``
when complete, so a half-written version is never visible. ``config.json`` records the
build time, model, library versions, document counts, settings and the sha256 checksum
of every other file; :func:`load_version` verifies all of them before serving a version.
Publishing (copying a version under a local or HDFS root and switching ``CURRENT``) is
:mod:`index.remote`.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from index.config import HybridSettings
from index.dense import DenseIndex, Encoder, canonical_model_name
from index.hybrid import HybridIndex
from index.lexical import BM25Index

POINTER = "CURRENT"
CONFIG = "config.json"
IDS_FILE = "ids.npy"
VERSIONS = "versions"
FORMAT_VERSION = 1
LIBRARIES = ("faiss-cpu", "numpy", "scipy", "sentence-transformers")



class IndexIntegrityError(RuntimeError):
    """A stored index version is missing, incomplete, altered or incompatible."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _library_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_version(root: str | Path, hybrid: HybridIndex, meta: dict[str, Any] | None = None) -> Path:
    """Write an index to a new version directory under ``root`` (not yet published).

    Args:
        root: The index root folder (created if missing).
        hybrid: The index to store.
        meta: Extra JSON-serialisable information kept under ``"meta"`` in ``config.json``.

    Returns:
        The version directory ``root/versions/<YYYYmmddTHHMMSSZ>-<id>``.
    """
    built_at = datetime.now(timezone.utc)
    name = built_at.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    versions = Path(root) / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    staging = versions / f".staging-{name}"
    staging.mkdir()
    hybrid.dense.save(staging)
    hybrid.lexical.save(staging)
    np.save(staging / IDS_FILE, hybrid.ids(), allow_pickle=False)
    files = sorted(p for p in staging.iterdir() if p.is_file())
    config = {
        "format_version": FORMAT_VERSION,
        "version": name,
        "built_at": built_at.isoformat(),
        "model_name": hybrid.encoder.name,
        "dimension": hybrid.dense.dimension,
        "settings": hybrid.settings.to_dict(),
        "libraries": {package: _library_version(package) for package in LIBRARIES},
        "counts": {
            "documents": len(hybrid),
            "dense": len(hybrid.dense),
            "lexical": len(hybrid.lexical),
            "vocabulary": hybrid.lexical.vocabulary_size,
        },
        "checksums": {p.name: _sha256(p) for p in files},
        "meta": meta or {},
    }
    (staging / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
    directory = versions / name
    os.replace(staging, directory)
    _fsync_directory(versions)
    return directory


def _read_config(directory: Path) -> dict[str, Any]:
    config_path = directory / CONFIG
    if not config_path.is_file():
        raise IndexIntegrityError(f"{directory} has no {CONFIG}")
    try:
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexIntegrityError(f"{config_path} is unreadable: {error}") from error
    if config.get("format_version") != FORMAT_VERSION:
        raise IndexIntegrityError(f"{directory}: unsupported format {config.get('format_version')}")
    return config


def _verify_checksums(directory: Path, checksums: dict[str, str]) -> None:
    for name in (IDS_FILE, "dense.faiss", "lexical.npz", "lexical.json"):
        if name not in checksums:
            raise IndexIntegrityError(f"{directory}: {CONFIG} lists no checksum for {name}")
    for name, expected in checksums.items():
        path = directory / name
        if not path.is_file():
            raise IndexIntegrityError(f"{path} is missing")
        if _sha256(path) != expected:
            raise IndexIntegrityError(f"{path} does not match its checksum")


def load_version(directory: str | Path, encoder: Encoder) -> tuple[HybridIndex, dict[str, Any]]:
    """Load one version directory after verifying checksums, counts, ids and model.

    Args:
        directory: A version directory.
        encoder: The query encoder; its name and dimension must match the build's.

    Returns:
        ``(index, config)`` where ``config`` is the parsed ``config.json``.

    Raises:
        IndexIntegrityError: On a missing file, checksum, count, id or model mismatch.
    """
    path = Path(directory)
    config = _read_config(path)
    _verify_checksums(path, config.get("checksums", {}))
    settings = HybridSettings.from_dict(config["settings"])
    try:
        dense = DenseIndex.load(path, factory=settings.dense_factory)
        lexical = BM25Index.load(path)
        ids = np.load(path / IDS_FILE, allow_pickle=False)
    except (OSError, ValueError, RuntimeError) as error:
        raise IndexIntegrityError(f"{path}: cannot load index files: {error}") from error
    counts = config["counts"]
    if not len(lexical) == len(ids) == counts["documents"] or len(dense) != counts["dense"]:
        raise IndexIntegrityError(f"{path}: document counts differ from {CONFIG}")
    if not np.array_equal(np.sort(lexical.ids()), ids) or not np.array_equal(np.sort(dense.ids()), ids):
        raise IndexIntegrityError(f"{path}: dense and lexical ids differ from {IDS_FILE}")
    if canonical_model_name(encoder.name) != canonical_model_name(config["model_name"]):
        raise IndexIntegrityError(f"{path}: built with model {config['model_name']}, encoder is {encoder.name}")
    if dense.dimension != encoder.dimension:
        raise IndexIntegrityError(f"{path}: dimension {dense.dimension} != encoder's {encoder.dimension}")
    return HybridIndex(dense, lexical, encoder, settings), config

