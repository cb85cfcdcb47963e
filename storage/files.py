"""One small interface for the file systems listings and index versions live on.

``file://`` paths (and plain paths) use the local file system; ``hdfs://`` paths use HDFS
through its WebHDFS REST interface, which every NameNode serves (``dfs.webhdfs.enabled``
is on by default), so the serving side needs no JVM. Both backends give the operations the
index store relies on: whole-file reads and writes, listing, directory creation and an
atomic rename that may replace an existing file (the publish step).
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import requests


class FileStoreError(OSError):
    """A file-system operation failed."""


class FileStore(Protocol):
    """Whole-file operations on absolute paths (``/a/b``) of one file system."""

    def read_bytes(self, path: str) -> bytes:
        """The content of a file; raises ``FileNotFoundError`` when it is missing."""
        ...

    def write_bytes(self, path: str, data: bytes) -> None:
        """Create or replace a file (parent directories are created)."""
        ...

    def exists(self, path: str) -> bool:
        """Whether a file or directory exists."""
        ...

    def list_names(self, path: str) -> list[str]:
        """Sorted names of a directory's entries (empty when the directory is missing)."""
        ...

    def makedirs(self, path: str) -> None:
        """Create a directory and its parents."""
        ...

    def rename(self, source: str, target: str, replace: bool = False) -> None:
        """Rename atomically; with ``replace`` an existing target file is replaced."""
        ...

    def delete(self, path: str) -> None:
        """Delete a file or a directory tree; a missing path is not an error."""
        ...


class LocalFileStore:
    """The local file system."""

    def read_bytes(self, path: str) -> bytes:
        """Read a file."""
        return Path(path).read_bytes()

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write through a temporary file renamed into place, so readers never see half a file."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)

    def exists(self, path: str) -> bool:
        """Whether the path exists."""
        return Path(path).exists()

    def list_names(self, path: str) -> list[str]:
        """Entry names, sorted."""
        directory = Path(path)
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []

    def makedirs(self, path: str) -> None:
        """Create directories."""
        Path(path).mkdir(parents=True, exist_ok=True)

    def rename(self, source: str, target: str, replace: bool = False) -> None:
        """``os.replace`` for files; directories and non-replacing renames refuse an existing target."""
        if Path(target).exists() and not (replace and Path(target).is_file()):
            raise FileStoreError(f"cannot rename {source} to {target}: target exists")
        os.replace(source, target)

    def delete(self, path: str) -> None:
        """Remove a file or a tree."""
        item = Path(path)
        if item.is_dir():
            shutil.rmtree(item)
        elif item.exists():
            item.unlink()


