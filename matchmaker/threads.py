"""Negotiation threads between the two parties of a match, stored with their state."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass

STATES = ("requested", "accepted", "declined", "agreed", "closed")


class ThreadError(ValueError):
    """A thread cannot be opened or changed as asked."""


@dataclass(frozen=True)
class Thread:
    """A negotiation between the requester and the owner of the matched listing."""

    id: int
    listing_id: int
    requester_id: str
    owner_id: str
    state: str
    context: str
    created_at: float
    updated_at: float

    def other_party(self, participant_id: str) -> str:
        """The participant on the other side from ``participant_id``."""
        return self.owner_id if participant_id == self.requester_id else self.requester_id


_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    listing_id INTEGER NOT NULL,
    requester_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    state TEXT NOT NULL,
    context TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (listing_id, requester_id)
);
CREATE INDEX IF NOT EXISTS threads_requester ON threads(requester_id);
CREATE INDEX IF NOT EXISTS threads_owner ON threads(owner_id);
"""


class SQLiteThreadStore:
    """Threads in the embedded SQLite database."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        """Use ``connection`` and create the table if needed."""
        self._db = connection
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)

    def open(self, listing_id: int, requester_id: str, owner_id: str, context: str) -> tuple[Thread, bool]:
        """Open a thread, or return the one this requester already has on the listing.

        Returns:
            The thread and whether it was created now.

        Raises:
            ThreadError: when requester and owner are the same participant.
        """
        if requester_id == owner_id:
            raise ThreadError("cannot open a thread with yourself")
        now = time.time()
        with self._lock, self._db:
            row = self._db.execute(
                "SELECT * FROM threads WHERE listing_id = ? AND requester_id = ?",
                (listing_id, requester_id)).fetchone()
            if row is not None:
                return _from_row(row), False
            cursor = self._db.execute(
                "INSERT INTO threads (listing_id, requester_id, owner_id, state, context, created_at, updated_at)"
                " VALUES (?, ?, ?, 'requested', ?, ?, ?)",
                (listing_id, requester_id, owner_id, context[:500], now, now))
        thread_id = int(cursor.lastrowid or 0)
        return Thread(thread_id, listing_id, requester_id, owner_id, "requested", context[:500], now, now), True

    def for_participant(self, participant_id: str) -> list[Thread]:
        """Threads where ``participant_id`` is either party, most recent first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM threads WHERE requester_id = ? OR owner_id = ? ORDER BY updated_at DESC, id DESC",
                (participant_id, participant_id)).fetchall()
        return [_from_row(r) for r in rows]

    def set_state(self, thread_id: int, state: str) -> Thread:
        """Move a thread to ``state``.

        Raises:
            ThreadError: for an unknown state or thread.
        """
        if state not in STATES:
            raise ThreadError(f"state must be one of {STATES}")
        with self._lock, self._db:
            self._db.execute("UPDATE threads SET state = ?, updated_at = ? WHERE id = ?",
                             (state, time.time(), thread_id))
            row = self._db.execute("SELECT * FROM threads WHERE id = ?", (thread_id,)).fetchone()
        if row is None:
            raise ThreadError(f"no thread {thread_id}")
        return _from_row(row)


def _from_row(row: sqlite3.Row) -> Thread:
    return Thread(int(row["id"]), int(row["listing_id"]), row["requester_id"], row["owner_id"],
                  row["state"], row["context"], float(row["created_at"]), float(row["updated_at"]))
