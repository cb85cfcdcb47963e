"""Index versions on any file system (local or HDFS): publish a built version, fetch the served one.

The layout is the one of :mod:`index.store` (``versions/<name>/...`` and a ``CURRENT``
pointer), so a local root works with both modules. Publishing copies a complete local
version into ``versions/.staging-<name>``, renames the directory into place, and then
replaces ``CURRENT`` with one atomic rename. Fetching copies the published version into a
local cache (through a staging directory as well) so FAISS can memory-load it.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

from index.store import CONFIG, POINTER, VERSIONS, IndexIntegrityError
from storage.files import Location

logger = logging.getLogger(__name__)


def current_name(root: Location) -> str | None:
    """The name of the published version under ``root``, or ``None`` when nothing is published."""
    try:
        name = root.store.read_bytes(root.child(POINTER).path).decode("utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def publish_version(root: Location, version_dir: Path) -> str:
    """Copy a complete local version directory under ``root`` and make it the published one.

    Args:
        root: The index root (local or HDFS).
        version_dir: A directory written by :func:`index.store.write_version`.

    Returns:
        The published version's name.

    Raises:
        IndexIntegrityError: If ``version_dir`` has no ``config.json``.
    """
    name = version_dir.name
    if not (version_dir / CONFIG).is_file():
        raise IndexIntegrityError(f"{version_dir} is not a complete index version")
    store = root.store
    target = root.child(VERSIONS, name)
    if not store.exists(target.path):
        staging = root.child(VERSIONS, f".staging-{name}-{uuid.uuid4().hex[:6]}")
        store.makedirs(staging.path)
        files = sorted(p for p in version_dir.iterdir() if p.is_file())
        for path in [p for p in files if p.name != CONFIG] + [version_dir / CONFIG]:
            store.write_bytes(staging.child(path.name).path, path.read_bytes())
        store.rename(staging.path, target.path)
    store.write_bytes(root.child(POINTER).path, (name + "\n").encode("utf-8"))
    logger.info("published index version %s under %s", name, root.uri)
    return name


def fetch_version(root: Location, name: str, cache_dir: Path) -> Path:
    """A local directory holding version ``name`` of ``root``, copied into ``cache_dir`` if needed.

    Args:
        root: The index root.
        name: A version name (as returned by :func:`current_name`).
        cache_dir: Local folder for copies of remote versions.

    Returns:
        The local version directory (``root`` itself when it is local).

    Raises:
        FileNotFoundError: If the version does not exist under ``root``.
    """
    source = root.child(VERSIONS, name)
    if root.is_local:
        return Path(source.path)
    local = cache_dir / VERSIONS / name
    if (local / CONFIG).is_file():
        return local
    names = root.store.list_names(source.path)
    if CONFIG not in names:
        raise FileNotFoundError(f"{source.uri} is not a complete version")
    staging = cache_dir / VERSIONS / f".fetch-{name}-{uuid.uuid4().hex[:6]}"
    staging.mkdir(parents=True)
    try:
        for file_name in names:
            (staging / file_name).write_bytes(root.store.read_bytes(source.child(file_name).path))
        os.replace(staging, local)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return local


def prune_cache(cache_dir: Path, keep: set[str]) -> None:
    """Delete cached versions other than ``keep``."""
    versions = cache_dir / VERSIONS
    if not versions.is_dir():
        return
    for path in versions.iterdir():
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
