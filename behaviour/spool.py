"""No event is lost: events the primary store cannot take go to a local append-only spool.

``SpoolingEventStore`` wraps a (distributed) store. An append that fails with
``StoreUnavailableError`` or an ``OSError`` is written to ``events.spool`` (one JSON line per
event, flushed and fsynced before the call returns). Replays move the spool aside with an
atomic rename and write its events to the primary store; the file is deleted only after
the primary accepted all of them, and because every backend keys events by their id, a
replay interrupted half-way and repeated stores each event exactly once. A replay is tried
before each append and by :meth:`replay` (the serving side calls it periodically).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from behaviour.events import Event
from behaviour.hbase_store import StoreUnavailableError
from behaviour.store import Credit, EventStore

logger = logging.getLogger(__name__)

UNAVAILABLE = (StoreUnavailableError, OSError)
REPLAY_CHUNK = 500


class SpoolingEventStore:
    """An event store that spools to a local file while its primary is unreachable."""

    def __init__(self, primary: EventStore, spool_dir: Path, retry_seconds: float = 5.0) -> None:
        """Wrap ``primary``; spool files live in ``spool_dir``."""
        self.primary = primary
        spool_dir.mkdir(parents=True, exist_ok=True)
        self._spool = spool_dir / "events.spool"
        self._replaying = spool_dir / "events.spool.replaying"
        self._retry_seconds = retry_seconds
        self._next_attempt = 0.0
        self._lock = threading.RLock()

    def append(self, events: Iterable[Event]) -> int:
        """Store events in the primary, or in the spool when it is unreachable."""
        checked = [event.validated() for event in events]
        with self._lock:
            if self._spooled() and not self.replay():
                self._write_spool(checked)
                return len(checked)
            try:
                self.primary.append(checked)
            except UNAVAILABLE as error:
                logger.warning("event store unreachable (%s); spooling %d events", error, len(checked))
                self._next_attempt = time.monotonic() + self._retry_seconds
                self._write_spool(checked)
        return len(checked)

    def pending(self) -> int:
        """Events waiting in the spool."""
        with self._lock:
            return sum(1 for path in (self._replaying, self._spool) if path.exists() for _ in _lines(path))

    def _spooled(self) -> bool:
        return self._spool.exists() or self._replaying.exists()

    def replay(self, force: bool = False) -> bool:
        """Move spooled events to the primary; return whether the spool is now empty."""
        with self._lock:
            if not force and time.monotonic() < self._next_attempt:
                return not self._spooled()
            try:
                if self._replaying.exists():
                    self._replay_file()
                if self._spool.exists():
                    os.replace(self._spool, self._replaying)
                    self._replay_file()
            except UNAVAILABLE as error:
                self._next_attempt = time.monotonic() + self._retry_seconds
                logger.info("event store still unreachable (%s); %d events spooled", error, self.pending())
                return False
            return True

    def for_user(self, user_id: str) -> list[Event]:
        """A user's events (from the primary)."""
        return self.primary.for_user(user_id)

    def for_listing(self, listing_id: int) -> list[Event]:
        """A listing's events (from the primary)."""
        return self.primary.for_listing(listing_id)

    def scan(self) -> Iterator[Event]:
        """Every event of the primary."""
        return self.primary.scan()

    def count(self) -> int:
        """Events in the primary."""
        return self.primary.count()

    def put_credits(self, credits: Iterable[Credit]) -> int:
        """Credit goes straight to the primary (the credit job can be re-run)."""
        return self.primary.put_credits(credits)

    def credits(self, participant_ids: Iterable[str]) -> dict[str, Credit]:
        """Credit from the primary."""
        return self.primary.credits(participant_ids)

    def _write_spool(self, events: list[Event]) -> None:
        with self._spool.open("a", encoding="utf-8") as handle:
            for event in events:
                handle.write(event.to_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _replay_file(self) -> None:
        events = []
        for line in _lines(self._replaying):
            try:
                events.append(Event.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                logger.warning("skipping a torn spool line (written when the process died): %.80s", line)
        for start in range(0, len(events), REPLAY_CHUNK):
            self.primary.append(events[start:start + REPLAY_CHUNK])
        self._replaying.unlink()
        logger.info("replayed %d spooled events", len(events))


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line
