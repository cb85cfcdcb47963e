"""The intermediaries' triage desk: items to look at, in the queue of whoever covers them.

An item is one subject to triage: a listing to review (``review``) or to look at
(``new_listing``), a thread nobody answered (``unanswered``), a search whose best match scored
low (``low_match``) or a person who asked for a human (``handoff``). At most one item per
subject is open at a time. A new item goes to the queue of one intermediary covering its field
and region, round robin (the one assigned longest ago), or to the fallback queue that every
intermediary sees when nobody covers it. ``take`` is a compare-and-set, so of two
intermediaries taking one item one wins and the other is told who has it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from matchmaker.accounts import AccountStore, Participant
from matchmaker.db import migrate, transaction
from storage.sql import Connection, Row

SCHEMA_NAME = "desk"
ITEM_KINDS = ("review", "new_listing", "unanswered", "low_match", "handoff")
FALLBACK_QUEUE = ""
MAX_SUMMARY_CHARS = 300

Notify = Callable[[Sequence[str], str, dict[str, Any], str], bool]

_STEPS = (
    """
    CREATE TABLE desk_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        field TEXT NOT NULL,
        region TEXT NOT NULL,
        language TEXT NOT NULL,
        summary TEXT NOT NULL,
        requester_id TEXT NOT NULL,
        queue_id TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open',
        taken_by TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX desk_items_open ON desk_items(kind, subject) WHERE state != 'done';
    CREATE INDEX desk_items_queue ON desk_items(state, queue_id, id);
    CREATE INDEX desk_items_taker ON desk_items(taken_by, state);
    CREATE TABLE desk_round_robin (
        participant_id TEXT PRIMARY KEY,
        last_assigned_at REAL NOT NULL
    );
    """,
)


class DeskError(ValueError):
    """A desk operation was refused; ``code`` says why, ``item`` is the item when there is one.

    Codes: ``not_intermediary``, ``unknown_item``, ``taken`` (someone else has it),
    ``not_yours`` (finishing an item someone else took), ``done``, ``unknown_intermediary``,
    ``bad_item``.
    """

    def __init__(self, code: str, message: str, item: DeskItem | None = None) -> None:
        """Record the code and the item next to the message."""
        super().__init__(message)
        self.code = code
        self.item = item


@dataclass(frozen=True)
class DeskItem:
    """One subject on the desk."""

    id: int
    kind: str
    subject: str
    field: str
    region: str
    language: str
    summary: str
    requester_id: str
    queue_id: str
    state: str
    taken_by: str
    created_at: float
    updated_at: float


class SQLiteDesk:
    """Desk items in the SQL database (SQLite or PostgreSQL); safe to share between threads of one process."""

    def __init__(self, connection: Connection, accounts: AccountStore, notify: Notify | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """Use ``connection`` and migrate the schema.

        Args:
            connection: the database connection (its own, or one nobody else writes through).
            accounts: where intermediaries and their coverage are read.
            notify: how intermediaries hear of new items (``NegotiationStore.notify``); ``None``: silent.
            clock: the time source.
        """
        self._db = connection
        self._accounts = accounts
        self._notify = notify
        self._clock = clock
        self._lock = threading.RLock()
        with self._lock:
            migrate(self._db, SCHEMA_NAME, _STEPS)

    def enqueue(self, kind: str, subject: str, field: str, region: str, language: str, summary: str,
                requester_id: str) -> tuple[DeskItem, bool]:
        """Put a subject on the desk, or return the open item it already has.

        Returns:
            The item and whether it was created now.

        Raises:
            DeskError: ``bad_item`` for an unknown kind or an empty subject.
        """
        if kind not in ITEM_KINDS or not subject:
            raise DeskError("bad_item", f"kind must be one of {ITEM_KINDS} and the subject not empty")
        now = self._clock()
        covering = [p for p in self._accounts.intermediaries() if p.covers(field, region)]
        with transaction(self._db, self._lock) as db:
            row = db.execute("SELECT * FROM desk_items WHERE kind = ? AND subject = ? AND state != 'done'",
                             (kind, subject)).fetchone()
            if row is not None:
                return _item(row), False
            queue = _next_in_turn(db, covering)
            if queue != FALLBACK_QUEUE:
                db.execute("INSERT INTO desk_round_robin (participant_id, last_assigned_at) VALUES (?, ?)"
                           " ON CONFLICT (participant_id) DO UPDATE SET last_assigned_at = excluded.last_assigned_at",
                           (queue, now))
            cursor = db.execute(
                "INSERT INTO desk_items (kind, subject, field, region, language, summary, requester_id, queue_id,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, subject, field, region, language, summary.strip()[:MAX_SUMMARY_CHARS], requester_id, queue,
                 now, now))
            item = _item(_row(db, int(cursor.lastrowid or 0)))
        self._tell(self._audience(item), "queue_item", item, f"desk:{item.id}")
        return item, True

    def item(self, item_id: int) -> DeskItem | None:
        """The item, or ``None``."""
        with self._lock:
            row = self._db.execute("SELECT * FROM desk_items WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else _item(row)

    def queue(self, intermediary_id: str) -> list[DeskItem]:
        """What an intermediary has to do: open items of their queue and the fallback queue, and items they took.

        Raises:
            DeskError: ``not_intermediary``.
        """
        self._intermediary(intermediary_id)
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM desk_items WHERE (state = 'open' AND queue_id IN (?, ?))"
                " OR (state = 'taken' AND taken_by = ?) ORDER BY state DESC, id",
                (intermediary_id, FALLBACK_QUEUE, intermediary_id)).fetchall()
        return [_item(r) for r in rows]

    def take(self, item_id: int, intermediary_id: str) -> DeskItem:
        """An intermediary takes an open item (from any queue).

        Raises:
            DeskError: ``not_intermediary``, ``unknown_item``, ``taken`` (by someone else; taking
                one's own again returns it) or ``done``.
        """
        self._intermediary(intermediary_id)
        with transaction(self._db, self._lock) as db:
            item = _existing(db, item_id)
            if item.state == "taken" and item.taken_by == intermediary_id:
                return item
            _check_open(item)
            db.execute("UPDATE desk_items SET state = 'taken', taken_by = ?, updated_at = ? WHERE id = ?"
                       " AND state = 'open'", (intermediary_id, self._clock(), item.id))
            return _item(_row(db, item.id))

    def assign(self, item_id: int, by_id: str, to: str) -> DeskItem:
        """An intermediary gives an item (open, or taken by themselves) to another, by name or id.

        Raises:
            DeskError: ``not_intermediary`` (the one assigning), ``unknown_intermediary`` (the
                one named), ``unknown_item``, ``taken`` (by a third person) or ``done``.
        """
        self._intermediary(by_id)
        target = self._named_intermediary(to)
        with transaction(self._db, self._lock) as db:
            item = _existing(db, item_id)
            if item.state == "done":
                raise DeskError("done", f"item {item.id} is done", item)
            if item.state == "taken" and item.taken_by not in (by_id, target.id):
                raise DeskError("taken", f"item {item.id} is taken by {item.taken_by}", item)
            db.execute("UPDATE desk_items SET state = 'taken', taken_by = ?, queue_id = ?, updated_at = ? WHERE id = ?",
                       (target.id, target.id, self._clock(), item.id))
            assigned = _item(_row(db, item.id))
        if target.id != by_id:
            self._tell([target.id], "assigned", assigned, f"desk:{item.id}:assigned:{target.id}:{assigned.updated_at}")
        return assigned

    def done(self, item_id: int, intermediary_id: str) -> DeskItem:
        """The intermediary who has an item finishes it.

        Raises:
            DeskError: ``not_intermediary``, ``unknown_item``, ``done``, ``not_yours`` (open, or
                taken by someone else).
        """
        self._intermediary(intermediary_id)
        with transaction(self._db, self._lock) as db:
            item = _existing(db, item_id)
            if item.state == "done":
                raise DeskError("done", f"item {item.id} is done already", item)
            if item.state != "taken" or item.taken_by != intermediary_id:
                raise DeskError("not_yours", f"item {item.id} is not taken by you", item)
            db.execute("UPDATE desk_items SET state = 'done', updated_at = ? WHERE id = ?", (self._clock(), item.id))
            return _item(_row(db, item.id))

    def handoff_for(self, requester_id: str) -> DeskItem | None:
        """The handoff item of a person, while an intermediary has taken it."""
        with self._lock:
            row = self._db.execute("SELECT * FROM desk_items WHERE kind = 'handoff' AND subject = ?"
                                   " AND state = 'taken'", (requester_id,)).fetchone()
        return None if row is None else _item(row)

    def open_subjects(self, kind: str) -> set[str]:
        """Subjects of ``kind`` that have an item not done yet."""
        with self._lock:
            rows = self._db.execute("SELECT subject FROM desk_items WHERE kind = ? AND state != 'done'",
                                    (kind,)).fetchall()
        return {str(r[0]) for r in rows}

    def display_name(self, participant_id: str) -> str:
        """How a participant is named to others (its id when it has no stored name)."""
        found = self._accounts.participant(participant_id)
        return found.display_name if found is not None else participant_id

    def is_intermediary(self, participant_id: str) -> bool:
        """Whether ``participant_id`` has the intermediary role."""
        found = self._accounts.participant(participant_id)
        return found is not None and found.role == "intermediary"

    def _intermediary(self, participant_id: str) -> Participant:
        found = self._accounts.participant(participant_id)
        if found is None or found.role != "intermediary":
            raise DeskError("not_intermediary", "only intermediaries use the desk")
        return found

    def _named_intermediary(self, name_or_id: str) -> Participant:
        wanted = name_or_id.strip().lower()
        for candidate in self._accounts.intermediaries():
            if wanted in (candidate.id.lower(), candidate.display_name.lower()):
                return candidate
        raise DeskError("unknown_intermediary", f"no intermediary called {name_or_id!r}")

    def _audience(self, item: DeskItem) -> list[str]:
        if item.queue_id != FALLBACK_QUEUE:
            return [item.queue_id]
        return [p.id for p in self._accounts.intermediaries()]

    def _tell(self, recipients: Sequence[str], body: str, item: DeskItem, key: str) -> None:
        if self._notify is not None and recipients:
            self._notify(recipients, body, item_data(item), key)


def item_data(item: DeskItem) -> dict[str, Any]:
    """What a notice about ``item`` carries."""
    return {"item": item.id, "kind": item.kind, "summary": item.summary, "field": item.field,
            "region": item.region, "subject": item.subject}


def _next_in_turn(db: Connection, covering: Sequence[Participant]) -> str:
    """The covering intermediary assigned longest ago (never assigned first), or the fallback queue."""
    if not covering:
        return FALLBACK_QUEUE
    last = {str(r[0]): float(r[1]) for r in db.execute("SELECT participant_id, last_assigned_at FROM desk_round_robin")}
    return min(covering, key=lambda p: (last.get(p.id, 0.0), p.id)).id


def _check_open(item: DeskItem) -> None:
    if item.state == "taken":
        raise DeskError("taken", f"item {item.id} is taken by {item.taken_by}", item)
    if item.state == "done":
        raise DeskError("done", f"item {item.id} is done", item)


def _existing(db: Connection, item_id: int) -> DeskItem:
    row = db.execute("SELECT * FROM desk_items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise DeskError("unknown_item", f"no desk item {item_id}")
    return _item(row)


def _row(db: Connection, item_id: int) -> Row:
    row: Row = db.execute("SELECT * FROM desk_items WHERE id = ?", (item_id,)).fetchone()
    return row


def _item(row: Row) -> DeskItem:
    return DeskItem(int(row["id"]), row["kind"], row["subject"], row["field"], row["region"], row["language"],
                    row["summary"], row["requester_id"], row["queue_id"], row["state"], row["taken_by"],
                    float(row["created_at"]), float(row["updated_at"]))
