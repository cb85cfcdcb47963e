"""Listings (enterprise demands, research achievements, funding offers) and their embedded store.

A listing is ``published`` (searchable, matched against saved needs) or, when new listings are
reviewed, ``pending`` until an intermediary approves it, or ``rejected``. Publishing assigns
``publish_seq`` inside the writing transaction; writers of one database are serialised (SQLite's
write lock, PostgreSQL's advisory lock: ``storage.sql``), so the sequence follows commit order
and a reader that remembers the last one it saw misses nothing.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence

from matchmaker.db import migrate, transaction
from storage.sql import Connection, Row, connect_sqlite, sync_sequence

KINDS = ("demand", "achievement", "funding")
STATUSES = ("published", "pending", "rejected")
FUNDING_STAGES = ("seed", "angel", "series_a", "growth", "loan", "grant")
OWNER_TYPES = ("enterprise", "university", "institute", "individual")
MAX_TITLE_CHARS = 120
MAX_TEXT_CHARS = 4000


class ListingError(ValueError):
    """A listing is malformed; the message says which part."""


@dataclass(frozen=True)
class Listing:
    """One demand or achievement with the metadata matching filters on.

    ``id`` is a stable int64 shared with the search index; 0 means "not stored yet".
    ``maturity`` is a technology readiness level (TRL 1-9): reached by an achievement,
    wanted at least by a demand.
    """

    id: int
    kind: str
    title: str
    text: str
    owner_id: str
    owner_name: str
    owner_type: str
    listing_type: str
    region: str
    field: str
    maturity: int
    language: str
    budget: int | None = None
    deadline_days: int | None = None
    source: str = "chat"
    created_at: float = dataclasses.field(default_factory=time.time)
    status: str = "published"
    amount_min: int | None = None
    amount_max: int | None = None
    stage: str = ""
    review_note: str = ""

    def validated(self) -> Listing:
        """Return the listing with trimmed text, or raise ``ListingError``."""
        title, text = self.title.strip(), self.text.strip()
        if self.kind not in KINDS:
            raise ListingError(f"kind must be one of {KINDS}")
        if not title or not text:
            raise ListingError("title and text must not be empty")
        if len(title) > MAX_TITLE_CHARS or len(text) > MAX_TEXT_CHARS:
            raise ListingError("title or text is too long")
        if not 1 <= self.maturity <= 9:
            raise ListingError("maturity must be a TRL between 1 and 9")
        if not self.owner_id:
            raise ListingError("owner_id must not be empty")
        if self.status not in STATUSES:
            raise ListingError(f"status must be one of {STATUSES}")
        if self.kind == "funding":
            _check_funding(self)
        return replace(self, title=title, text=text)

    @property
    def search_text(self) -> str:
        """The text the index sees: title and description."""
        return f"{self.title}\n{self.text}"


@dataclass(frozen=True)
class ListingFilter:
    """Hard constraints on listings; empty parts constrain nothing."""

    kind: str | None = None
    regions: tuple[str, ...] = ()
    field: str | None = None
    min_maturity: int | None = None
    language: str | None = None
    exclude_owner: str | None = None
    max_maturity: int | None = None
    stage: str | None = None


class ListingStore(Protocol):
    """Where listings live (SQLite embedded; a cluster store later)."""

    def add(self, listing: Listing) -> Listing:
        """Store a listing and return it with its assigned id."""

    def add_many(self, listings: Iterable[Listing]) -> int:
        """Store listings in one transaction; return how many were stored."""

    def get_many(self, ids: Sequence[int]) -> dict[int, Listing]:
        """Listings by id (missing ids are absent from the result)."""

    def matching_ids(self, where: ListingFilter) -> list[int]:
        """Ids of all listings that satisfy ``where``."""

    def iter_all(self) -> Iterator[Listing]:
        """Every listing, in id order."""

    def count(self) -> int:
        """How many listings are stored."""


def _check_funding(listing: Listing) -> None:
    low, high = listing.amount_min, listing.amount_max
    if low is None or high is None or low < 0 or high < low:
        raise ListingError("a funding offer needs an amount range: 0 <= amount_min <= amount_max")
    if listing.stage not in FUNDING_STAGES:
        raise ListingError(f"a funding offer's stage must be one of {FUNDING_STAGES}")


_COLUMNS = ("id", "kind", "title", "text", "owner_id", "owner_name", "owner_type", "listing_type",
            "region", "field", "maturity", "language", "budget", "deadline_days", "source", "created_at",
            "status", "amount_min", "amount_max", "stage", "review_note")
SCHEMA_NAME = "listings"
_NEXT_SEQ = "(SELECT COALESCE(MAX(publish_seq), 0) + 1 FROM listings)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS listings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL,
    owner_id TEXT NOT NULL, owner_name TEXT NOT NULL, owner_type TEXT NOT NULL,
    listing_type TEXT NOT NULL, region TEXT NOT NULL, field TEXT NOT NULL,
    maturity INTEGER NOT NULL, language TEXT NOT NULL,
    budget INTEGER, deadline_days INTEGER,
    source TEXT NOT NULL UNIQUE, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS listings_kind ON listings(kind, region, field, maturity);
CREATE INDEX IF NOT EXISTS listings_owner ON listings(owner_id);
"""
_STEPS = (
    _SCHEMA,
    """
    ALTER TABLE listings ADD COLUMN status TEXT NOT NULL DEFAULT 'published';
    ALTER TABLE listings ADD COLUMN amount_min INTEGER;
    ALTER TABLE listings ADD COLUMN amount_max INTEGER;
    ALTER TABLE listings ADD COLUMN stage TEXT NOT NULL DEFAULT '';
    ALTER TABLE listings ADD COLUMN review_note TEXT NOT NULL DEFAULT '';
    ALTER TABLE listings ADD COLUMN publish_seq INTEGER;
    UPDATE listings SET publish_seq = id;
    CREATE UNIQUE INDEX listings_publish_seq ON listings(publish_seq);
    CREATE INDEX listings_status ON listings(status, kind);
    """,
)


