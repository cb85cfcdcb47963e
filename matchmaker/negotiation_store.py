"""Negotiation threads, messages, proposals, ratings and the outbox in the SQL database (SQLite or PostgreSQL).

Every move is one write transaction (``BEGIN IMMEDIATE``): load the thread, check the actor
may see it and make the move (``matchmaker.negotiation``), write the new state, the message
that records it (numbered ``seq`` within the thread) and one outbox row per recipient
channel identity. Behaviour events are appended after the commit.

The first migration step is the table the older ``SQLiteThreadStore`` created (``CREATE TABLE
IF NOT EXISTS``, so a database it wrote keeps its rows); the second adds what negotiation
needs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from behaviour.events import Event
from behaviour.store import EventStore
from matchmaker.accounts import AccountStore, SQLiteAccountStore
from matchmaker.db import migrate, snapshot, transaction
from matchmaker.delivery import INBOX_CHANNELS, Delivery, DeliveryState, RetryPolicy, channel_of
from matchmaker.listings import Listing, SQLiteListingStore
from matchmaker.negotiation import (
    ACTIVE_STATES,
    MAX_CONTEXT_CHARS,
    CounterpartView,
    History,
    ListingFacts,
    Message,
    NegotiationError,
    NoSuchThread,
    Proposal,
    Rating,
    Terms,
    Thread,
    answer_state,
    check_access,
    check_answer_proposal,
    check_can_propose,
    check_message,
    check_open,
    check_party,
    check_rating,
    check_terms,
    counterpart_facts,
    nda_state,
    withdraw_state,
)
from storage.sql import Connection, IntegrityError, Row

SCHEMA_NAME = "negotiation"
DAY_SECONDS = 86400.0

_STEPS = (
    """
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
    """,
    """
    ALTER TABLE threads ADD COLUMN owner_nda_at REAL;
    ALTER TABLE threads ADD COLUMN requester_nda_at REAL;
    ALTER TABLE threads ADD COLUMN answered_at REAL;
    ALTER TABLE threads ADD COLUMN nda_version TEXT NOT NULL DEFAULT '';
    ALTER TABLE threads ADD COLUMN close_reason TEXT NOT NULL DEFAULT '';
    UPDATE threads SET answered_at = updated_at WHERE state != 'requested';
    CREATE INDEX threads_state ON threads(state, updated_at);
    CREATE TABLE thread_messages (
        thread_id INTEGER NOT NULL REFERENCES threads(id),
        seq INTEGER NOT NULL,
        sender_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}',
        client_key TEXT,
        created_at REAL NOT NULL,
        PRIMARY KEY (thread_id, seq)
    );
    CREATE UNIQUE INDEX thread_messages_client_key ON thread_messages(thread_id, sender_id, client_key)
        WHERE client_key IS NOT NULL;
    CREATE TABLE proposals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        thread_id INTEGER NOT NULL REFERENCES threads(id),
        proposer_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        price_yuan INTEGER NOT NULL,
        duration_days INTEGER NOT NULL,
        milestones TEXT NOT NULL,
        state TEXT NOT NULL,
        supersedes INTEGER REFERENCES proposals(id),
        created_at REAL NOT NULL,
        decided_at REAL
    );
    CREATE INDEX proposals_thread ON proposals(thread_id, id);
    CREATE TABLE ratings (
        thread_id INTEGER NOT NULL REFERENCES threads(id),
        rater_id TEXT NOT NULL,
        rated_id TEXT NOT NULL,
        stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
        comment TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (thread_id, rater_id)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        thread_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        recipient_id TEXT NOT NULL,
        identity TEXT NOT NULL,
        channel TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        delivered_at REAL,
        last_error TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        UNIQUE (thread_id, seq, identity),
        FOREIGN KEY (thread_id, seq) REFERENCES thread_messages(thread_id, seq)
    );
    CREATE INDEX outbox_due ON outbox(channel, state, next_attempt_at);
    CREATE INDEX outbox_inbox ON outbox(identity, state, thread_id, seq);
    """,
    """
    ALTER TABLE outbox ADD COLUMN leased_until REAL NOT NULL DEFAULT 0;
    """,
    """
    ALTER TABLE threads ADD COLUMN broker_id TEXT NOT NULL DEFAULT '';
    CREATE INDEX threads_broker ON threads(broker_id);
    """,
)
NOTICE_THREAD = 0
NOTICE_SENDER = "platform"

_DELIVERY_SELECT = """
SELECT o.id, o.thread_id, o.seq, o.identity, o.channel, o.attempts, o.created_at,
       m.kind, m.body, m.data, m.sender_id, t.owner_id, t.requester_id, t.broker_id
