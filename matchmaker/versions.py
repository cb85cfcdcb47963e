"""Swapping in newly published versions of an artifact (the index, CF factors), one way for all.

A version is published under a root (local or HDFS) by switching its ``CURRENT`` pointer.
:class:`VersionPoller` reads the pointer; a name other than the one served is fetched to the
local cache and opened off to the side, and only a version that opened is handed to ``swap``.
A version that fails to open is rejected for good (the old one keeps serving); a pointer or
fetch that fails on the file system is tried again at the next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from index.remote import current_name, fetch_version
from storage.files import Location

logger = logging.getLogger(__name__)

T = TypeVar("T")


class VersionPoller(Generic[T]):
    """Polls one artifact's root and swaps in what opens."""

    def __init__(self, what: str, root: Location, cache_dir: Path, open_version: Callable[[Path], T],
                 swap: Callable[[T, str], None], rejects: tuple[type[BaseException], ...]) -> None:
        """Watch ``root``.

        Args:
            what: the artifact's name, for the log.
            root: where versions are published.
            cache_dir: local copies of remote versions.
            open_version: loads and checks a fetched version directory.
            swap: serves an opened version under its name.
            rejects: the errors of ``open_version`` that mean the version is bad (rejected for good);
                any other ``OSError`` is retried at the next poll.
        """
        self._what, self._root, self._cache_dir = what, root, cache_dir
        self._open, self._swap, self._rejects = open_version, swap, rejects
        self.rejected: set[str] = set()

    def check_once(self, served: str | None) -> str | None:
        """Swap in the published version if it is not ``served`` and opens; return its name if swapped."""
        try:
            name = current_name(self._root)
            if name is None or name == served or name in self.rejected:
                return None
            directory = fetch_version(self._root, name, self._cache_dir)
        except OSError as error:
            logger.warning("%s pointer or version under %s not readable yet: %s", self._what, self._root.uri, error)
            return None
        try:
            opened = self._open(directory)
        except self._rejects as error:
            self.rejected.add(name)
            logger.error("%s version %s rejected, still serving %s: %s", self._what, name, served, error)
            return None
        except OSError as error:
            logger.warning("%s version %s not loaded yet (will retry): %s", self._what, name, error)
            return None
        self._swap(opened, name)
        return name