def connect(path: Path) -> sqlite3.Connection:
    """Open the embedded database file in WAL mode (``storage.sql.open_database`` opens the configured one)."""
    return connect_sqlite(path)


class SQLiteListingStore:
    """Listings in the SQL database (SQLite or PostgreSQL); safe to share between threads of one process."""

    def __init__(self, connection: Connection) -> None:
        """Use ``connection`` (``storage.sql.open_database``) and migrate the table."""
        self._db = connection
        self._lock = threading.RLock()
        with self._lock:
            migrate(self._db, SCHEMA_NAME, _STEPS)

    def add(self, listing: Listing) -> Listing:
        """Validate and store ``listing``; a duplicate ``source`` returns the stored one."""
        valid = listing.validated()
        row = _to_row(valid)
        with transaction(self._db, self._lock) as db:
            existing = db.execute("SELECT * FROM listings WHERE source = ?", (valid.source,)).fetchone()
            if existing is not None:
                return _from_row(existing)
            names = [c for c in _COLUMNS if c != "id" or valid.id]
            cursor = db.execute(
                f"INSERT INTO listings ({', '.join(names)}, publish_seq) VALUES ({', '.join('?' for _ in names)}, "
                f"{_NEXT_SEQ if valid.status == 'published' else 'NULL'})", [row[c] for c in names])
            if valid.id:
                sync_sequence(db, "listings")
            stored_id = valid.id or int(cursor.lastrowid or 0)
        return replace(valid, id=stored_id)

    def add_many(self, listings: Iterable[Listing]) -> int:
        """Store many listings in one transaction, skipping sources already stored."""
        rows = [_to_row(item.validated()) for item in listings]
        names = [c for c in _COLUMNS if c != "id"]
        with transaction(self._db, self._lock) as db:
            before = db.total_changes
            db.executemany(
                f"INSERT OR IGNORE INTO listings ({', '.join(names)}, publish_seq) "
                f"VALUES ({', '.join('?' for _ in names)}, CASE WHEN ? = 'published' THEN {_NEXT_SEQ} END)",
                [[row[c] for c in names] + [row["status"]] for row in rows])
            return db.total_changes - before

    def set_status(self, listing_id: int, status: str, note: str = "") -> Listing:
        """Publish or reject a pending listing; publishing gives it the next ``publish_seq``.

        Raises:
            ListingError: for an unknown listing, a status other than published or rejected,
                or a listing that is not pending.
        """
        if status not in ("published", "rejected"):
            raise ListingError("a review publishes or rejects")
        with transaction(self._db, self._lock) as db:
            changed = db.execute(
                f"UPDATE listings SET status = ?, review_note = ?, publish_seq = "
                f"{_NEXT_SEQ if status == 'published' else 'NULL'} WHERE id = ? AND status = 'pending'",
                (status, note[:500], listing_id)).rowcount
            row = db.execute("SELECT * FROM listings WHERE id = ?", (listing_id,)).fetchone()
        if row is None:
            raise ListingError(f"no listing {listing_id}")
        if not changed:
            raise ListingError(f"listing {listing_id} is {row['status']}, not pending")
        return _from_row(row)

    def published_after(self, seq: int, limit: int = 500) -> list[tuple[int, Listing]]:
        """Listings published after ``publish_seq`` ``seq``, in publishing order, with their sequence."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM listings WHERE publish_seq > ? ORDER BY publish_seq LIMIT ?",
                                    (seq, limit)).fetchall()
        return [(int(r["publish_seq"]), _from_row(r)) for r in rows]

    def last_publish_seq(self) -> int:
        """The ``publish_seq`` of the listing published last (0 when none)."""
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(MAX(publish_seq), 0) FROM listings").fetchone()[0])

    def get_many(self, ids: Sequence[int]) -> dict[int, Listing]:
        """Listings by id."""
        if not ids:
            return {}
        wanted = [int(i) for i in ids]
        rows: list[Row] = []
        with self._lock:
            for start in range(0, len(wanted), 900):
                chunk = wanted[start:start + 900]
                rows += self._db.execute(
                    f"SELECT * FROM listings WHERE id IN ({', '.join('?' for _ in chunk)})", chunk).fetchall()
        return {int(r["id"]): _from_row(r) for r in rows}

    def matching_ids(self, where: ListingFilter) -> list[int]:
        """Ids satisfying every non-empty part of ``where``."""
        clauses: list[str] = ["status = 'published'"]
        params: list[Any] = []
        if where.max_maturity:
            clauses.append("maturity <= ?")
            params.append(where.max_maturity)
        if where.stage:
            clauses.append("stage = ?")
            params.append(where.stage)
        if where.kind:
            clauses.append("kind = ?")
            params.append(where.kind)
        if where.regions:
            clauses.append(f"region IN ({', '.join('?' for _ in where.regions)})")
            params.extend(where.regions)
        if where.field:
            clauses.append("field = ?")
            params.append(where.field)
        if where.min_maturity:
            clauses.append("maturity >= ?")
            params.append(where.min_maturity)
        if where.language:
            clauses.append("language = ?")
            params.append(where.language)
        if where.exclude_owner:
            clauses.append("owner_id != ?")
            params.append(where.exclude_owner)
        sql = "SELECT id FROM listings WHERE " + " AND ".join(clauses)
        with self._lock:
            return [int(r[0]) for r in self._db.execute(sql, params).fetchall()]

    def iter_all(self) -> Iterator[Listing]:
        """Every listing in id order (read in pages, so memory stays flat)."""
        last = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT * FROM listings WHERE id > ? ORDER BY id LIMIT 1000", (last,)).fetchall()
            if not rows:
                return
            for row in rows:
                yield _from_row(row)
            last = int(rows[-1]["id"])

    def pending_count(self) -> int:
        """How many listings wait for review."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM listings WHERE status = 'pending'").fetchone()[0])

    def by_owner(self, owner_id: str) -> list[Listing]:
        """Listings posted by ``owner_id``, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM listings WHERE owner_id = ? ORDER BY id DESC", (owner_id,)).fetchall()
        return [_from_row(r) for r in rows]

    def count(self) -> int:
        """How many listings are stored."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM listings").fetchone()[0])


def _to_row(listing: Listing) -> dict[str, Any]:
    return asdict(listing)


def _from_row(row: Row) -> Listing:
    return Listing(**{c: row[c] for c in _COLUMNS})