FROM outbox o
JOIN thread_messages m ON m.thread_id = o.thread_id AND m.seq = o.seq
LEFT JOIN threads t ON t.id = o.thread_id
"""


class ListingReader(Protocol):
    """Where the public part of a thread's listing is read from."""

    def get_many(self, ids: Sequence[int]) -> dict[int, Listing]:
        """Listings by id (missing ids are absent)."""
        ...


class SQLiteNegotiationStore:
    """Threads and everything in them; safe to share between threads of one process.

    A store that creates its own account and listing stores shares its writer lock with the
    account store, because they use one connection (one transaction at a time).
    """

    def __init__(self, connection: Connection, accounts: AccountStore | None = None,
                 events: EventStore | None = None, listings: ListingReader | None = None,
                 clock: Callable[[], float] = time.time, retry: RetryPolicy | None = None) -> None:
        """Use ``connection`` (``storage.sql.open_database``) and migrate the schema.

        Args:
            connection: the database connection.
            accounts: participants and identities (default: the accounts on ``connection``).
            events: where behaviour events go; ``None`` records none (tools, some tests).
            listings: where listings are read for counterpart views (default: ``connection``).
            clock: the time source.
            retry: backoff of push deliveries.
        """
        self._db = connection
        self._lock = threading.RLock()
        self._clock = clock
        self._events = events
        self._retry = retry or RetryPolicy()
        self._accounts = accounts or SQLiteAccountStore(connection, clock, lock=self._lock)
        self._listings = listings or SQLiteListingStore(connection)
        with self._lock:
            migrate(self._db, SCHEMA_NAME, _STEPS)

    @property
    def accounts(self) -> AccountStore:
        """The participants and identities this store routes deliveries by."""
        return self._accounts

    # -- access ---------------------------------------------------------------------------

    def thread(self, thread_id: int, viewer: str) -> Thread:
        """The thread, when ``viewer`` is a party of it.

        Raises:
            NoSuchThread: for a missing thread and for one the viewer is not a party of.
        """
        with self._lock:
            return check_access(_get(self._db, thread_id), viewer)

    def for_participant(self, participant_id: str) -> list[Thread]:
        """Threads where ``participant_id`` is either party or the broker, most recent first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM threads WHERE requester_id = ? OR owner_id = ? OR broker_id = ?"
                " ORDER BY updated_at DESC, id DESC", (participant_id, participant_id, participant_id)).fetchall()
        return [_thread(r) for r in rows]

    # -- moves ----------------------------------------------------------------------------

    def open(self, listing_id: int, requester_id: str, owner_id: str, context: str) -> tuple[Thread, bool]:
        """Open a thread, or return the one this requester already has on the listing.

        The owner is notified (a ``request`` system message). The ``contact`` behaviour event
        is recorded by the caller, which knows the rank and query of the match.

        Returns:
            The thread and whether it was created now.

        Raises:
            NegotiationError: ``self_contact`` when requester and owner are the same.
        """
        check_open(requester_id, owner_id)
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            row = db.execute("SELECT * FROM threads WHERE listing_id = ? AND requester_id = ?",
                             (listing_id, requester_id)).fetchone()
            if row is not None:
                return _thread(row), False
            cursor = db.execute(
                "INSERT INTO threads (listing_id, requester_id, owner_id, state, context, created_at, updated_at)"
                " VALUES (?, ?, ?, 'requested', ?, ?, ?)",
                (listing_id, requester_id, owner_id, context[:MAX_CONTEXT_CHARS], now, now))
            thread = _require(_get(db, int(cursor.lastrowid or 0)))
            _append(db, thread, requester_id, "system", "request", {"context": thread.context}, None, now,
                    self._recipients([owner_id]))
        return thread, True

    def accept(self, thread_id: int, actor: str) -> Thread:
        """The owner accepts the request.

        Raises:
            NoSuchThread: the thread is missing or not the actor's.
            NegotiationError: ``not_allowed`` (not the owner), ``bad_state`` (not requested).
        """
        return self._answer(thread_id, actor, accept=True)

    def decline(self, thread_id: int, actor: str) -> Thread:
        """The owner declines the request (same errors as :meth:`accept`)."""
        return self._answer(thread_id, actor, accept=False)

    def confirm_nda(self, thread_id: int, actor: str, nda_version: str) -> Thread:
        """``actor`` confirms the standard NDA; the second confirmation opens the thread.

        Raises:
            NoSuchThread: the thread is missing or not the actor's.
            NegotiationError: ``bad_state`` (not accepted, or past the NDA), ``already_done``,
                ``nda_mismatch``.
        """
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            thread = check_access(_get(db, thread_id), actor)
            check_party(thread, actor, "confirm the NDA")
            state = nda_state(thread, actor, nda_version)
            column = "owner_nda_at" if actor == thread.owner_id else "requester_nda_at"
            db.execute(f"UPDATE threads SET state = ?, {column} = ?, nda_version = ?, updated_at = ? WHERE id = ?",
                       (state, now, nda_version, now, thread.id))
            updated = _require(_get(db, thread.id))
            notice = "disclosed" if state == "open" else "nda_confirmed"
            _append(db, updated, actor, "system", notice, {"nda_version": nda_version}, None, now,
                    self._recipients([updated.other_party(actor)]))
        if state == "open":
            self._record([_event("disclosed", updated, actor, updated.other_party(actor), now)])
        return updated

    def withdraw(self, thread_id: int, actor: str) -> Thread:
        """Either party ends an active thread without a deal.

        Raises:
            NoSuchThread: the thread is missing or not the actor's.
            NegotiationError: ``bad_state`` (declined, agreed or closed already).
        """
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            thread = check_access(_get(db, thread_id), actor)
            check_party(thread, actor, "withdraw from a thread")
            withdraw_state(thread)
            updated = self._close(db, thread, actor, "withdrawn", now, thread.others(actor))
        self._record([_event("closed", updated, actor, updated.other_party(actor), now, reason="withdrawn")])
        return updated

    def expire_stale(self, now: float, days: float) -> list[Thread]:
        """Close active threads without activity for ``days`` days (both parties are told).

        Returns:
            The threads closed now.

        Raises:
            ValueError: when ``days`` is not positive.
        """
        if days <= 0:
            raise ValueError(f"days must be positive, got {days}")
        cutoff = now - days * DAY_SECONDS
        closed: list[Thread] = []
        with transaction(self._db, self._lock) as db:
            marks = ", ".join("?" for _ in ACTIVE_STATES)
            rows = db.execute(f"SELECT * FROM threads WHERE state IN ({marks}) AND updated_at < ? ORDER BY id",
                              (*ACTIVE_STATES, cutoff)).fetchall()
            for row in rows:
                thread = _thread(row)
                recipients = thread.others("")
                closed.append(self._close(db, thread, "", "expired", now, recipients))
        self._record([_event("closed", t, t.owner_id, t.requester_id, now, reason="expired") for t in closed])
        return closed

    # -- messages -------------------------------------------------------------------------

    def post_message(self, thread_id: int, sender_pid: str, body: str, client_key: str) -> tuple[Message, bool]:
        """Store a text message (before the turn is acknowledged) and queue its deliveries.

        A second call with the same ``client_key`` from the same sender returns the stored
        message and stores nothing.

        Returns:
            The message and whether it was stored now.

        Raises:
            NoSuchThread: the thread is missing or not the sender's.
            NegotiationError: ``bad_message`` (empty, too long, no client key) or ``bad_state``
                (declined, agreed or closed).
        """
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            thread = check_access(_get(db, thread_id), sender_pid)
            row = db.execute("SELECT * FROM thread_messages WHERE thread_id = ? AND sender_id = ? AND client_key = ?",
                             (thread.id, sender_pid, client_key)).fetchone()
            if row is not None:
                return _message(row), False
            text = check_message(thread, body, client_key)
            message = _append(db, thread, sender_pid, "text", text, {}, client_key, now,
                              self._recipients(thread.others(sender_pid)))
            first_answer = sender_pid == thread.owner_id and thread.answered_at is None
            if first_answer:
                db.execute("UPDATE threads SET answered_at = ? WHERE id = ?", (now, thread.id))
        if first_answer:
            self._record([_response(thread, now)])
        return message, True

    def messages(self, thread_id: int, viewer: str, after_seq: int = 0) -> list[Message]:
        """The thread's messages after ``after_seq``, in order.

        Raises:
            NoSuchThread: the thread is missing or not the viewer's.
        """
        with self._lock:
            thread = check_access(_get(self._db, thread_id), viewer)
            rows = self._db.execute("SELECT * FROM thread_messages WHERE thread_id = ? AND seq > ? ORDER BY seq",
                                    (thread.id, after_seq)).fetchall()
        return [_message(r) for r in rows]

    # -- proposals ------------------------------------------------------------------------

    def propose(self, thread_id: int, actor: str, terms: Terms) -> Proposal:
        """A party proposes terms in an open thread.

        Raises:
            NoSuchThread: the thread is missing or not the actor's.
            NegotiationError: ``bad_state`` (not open) or ``bad_proposal`` (bad terms, or a
                proposal is pending).
        """
        checked = check_terms(terms)
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            thread = check_access(_get(db, thread_id), actor)
            check_can_propose(thread, _pending_proposal(db, thread.id))
            proposal = self._add_proposal(db, thread, actor, checked, None, now)
        return proposal

    def counter(self, proposal_id: int, actor: str, terms: Terms) -> Proposal:
        """The other party answers a pending proposal with new terms (superseding it).

        Raises:
            NoSuchThread: the proposal is missing or its thread is not the actor's.
            NegotiationError: ``bad_state``, ``bad_proposal`` or ``not_allowed`` (own proposal).
        """
        checked = check_terms(terms)
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            old, thread = _proposal_for(db, proposal_id, actor)
            check_party(thread, actor, "answer a proposal")
            check_answer_proposal(thread, old, actor)
            db.execute("UPDATE proposals SET state = 'superseded', decided_at = ? WHERE id = ?", (now, old.id))
            proposal = self._add_proposal(db, thread, actor, checked, old.id, now)
        return proposal

    def accept_proposal(self, proposal_id: int, actor: str) -> Thread:
        """The other party accepts a pending proposal: the thread is ``agreed`` (a deal).

        A proposal the broker suggested is not a deal when one party accepts it: it becomes
        that party's proposal to the other, who accepts, counters or rejects it.

        Raises:
            NoSuchThread: the proposal is missing or its thread is not the actor's.
            NegotiationError: ``bad_state``, ``bad_proposal`` or ``not_allowed`` (own proposal,
                or the broker answering).
        """
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            proposal, thread = _proposal_for(db, proposal_id, actor)
            check_party(thread, actor, "answer a proposal")
            check_answer_proposal(thread, proposal, actor)
            if proposal.proposer_id not in (thread.owner_id, thread.requester_id):
                db.execute("UPDATE proposals SET state = 'superseded', decided_at = ? WHERE id = ?", (now, proposal.id))
                self._add_proposal(db, thread, actor, proposal.terms, proposal.id, now)
                return _require(_get(db, thread.id))
            db.execute("UPDATE proposals SET state = 'accepted', decided_at = ? WHERE id = ?", (now, proposal.id))
            db.execute("UPDATE threads SET state = 'agreed', updated_at = ? WHERE id = ?", (now, thread.id))
            updated = _require(_get(db, thread.id))
            _append(db, updated, actor, "system", "deal", {"proposal_id": proposal.id}, None, now,
                    self._recipients(updated.others(actor)))
        self._record([_event("deal", updated, actor, updated.other_party(actor), now)])
        return updated

    def reject_proposal(self, proposal_id: int, actor: str) -> Proposal:
        """The other party rejects a pending proposal (the thread stays open).

        Raises:
            NoSuchThread: the proposal is missing or its thread is not the actor's.
            NegotiationError: ``bad_state``, ``bad_proposal`` or ``not_allowed`` (own proposal).
        """
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            proposal, thread = _proposal_for(db, proposal_id, actor)
            check_party(thread, actor, "answer a proposal")
            check_answer_proposal(thread, proposal, actor)
            db.execute("UPDATE proposals SET state = 'rejected', decided_at = ? WHERE id = ?", (now, proposal.id))
            _append(db, thread, actor, "system", "proposal_rejected", {"proposal_id": proposal.id}, None, now,
                    self._recipients([proposal.proposer_id]))
            rejected = _proposal(_require_row(db, proposal.id))
        return rejected

    def proposals(self, thread_id: int, viewer: str) -> list[Proposal]:
        """The thread's proposals, oldest first.

        Raises:
            NoSuchThread: the thread is missing or not the viewer's.
        """
        with self._lock:
            thread = check_access(_get(self._db, thread_id), viewer)
            rows = self._db.execute("SELECT * FROM proposals WHERE thread_id = ? ORDER BY id",
                                    (thread.id,)).fetchall()
        return [_proposal(r) for r in rows]

    # -- ratings --------------------------------------------------------------------------

    def rate(self, thread_id: int, rater: str, stars: int, comment: str = "") -> Rating:
        """A party rates the other once, after the thread was agreed or closed.

        Raises:
            NoSuchThread: the thread is missing or not the rater's.
            NegotiationError: ``bad_state``, ``bad_rating`` or ``already_done``.
        """
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            thread = check_access(_get(db, thread_id), rater)
            check_party(thread, rater, "rate each other")
            text = check_rating(thread, stars, comment)
            rating = Rating(thread.id, rater, thread.other_party(rater), stars, text, now)
            try:
                db.execute("INSERT INTO ratings (thread_id, rater_id, rated_id, stars, comment, created_at)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           (rating.thread_id, rating.rater_id, rating.rated_id, stars, text, now))
            except IntegrityError as error:
                raise NegotiationError("already_done", "you already rated this thread") from error
        self._record([_event("rating", thread, rater, rating.rated_id, now, rating=stars)])
        return rating

    # -- views ----------------------------------------------------------------------------

    def rated_by(self, participant_id: str) -> set[int]:
        """Ids of the threads ``participant_id`` has already rated."""
        with self._lock:
            rows = self._db.execute("SELECT thread_id FROM ratings WHERE rater_id = ?", (participant_id,)).fetchall()
        return {int(r[0]) for r in rows}

    def counterpart_view(self, thread: Thread, viewer: str) -> CounterpartView:
        """What ``viewer`` may know about the other party, at the thread's current stage.

        The thread is read again, so a stale ``thread`` object reveals nothing early.

        Raises:
            NoSuchThread: the thread is missing or not the viewer's.
        """
        current = self.thread(thread.id, viewer)
        other = current.other_party(viewer)
        listing = self._listings.get_many([current.listing_id]).get(current.listing_id)
        facts = _listing_facts(listing)
        org_type, region, field, name = "enterprise", "", "", ""
        if listing is not None and other == current.owner_id:
            org_type, region, field, name = listing.owner_type, listing.region, listing.field, listing.owner_name
        contact = ""
        participant = self._accounts.participant(other)
        if participant is not None:
            org_type, name, contact = participant.org_type, participant.display_name, participant.contact
            region, field = participant.region or region, participant.field or field
        return counterpart_facts(current, viewer, org_type, region, field, name, contact, facts)

    def history(self, thread_id: int, viewer: str) -> History:
        """The thread, the counterpart view, its messages in order and its proposals.

        Raises:
            NoSuchThread: the thread is missing or not the viewer's.
        """
        with snapshot(self._db, self._lock):
            thread = self.thread(thread_id, viewer)
            return History(thread, self.counterpart_view(thread, viewer),
                           tuple(self.messages(thread_id, viewer)), tuple(self.proposals(thread_id, viewer)))

    def unanswered_before(self, cutoff: float) -> list[Thread]:
        """Requests the owner has not answered since before ``cutoff``, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM threads WHERE state = 'requested' AND answered_at IS NULL"
                                    " AND created_at < ? ORDER BY id", (cutoff,)).fetchall()
        return [_thread(r) for r in rows]

    # -- brokers and notices --------------------------------------------------------------

    def set_broker(self, thread_id: int, broker_id: str) -> Thread:
        """Make an intermediary the thread's broker; both parties are told (a ``broker_joined`` notice).

        The caller (the desk) checks that ``broker_id`` is an intermediary who took or was
        assigned the thread.

        Raises:
            NoSuchThread: for a missing thread.
            NegotiationError: ``not_allowed`` when ``broker_id`` is one of the parties.
        """
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            thread = _require(_get(db, thread_id))
            if broker_id in (thread.owner_id, thread.requester_id) or not broker_id:
                raise NegotiationError("not_allowed", "a party cannot be the thread's broker")
            if thread.broker_id == broker_id:
                return thread
            db.execute("UPDATE threads SET broker_id = ?, updated_at = ? WHERE id = ?", (broker_id, now, thread.id))
            updated = _require(_get(db, thread.id))
            _append(db, updated, broker_id, "system", "broker_joined", {}, None, now,
                    self._recipients(updated.others(broker_id)))
        return updated

    def recommend(self, thread_id: int, broker_id: str, listing: Listing, note: str = "") -> Message:
        """The thread's broker shows both parties a listing (a ``recommendation`` card).

        Raises:
            NoSuchThread: the thread is missing or ``broker_id`` is not its broker.
            NegotiationError: ``not_allowed`` for a party, ``bad_state`` for a finished thread.
        """
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            thread = check_access(_get(db, thread_id), broker_id)
            if broker_id != thread.broker_id:
                raise NegotiationError("not_allowed", "only the thread's broker recommends listings")
            check_message(thread, listing.title, "recommendation")
            data = {"listing_id": listing.id, "title": listing.title, "kind": listing.kind, "note": note[:300]}
            message = _append(db, thread, broker_id, "recommendation", listing.title, data, None, now,
                              self._recipients(thread.others(broker_id)))
        self._record([Event("recommended", broker_id, listing_id=listing.id, subject_id=p, thread_id=thread.id,
                            ts=now).validated() for p in thread.others(broker_id)])
        return message

    def notify(self, participant_ids: Sequence[str], body: str, data: dict[str, Any], key: str) -> bool:
        """Queue a notice outside any thread (an alert, a queue item, a review outcome, a handoff turn).

        A notice is a message of pseudo-thread 0 with outbox rows per recipient identity, so it
        travels like thread traffic: in order per identity, retried, handed out once. ``key`` is
        unique: a second notice with the same key stores nothing.

        Returns:
            Whether the notice was stored now (``False`` for a repeated key).
        """
        now = self._clock()
        recipients = self._recipients(dict.fromkeys(p for p in participant_ids if p))
        with transaction(self._db, self._lock) as db:
            seen = db.execute("SELECT 1 FROM thread_messages WHERE thread_id = ? AND sender_id = ? AND client_key = ?",
                              (NOTICE_THREAD, NOTICE_SENDER, key)).fetchone()
            if seen is not None:
                return False
            _store_message(db, NOTICE_THREAD, NOTICE_SENDER, "notice", body, data, key, now, recipients)
        return True

    def notices_for(self, participant_id: str, since_seq: int = 0) -> list[Message]:
        """Notices addressed to ``participant_id`` (through any of its identities), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT m.* FROM thread_messages m JOIN outbox o ON o.thread_id = m.thread_id"
                " AND o.seq = m.seq WHERE m.thread_id = ? AND o.recipient_id = ? AND m.seq > ? ORDER BY m.seq",
                (NOTICE_THREAD, participant_id, since_seq)).fetchall()
        return [_message(r) for r in rows]

    # -- outbox ---------------------------------------------------------------------------

    def route_waiting(self, participant_id: str) -> int:
        """Queue for a participant's identities every message that never reached any of them.

        Called when someone signs in for an organisation: requests and messages sent while
        nobody was signed in for it are delivered then. Returns how many rows were queued.
        """
        now = self._clock()
        identities = self._accounts.identities(participant_id)
        with transaction(self._db, self._lock) as db:
            rows = db.execute(
                "SELECT m.thread_id, m.seq FROM thread_messages m JOIN threads t ON t.id = m.thread_id"
                " WHERE (t.owner_id = ? OR t.requester_id = ?) AND m.sender_id != ?"
                " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.thread_id = m.thread_id AND o.seq = m.seq"
                " AND o.recipient_id = ?) ORDER BY m.thread_id, m.seq",
                (participant_id, participant_id, participant_id, participant_id)).fetchall()
            db.executemany("INSERT OR IGNORE INTO outbox (thread_id, seq, recipient_id, identity, channel,"
                           " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [(r["thread_id"], r["seq"], participant_id, identity, channel_of(identity), now, now)
                            for r in rows for identity in identities])
        return len(rows) * len(identities)

    def due(self, channel: str, now: float, limit: int) -> list[Delivery]:
        """The oldest pending row of each identity of a push channel, when it is due by ``now``.

        One row per identity keeps each recipient's messages in order: the next row is handed
        out once the one before it was delivered or failed for good. Rows handed out are
        leased for ``RetryPolicy.lease_seconds``, so a second dispatcher does not get them.

        Raises:
            ValueError: for an inbox channel (read those with :meth:`take_inbox`).
        """
        if channel in INBOX_CHANNELS:
            raise ValueError(f"{channel} is an inbox channel: use take_inbox")
        with transaction(self._db, self._lock) as db:
            rows = db.execute(_DELIVERY_SELECT + " WHERE o.channel = ? AND o.state = 'pending'"
                              " AND o.next_attempt_at <= ? AND o.id = (SELECT MIN(p.id) FROM outbox p"
                              " WHERE p.identity = o.identity AND p.state = 'pending') ORDER BY o.id LIMIT ?",
                              (channel, now, limit)).fetchall()
            db.executemany("UPDATE outbox SET next_attempt_at = ?, leased_until = ? WHERE id = ?",
                           [(now + self._retry.lease_seconds, now + self._retry.lease_seconds, r["id"])
                            for r in rows])
        return [_delivery(r) for r in rows]

    def mark_delivered(self, row_id: int) -> bool:
        """Record that a pending row was delivered; ``False`` when it was not pending."""
        with transaction(self._db, self._lock) as db:
            changed = db.execute("UPDATE outbox SET state = 'delivered', delivered_at = ?, leased_until = 0"
                                 " WHERE id = ? AND state = 'pending'", (self._clock(), row_id)).rowcount
        return bool(changed)

    def mark_retry(self, row_id: int, error: str, now: float) -> DeliveryState:
        """Record a transient failure; the row is due again after a capped exponential backoff.

        After ``RetryPolicy.max_attempts`` attempts the row is marked failed.
        """
        with transaction(self._db, self._lock) as db:
            state = _state(db, row_id)
            if state.state == "pending":
                attempts = state.attempts + 1
                final = attempts >= self._retry.max_attempts
                db.execute("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, state = ?,"
                           " leased_until = 0 WHERE id = ?", (attempts, now + self._retry.backoff(attempts), error[:500],
                                            "failed" if final else "pending", row_id))
                state = _state(db, row_id)
        return state

    def mark_failed(self, row_id: int, error: str) -> DeliveryState:
        """Record a permanent failure: the row is never handed out again."""
        with transaction(self._db, self._lock) as db:
            db.execute("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, leased_until = 0"
                       " WHERE id = ? AND state = 'pending'", (error[:500], row_id))
            return _state(db, row_id)

    def delivery_state(self, row_id: int) -> DeliveryState:
        """Where an outbox row stands.

        Raises:
            KeyError: for an unknown row.
        """
        with self._lock:
            return _state(self._db, row_id)

    def take_inbox(self, sender_id: str) -> list[Delivery]:
        """Hand out what waits for an identity that is present now, in (thread, seq) order, exactly once.

        The identity just wrote, so every row not yet delivered to it is handed out, whatever
        its channel: inbox rows, push rows that could not be pushed (the page was closed, the
        messenger failed) and failed ones. While a dispatcher is pushing one of its rows
        (leased), nothing is handed out, so nothing arrives twice or out of order. The rows are
        marked delivered in the transaction that reads them, so two concurrent calls never
        return the same row.
        """
        now = self._clock()
        with self._lock:
            waiting = self._db.execute("SELECT 1 FROM outbox WHERE identity = ? AND state IN ('pending', 'failed')"
                                       " LIMIT 1", (sender_id,)).fetchone()
        if waiting is None:
            return []
        with transaction(self._db, self._lock) as db:
            in_flight = db.execute("SELECT 1 FROM outbox WHERE identity = ? AND state = 'pending' AND leased_until > ?",
                                   (sender_id, now)).fetchone()
            taken = [] if in_flight else db.execute(
                _DELIVERY_SELECT + " WHERE o.identity = ? AND o.state IN ('pending', 'failed')"
                " ORDER BY o.thread_id, o.seq", (sender_id,)).fetchall()
            db.executemany("UPDATE outbox SET state = 'delivered', delivered_at = ?, leased_until = 0 WHERE id = ?",
                           [(now, r["id"]) for r in taken])
        return [_delivery(r) for r in taken]

    # -- internals ------------------------------------------------------------------------

    def _answer(self, thread_id: int, actor: str, accept: bool) -> Thread:
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            thread = check_access(_get(db, thread_id), actor)
            state = answer_state(thread, actor, accept)
            db.execute("UPDATE threads SET state = ?, answered_at = COALESCE(answered_at, ?), updated_at = ?"
                       " WHERE id = ?", (state, now, now, thread.id))
            updated = _require(_get(db, thread.id))
            _append(db, updated, actor, "system", state, {}, None, now, self._recipients([thread.requester_id]))
        events = [_event(state, updated, actor, updated.requester_id, now)]
        if thread.answered_at is None:
            events.append(_response(thread, now))
        self._record(events)
        return updated

    def _close(self, db: Connection, thread: Thread, actor: str, reason: str, now: float,
               notify: Sequence[str]) -> Thread:
        db.execute("UPDATE threads SET state = 'closed', close_reason = ?, updated_at = ? WHERE id = ?",
                   (reason, now, thread.id))
        updated = _require(_get(db, thread.id))
        _append(db, updated, actor, "system", "closed", {"reason": reason}, None, now, self._recipients(notify))
        return updated

    def _add_proposal(self, db: Connection, thread: Thread, actor: str, terms: Terms,
                      supersedes: int | None, now: float) -> Proposal:
        cursor = db.execute(
            "INSERT INTO proposals (thread_id, proposer_id, kind, price_yuan, duration_days, milestones, state,"
            " supersedes, created_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
            (thread.id, actor, terms.kind, terms.price_yuan, terms.duration_days,
             json.dumps(list(terms.milestones), ensure_ascii=False), supersedes, now))
        proposal = _proposal(_require_row(db, int(cursor.lastrowid or 0)))
        data = {"proposal_id": proposal.id, "supersedes": supersedes, "kind": terms.kind,
                "price_yuan": terms.price_yuan, "duration_days": terms.duration_days,
                "milestones": list(terms.milestones)}
        _append(db, thread, actor, "proposal", "counter" if supersedes else "proposal", data, None, now,
                self._recipients(thread.others(actor)))
        return proposal

    def _recipients(self, participant_ids: Iterable[str]) -> list[tuple[str, str]]:
        """(participant, identity) pairs to deliver to: linked identities, or an anonymous contact's own id.

        An organisation nobody has signed in for yet gets no rows; :meth:`route_waiting`
        routes what waits for it when someone signs in.
        """
        pairs: list[tuple[str, str]] = []
        for participant_id in participant_ids:
            linked = self._accounts.identities(participant_id)
            anonymous = self._accounts.acting_id(participant_id) == participant_id
            if not linked and anonymous:
                linked = [participant_id]
            pairs.extend((participant_id, identity) for identity in linked)
        return pairs

    def _record(self, events: list[Event]) -> None:
        if self._events is not None and events:
            self._events.append(events)


def _append(db: Connection, thread: Thread, sender_id: str, kind: str, body: str,
            data: dict[str, Any], client_key: str | None, now: float,
            recipients: Sequence[tuple[str, str]]) -> Message:
    """Store one message with the thread's next ``seq`` and its outbox rows; touch the thread."""
    message = _store_message(db, thread.id, sender_id, kind, body, data, client_key, now, recipients)
    db.execute("UPDATE threads SET updated_at = ? WHERE id = ?", (now, thread.id))
    return message


