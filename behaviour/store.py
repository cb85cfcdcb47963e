"""The event store interface and its embedded backend (SQLite).

Besides events, the store keeps each participant's credit score with its components (the
output of ``jobs.credit``), so the serving side reads both from one place.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from behaviour.events import Event


@dataclass(frozen=True)
class Credit:
    """A participant's credit score (0-100), the components it is made of and when it was computed."""

    participant_id: str
    score: float
    components: dict[str, float]
    computed_at: float


class EventStore(Protocol):
    """Append-only behaviour events, scannable per user and per listing, plus credit scores."""

    def append(self, events: Iterable[Event]) -> int:
        """Store events (an event already stored is not stored twice); return how many were given."""
        ...

    def for_user(self, user_id: str) -> list[Event]:
        """A user's events, oldest first."""
        ...

    def for_listing(self, listing_id: int) -> list[Event]:
        """The events about a listing, oldest first."""
        ...

    def scan(self) -> Iterator[Event]:
        """Every event (in no particular order)."""
        ...

    def count(self) -> int:
        """How many events are stored."""
        ...

    def put_credits(self, credits: Iterable[Credit]) -> int:
        """Store credit scores (replacing older ones); return how many."""
        ...

    def credits(self, participant_ids: Iterable[str]) -> dict[str, Credit]:
        """Stored credit of the given participants (absent when never computed)."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    user_id TEXT NOT NULL,
    listing_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_user ON events(user_id, ts);
CREATE INDEX IF NOT EXISTS events_listing ON events(listing_id, ts);
CREATE TABLE IF NOT EXISTS credit (
    participant_id TEXT PRIMARY KEY,
    score REAL NOT NULL,
    components TEXT NOT NULL,
    computed_at REAL NOT NULL
);
"""


class SQLiteEventStore:
    """Events and credit in an SQLite file (the embedded default)."""

    def __init__(self, path: Path) -> None:
        """Open (and create) the database at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def append(self, events: Iterable[Event]) -> int:
        """Insert events; an event id already present is ignored."""
        rows = [(e.event_id, e.ts, e.user_id, e.listing_id, e.kind, e.to_json())
                for e in (event.validated() for event in events)]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
        return len(rows)

    def for_user(self, user_id: str) -> list[Event]:
        """A user's events by time."""
        return self._select("WHERE user_id = ? ORDER BY ts, event_id", (user_id,))

    def for_listing(self, listing_id: int) -> list[Event]:
        """A listing's events by time."""
        return self._select("WHERE listing_id = ? ORDER BY ts, event_id", (listing_id,))

    def scan(self) -> Iterator[Event]:
        """Every event."""
        yield from self._select("ORDER BY ts, event_id", ())

    def count(self) -> int:
        """Number of events."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def put_credits(self, credits: Iterable[Credit]) -> int:
        """Replace credit rows."""
        rows = [(c.participant_id, c.score, json.dumps(c.components, sort_keys=True), c.computed_at)
                for c in credits]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO credit VALUES (?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
        return len(rows)

    def credits(self, participant_ids: Iterable[str]) -> dict[str, Credit]:
        """Credit rows by participant."""
        wanted = sorted(set(participant_ids))
        found: dict[str, Credit] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self._db.execute(f"SELECT * FROM credit WHERE participant_id IN ({marks})", chunk):
                    found[row[0]] = Credit(row[0], float(row[1]), json.loads(row[2]), float(row[3]))
        return found

    def _select(self, clause: str, params: tuple[object, ...]) -> list[Event]:
        with self._lock:
            rows = self._db.execute(f"SELECT body FROM events {clause}", params).fetchall()
        return [Event.from_dict(json.loads(row[0])) for row in rows]
