"""The file-store contract, for the local file system and for a real HDFS (WebHDFS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.files import FileStoreError, Location, resolve
from tests.conftest import HDFS_HTTP


@pytest.fixture(params=["local", pytest.param("hdfs", marks=pytest.mark.integration)])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    if request.param == "local":
        return resolve(tmp_path / "root")
    return resolve(request.getfixturevalue("hdfs_dir"), HDFS_HTTP)


def test_written_bytes_read_back_and_missing_files_raise(root: Location) -> None:
    path = root.child("a", "b", "file.bin").path
    root.store.write_bytes(path, b"\x00\x01 binary \xff")
    assert root.store.read_bytes(path) == b"\x00\x01 binary \xff"
    assert root.store.exists(path)
    with pytest.raises(FileNotFoundError):
        root.store.read_bytes(root.child("a", "missing").path)
    assert not root.store.exists(root.child("a", "missing").path)


def test_rewriting_replaces_the_content_and_leaves_no_temporary_file(root: Location) -> None:
    path = root.child("pointer").path
    root.store.write_bytes(path, b"first")
    root.store.write_bytes(path, b"second")
    assert root.store.read_bytes(path) == b"second"
    assert root.store.list_names(root.path) == ["pointer"]


def test_listing_and_directories(root: Location) -> None:
    root.store.makedirs(root.child("d", "e").path)
    root.store.write_bytes(root.child("d", "x").path, b"1")
    assert root.store.list_names(root.child("d").path) == ["e", "x"]
    assert root.store.list_names(root.child("nowhere").path) == []


def test_rename_is_refused_onto_an_existing_target_unless_replacing(root: Location) -> None:
    source, target = root.child("new").path, root.child("current").path
    root.store.write_bytes(source, b"new")
    root.store.write_bytes(target, b"old")
    with pytest.raises(FileStoreError):
        root.store.rename(source, target)
    assert root.store.read_bytes(target) == b"old"
    root.store.rename(source, target, replace=True)
    assert root.store.read_bytes(target) == b"new"
    assert not root.store.exists(source)


def test_directories_rename_and_delete_recursively(root: Location) -> None:
    root.store.write_bytes(root.child("staging", "f").path, b"1")
    root.store.rename(root.child("staging").path, root.child("done").path)
    assert root.store.read_bytes(root.child("done", "f").path) == b"1"
    root.store.delete(root.child("done").path)
    root.store.delete(root.child("done").path)
    assert not root.store.exists(root.child("done").path)