@dataclass(frozen=True)
class WebHdfsFileStore:
    """HDFS through WebHDFS (``http://<namenode>:9870/webhdfs/v1``).

    Args:
        base_url: The NameNode's HTTP address, e.g. ``http://127.0.0.1:9870``.
        user: The HDFS user name sent as ``user.name`` (simple authentication).
        timeout: Seconds to wait for each HTTP request.
    """

    base_url: str
    user: str = "matchmaker"
    timeout: float = 60.0

    def _url(self, path: str) -> str:
        if not path.startswith("/"):
            raise FileStoreError(f"HDFS paths must be absolute, got {path!r}")
        return f"{self.base_url.rstrip('/')}/webhdfs/v1{path}"

    def _call(self, method: str, path: str, op: str, data: bytes | None = None,
              **params: str) -> requests.Response:
        query = {"op": op, "user.name": self.user, **params}
        try:
            response = requests.request(method, self._url(path), params=query, data=data,
                                        timeout=self.timeout, allow_redirects=False)
            if response.status_code == 307 and method == "PUT":
                # CREATE answers with the DataNode to send the bytes to.
                response = requests.put(response.headers["Location"], data=data or b"", timeout=self.timeout,
                                        headers={"Content-Type": "application/octet-stream"})
            elif response.status_code == 307:
                response = requests.request(method, response.headers["Location"], timeout=self.timeout)
        except requests.RequestException as error:
            raise FileStoreError(f"WebHDFS {op} {path} failed: {error}") from error
        if response.status_code == 404:
            raise FileNotFoundError(path)
        if response.status_code >= 400:
            raise FileStoreError(f"WebHDFS {op} {path}: HTTP {response.status_code} {response.text[:300]}")
        return response

    def read_bytes(self, path: str) -> bytes:
        """Read a file (OPEN)."""
        return self._call("GET", path, "OPEN").content

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write to a temporary name, then rename over the target, so readers never see half a file."""
        parent, _, name = path.rpartition("/")
        temporary = f"{parent}/.{name}.{uuid.uuid4().hex}"
        self._call("PUT", temporary, "CREATE", data=data, overwrite="true")
        self.rename(temporary, path, replace=True)

    def exists(self, path: str) -> bool:
        """Whether the path exists (GETFILESTATUS)."""
        try:
            self._call("GET", path, "GETFILESTATUS")
        except FileNotFoundError:
            return False
        return True

    def list_names(self, path: str) -> list[str]:
        """Entry names (LISTSTATUS), sorted."""
        try:
            statuses = self._call("GET", path, "LISTSTATUS").json()["FileStatuses"]["FileStatus"]
        except FileNotFoundError:
            return []
        return sorted(str(status["pathSuffix"]) for status in statuses)

    def makedirs(self, path: str) -> None:
        """Create directories (MKDIRS)."""
        if not self._call("PUT", path, "MKDIRS").json().get("boolean"):
            raise FileStoreError(f"cannot create {path}")

    def rename(self, source: str, target: str, replace: bool = False) -> None:
        """RENAME; with ``replace`` it passes ``renameoptions=OVERWRITE`` (one atomic NameNode operation)."""
        if replace:
            self._call("PUT", source, "RENAME", destination=target, renameoptions="OVERWRITE")
            return
        if not self._call("PUT", source, "RENAME", destination=target).json().get("boolean"):
            raise FileStoreError(f"cannot rename {source} to {target}")

    def delete(self, path: str) -> None:
        """DELETE, recursively."""
        self._call("DELETE", path, "DELETE", recursive="true")


@dataclass(frozen=True)
class Location:
    """A path on one file system: the store to use and the absolute path inside it."""

    store: FileStore
    path: str
    uri: str

    def child(self, *names: str) -> Location:
        """The location of a descendant."""
        suffix = "/".join(name.strip("/") for name in names)
        joined = f"{self.path.rstrip('/')}/{suffix}"
        return Location(self.store, joined, f"{self.uri.rstrip('/')}/{suffix}")

    @property
    def is_local(self) -> bool:
        """Whether this is on the local file system."""
        return isinstance(self.store, LocalFileStore)


def resolve(uri: str | Path, webhdfs_url: str | None = None) -> Location:
    """Map ``file://``, ``hdfs://`` or a plain local path to its store.

    Args:
        uri: ``hdfs://namenode:8020/path``, ``file:///path`` or a local path.
        webhdfs_url: The NameNode's HTTP address for ``hdfs://`` paths; defaults to the
            same host on port 9870 (Hadoop 3's default).

    Returns:
        The location.

    Raises:
        FileStoreError: For an unsupported scheme.
    """
    text = str(uri)
    parts = urlsplit(text)
    if parts.scheme in ("", "file"):
        local = Path(parts.path if parts.scheme == "file" else text).resolve()
        return Location(LocalFileStore(), str(local), local.as_uri())
    if parts.scheme == "hdfs":
        http = webhdfs_url or f"http://{parts.hostname or '127.0.0.1'}:9870"
        return Location(WebHdfsFileStore(http), parts.path or "/", text)
    raise FileStoreError(f"unsupported file system in {text!r} (use file:// or hdfs://)")