def _store_message(db: Connection, thread_id: int, sender_id: str, kind: str, body: str,
                   data: dict[str, Any], client_key: str | None, now: float,
                   recipients: Sequence[tuple[str, str]]) -> Message:
    """Store one message of a thread (or of the notices, thread 0) with its next ``seq`` and its outbox rows."""
    seq = int(db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM thread_messages WHERE thread_id = ?",
                         (thread_id,)).fetchone()[0])
    payload = json.dumps(data, ensure_ascii=False, sort_keys=True)
    db.execute("INSERT INTO thread_messages (thread_id, seq, sender_id, kind, body, data, client_key, created_at)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (thread_id, seq, sender_id, kind, body, payload, client_key, now))
    db.executemany("INSERT OR IGNORE INTO outbox (thread_id, seq, recipient_id, identity, channel, next_attempt_at,"
                   " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [(thread_id, seq, participant, identity, channel_of(identity), now, now)
                    for participant, identity in recipients if identity != sender_id])
    return Message(thread_id, seq, sender_id, kind, body, now, data, client_key)


def _get(db: Connection, thread_id: int) -> Thread | None:
    row = db.execute("SELECT * FROM threads WHERE id = ?", (thread_id,)).fetchone()
    return _thread(row) if row is not None else None


def _require(thread: Thread | None) -> Thread:
    if thread is None:
        raise NoSuchThread()
    return thread


