"""What intermediaries do with desk items: review listings, broker threads, help people in person.

The desk (:mod:`matchmaker.desk`) keeps who has which item; this module carries out what
taking, assigning and finishing an item means for each kind, and tells the people concerned
through notices (``NegotiationStore.notify``), so they hear it on whatever channel they use.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from matchmaker.desk import DeskError, DeskItem, SQLiteDesk
from matchmaker.listings import Listing, ListingError, SQLiteListingStore
from matchmaker.matching import MatchService
from matchmaker.negotiation import Message, NegotiationError, Thread
from matchmaker.negotiation_store import SQLiteNegotiationStore

UNANSWERED_HOURS = 48.0
MAX_REASON_CHARS = 300
MAX_HANDOFF_CHARS = 2000


@dataclass(frozen=True)
class Outcome:
    """What an intermediary's move did: the item, and the thread or listing it touched."""

    item: DeskItem
    thread: Thread | None = None
    listing: Listing | None = None


class Brokerage:
    """Intermediaries' moves, with their effects on listings, threads and the people waiting."""

    def __init__(self, desk: SQLiteDesk, threads: SQLiteNegotiationStore, listings: SQLiteListingStore,
                 matcher: MatchService, on_publish: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.time) -> None:
        """Act on ``desk`` items; ``on_publish`` is called when a reviewed listing is published."""
        self.desk = desk
        self._threads = threads
        self._listings = listings
        self._matcher = matcher
        self._on_publish = on_publish
        self._clock = clock

    # -- what lands on the desk -------------------------------------------------------

    def listing_posted(self, listing: Listing) -> DeskItem:
        """A new listing: a ``review`` item when it waits for approval, else a ``new_listing`` one."""
        kind = "review" if listing.status == "pending" else "new_listing"
        item, _ = self.desk.enqueue(kind, str(listing.id), listing.field, listing.region, listing.language,
                                    listing.title, listing.owner_id)
        return item

    def request_person(self, requester_id: str, field: str, region: str, language: str, text: str) -> DeskItem:
        """Someone asked for a person: a ``handoff`` item (the one they have when asked again)."""
        item, _ = self.desk.enqueue("handoff", requester_id, field, region, language, text, requester_id)
        return item

    def low_match(self, requester_id: str, query: str, field: str, region: str, language: str) -> DeskItem:
        """A search whose best match scored low: a ``low_match`` item for this person and query."""
        digest = hashlib.sha256(query.strip().lower().encode()).hexdigest()[:16]
        item, _ = self.desk.enqueue("low_match", f"{requester_id}:{digest}", field, region, language, query,
                                    requester_id)
        return item

    def flag_unanswered(self, now: float, hours: float = UNANSWERED_HOURS) -> list[DeskItem]:
        """Put on the desk every request its owner has not answered for ``hours`` hours."""
        items: list[DeskItem] = []
        flagged = self.desk.open_subjects("unanswered")
        for thread in self._threads.unanswered_before(now - hours * 3600):
            if str(thread.id) in flagged:
                continue
            listing = self._listings.get_many([thread.listing_id]).get(thread.listing_id)
            field, region = (listing.field, listing.region) if listing else ("", "")
            title = listing.title if listing else f"#{thread.listing_id}"
            language = listing.language if listing else "zh"
            item, created = self.desk.enqueue("unanswered", str(thread.id), field, region, language, title,
                                              thread.requester_id)
            if created:
                items.append(item)
        return items

    # -- intermediaries' moves ----------------------------------------------------------

    def take(self, item_id: int, intermediary_id: str) -> Outcome:
        """Take an item; a thread item makes the taker its broker, a handoff starts the conversation.

        Raises:
            DeskError: see :meth:`SQLiteDesk.take`.
        """
        item = self.desk.take(item_id, intermediary_id)
        return self._start(item, intermediary_id)

    def assign(self, item_id: int, by_id: str, to: str) -> Outcome:
        """Give an item to another intermediary, who starts on it as if they had taken it.

        Raises:
            DeskError: see :meth:`SQLiteDesk.assign`.
        """
        item = self.desk.assign(item_id, by_id, to)
        return self._start(item, item.taken_by)

    def done(self, item_id: int, intermediary_id: str) -> Outcome:
        """Finish an item; a person handed over is told they are back with the assistant.

        Raises:
            DeskError: see :meth:`SQLiteDesk.done`.
        """
        item = self.desk.done(item_id, intermediary_id)
        if item.kind == "handoff":
            self._threads.notify([item.requester_id], "handoff_released", {"item": item.id},
                                 f"handoff:{item.id}:released")
        return Outcome(item)

    def approve(self, item_id: int, intermediary_id: str) -> Outcome:
        """Publish the listing of a ``review`` item: it becomes searchable and is matched for alerts.

        Raises:
            DeskError: ``bad_item`` (not a review item) and those of :meth:`SQLiteDesk.take`.
        """
        item = self._review_item(item_id, intermediary_id)
        try:
            listing = self._listings.set_status(int(item.subject), "published")
        except ListingError as error:
            raise DeskError("bad_item", str(error), item) from error
        self._matcher.publish(listing)
        self._threads.notify([listing.owner_id], "review_approved", {"listing_id": listing.id, "title": listing.title},
                             f"review:{listing.id}")
        self._on_publish()
        return Outcome(self.desk.done(item.id, intermediary_id), listing=listing)

    def reject(self, item_id: int, intermediary_id: str, reason: str) -> Outcome:
        """Reject the listing of a ``review`` item; its owner is told the reason.

        Raises:
            DeskError: ``bad_item`` (not a review item, or no reason) and those of :meth:`SQLiteDesk.take`.
        """
        text = reason.strip()[:MAX_REASON_CHARS]
        if not text:
            raise DeskError("bad_item", "a rejection needs a reason")
        item = self._review_item(item_id, intermediary_id)
        try:
            listing = self._listings.set_status(int(item.subject), "rejected", text)
        except ListingError as error:
            raise DeskError("bad_item", str(error), item) from error
        self._threads.notify([listing.owner_id], "review_rejected",
                             {"listing_id": listing.id, "title": listing.title, "reason": text},
                             f"review:{listing.id}")
        return Outcome(self.desk.done(item.id, intermediary_id), listing=listing)

    def recommend(self, thread_id: int, broker_id: str, listing_id: int) -> Message:
        """The thread's broker shows both parties a published listing.

        Raises:
            NoSuchThread: the thread is missing or not the broker's.
            NegotiationError: ``not_allowed`` (not its broker), ``no_listing`` (no such published listing).
        """
        listing = self._listings.get_many([listing_id]).get(listing_id)
        if listing is None or listing.status != "published":
            raise NegotiationError("no_listing", f"no published listing {listing_id}")
        return self._threads.recommend(thread_id, broker_id, listing)

    # -- handoff conversations ----------------------------------------------------------

    def handoff_of(self, requester_id: str) -> DeskItem | None:
        """The handoff an intermediary has taken for this person, if any."""
        return self.desk.handoff_for(requester_id)

    def to_intermediary(self, item: DeskItem, text: str, key: str) -> bool:
        """Pass what a handed-over person typed to the intermediary who has them."""
        body = text.strip()[:MAX_HANDOFF_CHARS]
        return bool(body) and self._threads.notify([item.taken_by], "handoff_message",
                                                   {"item": item.id, "text": body}, f"handoff:{item.id}:in:{key}")

    def to_person(self, item_id: int, intermediary_id: str, text: str, key: str) -> DeskItem:
        """Pass the intermediary's text to the person of a handoff item they have.

        Raises:
            DeskError: ``unknown_item``, ``not_yours`` (not a handoff taken by this intermediary).
        """
        item = self.desk.item(item_id)
        if item is None:
            raise DeskError("unknown_item", f"no desk item {item_id}")
        if item.kind != "handoff" or item.state != "taken" or item.taken_by != intermediary_id:
            raise DeskError("not_yours", f"item {item_id} is not a conversation you have", item)
        body = text.strip()[:MAX_HANDOFF_CHARS]
        if body:
            self._threads.notify([item.requester_id], "broker_message", {"item": item.id, "text": body},
                                 f"handoff:{item.id}:out:{key}")
        return item

    def _start(self, item: DeskItem, intermediary_id: str) -> Outcome:
        if item.kind == "unanswered":
            return Outcome(item, thread=self._threads.set_broker(int(item.subject), intermediary_id))
        if item.kind == "handoff":
            who = self.desk.display_name(intermediary_id)
            self._threads.notify([item.requester_id], "handoff_taken", {"item": item.id, "name": who},
                                 f"handoff:{item.id}:taken:{intermediary_id}")
        return Outcome(item)

    def _review_item(self, item_id: int, intermediary_id: str) -> DeskItem:
        """The review item, taken by the intermediary; any other item is refused before it is touched."""
        if not self.desk.is_intermediary(intermediary_id):
            raise DeskError("not_intermediary", "only intermediaries review listings")
        found = self.desk.item(item_id)
        if found is None:
            raise DeskError("unknown_item", f"no desk item {item_id}")
        if found.kind != "review":
            raise DeskError("bad_item", f"item {item_id} is not a listing to review", found)
        return self.desk.take(item_id, intermediary_id)
