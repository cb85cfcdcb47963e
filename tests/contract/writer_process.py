"""What one separate process does in the multi-process contract tests: append messages to a thread.

Kept apart from the test modules so a spawned process imports only this and the application.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matchmaker.negotiation_store import SQLiteNegotiationStore
from storage.sql import open_database


@dataclass(frozen=True)
class _Settings:
    database_url: str
    database_path: Path = Path("unused.db")


def append_messages(url: str, thread_id: int, sender: str, prefix: str, count: int, start: Any) -> None:
    """Wait at ``start`` (a barrier), then post ``count`` messages ``<prefix>-<n>`` as ``sender``."""
    store = SQLiteNegotiationStore(open_database(_Settings(url)))
    start.wait()
    for n in range(count):
        store.post_message(thread_id, sender, f"{prefix}-{n}", f"{prefix}-{n}")