def _require_row(db: Connection, proposal_id: int) -> Row:
    row = db.execute("SELECT * FROM proposals WHERE id = ?", (proposal_id,)).fetchone()
    if row is None:
        raise NoSuchThread()
    return row


def _proposal_for(db: Connection, proposal_id: int, actor: str) -> tuple[Proposal, Thread]:
    """A proposal and its thread, when the actor is a party (else the same ``NoSuchThread``)."""
    row = db.execute("SELECT * FROM proposals WHERE id = ?", (proposal_id,)).fetchone()
    if row is None:
        raise NoSuchThread()
    proposal = _proposal(row)
    return proposal, check_access(_get(db, proposal.thread_id), actor)


def _pending_proposal(db: Connection, thread_id: int) -> Proposal | None:
    row = db.execute("SELECT * FROM proposals WHERE thread_id = ? AND state = 'open' ORDER BY id DESC LIMIT 1",
                     (thread_id,)).fetchone()
    return _proposal(row) if row is not None else None


def _state(db: Connection, row_id: int) -> DeliveryState:
    row = db.execute("SELECT state, attempts, next_attempt_at, delivered_at, last_error FROM outbox WHERE id = ?",
                     (row_id,)).fetchone()
    if row is None:
        raise KeyError(row_id)
    return DeliveryState(row["state"], int(row["attempts"]), float(row["next_attempt_at"]),
                         None if row["delivered_at"] is None else float(row["delivered_at"]), row["last_error"])


def _event(kind: str, thread: Thread, user_id: str, subject_id: str, now: float, rating: int = 0,
           reason: str = "") -> Event:
    return Event(kind, user_id, listing_id=thread.listing_id, subject_id=subject_id, thread_id=thread.id,
                 rating=rating, reason=reason, ts=now).validated()


def _response(thread: Thread, now: float) -> Event:
    """The owner's first answer, with the seconds since the request."""
    return Event("response", thread.owner_id, listing_id=thread.listing_id, subject_id=thread.requester_id,
                 thread_id=thread.id, response_seconds=max(0.0, now - thread.created_at), ts=now).validated()


def _thread(row: Row) -> Thread:
    return Thread(int(row["id"]), int(row["listing_id"]), row["requester_id"], row["owner_id"], row["state"],
                  row["context"], float(row["created_at"]), float(row["updated_at"]), _float(row["owner_nda_at"]),
                  _float(row["requester_nda_at"]), _float(row["answered_at"]), row["nda_version"],
                  row["close_reason"], row["broker_id"])


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


def _message(row: Row) -> Message:
    return Message(int(row["thread_id"]), int(row["seq"]), row["sender_id"], row["kind"], row["body"],
                   float(row["created_at"]), json.loads(row["data"]), row["client_key"])


def _proposal(row: Row) -> Proposal:
    terms = Terms(row["kind"], int(row["price_yuan"]), int(row["duration_days"]),
                  tuple(json.loads(row["milestones"])))
    return Proposal(int(row["id"]), int(row["thread_id"]), row["proposer_id"], terms, row["state"],
                    float(row["created_at"]), row["supersedes"], _float(row["decided_at"]))


def _delivery(row: Row) -> Delivery:
    sender = row["sender_id"]
    role = "system" if row["kind"] in ("system", "notice") or row["owner_id"] is None else \
        "owner" if sender == row["owner_id"] else "broker" if sender == row["broker_id"] else "requester"
    return Delivery(int(row["id"]), int(row["thread_id"]), int(row["seq"]), row["identity"], row["channel"],
                    row["kind"], row["body"], json.loads(row["data"]), role, int(row["attempts"]),
                    float(row["created_at"]))


def _listing_facts(listing: Listing | None) -> ListingFacts | None:
    if listing is None:
        return None
    return ListingFacts(listing.id, listing.kind, listing.title, listing.field, listing.region, listing.maturity)
