"""Behaviour events: every interaction between participants and listings, as one record.

Events are facts with a unique id (a UUID chosen when the event happens), so storing the
same event twice is harmless: every backend keys rows by it, which is what makes replaying
a spool exactly-once.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

KINDS = (
    "shown",           # a match was shown (rank, query)
    "opened",          # the user looked at a match's details
    "more_like_this",  # asked for more like a match
    "not_relevant",    # marked a match not relevant (reason when given)
    "contact",         # asked to contact the owner (a thread was opened)
    "accepted",        # the owner accepted the thread
    "declined",        # the owner declined the thread
    "deal",            # the parties agreed a deal
    "closed",          # the thread closed without a deal
    "rating",          # a participant rated the other (rating 1-5)
    "response",        # an owner answered a thread (response_seconds)
    "dispute",         # a dispute was raised about a deal
    "verified",        # a participant's organisation was verified
    "disclosed",       # both parties confirmed the NDA; names and contacts were revealed
    "recommended",     # an intermediary recommended a listing to a party of a thread
)


class EventError(ValueError):
    """An event is malformed."""


@dataclass(frozen=True)
class Event:
    """One interaction.

    ``user_id`` is the participant who acted; ``subject_id`` the participant the event is
    about when that is someone else (the owner who accepted, the party being rated).
    """

    kind: str
    user_id: str
    listing_id: int = 0
    subject_id: str = ""
    thread_id: int = 0
    rank: int = 0
    query: str = ""
    reason: str = ""
    rating: int = 0
    response_seconds: float = 0.0
    ts: float = field(default_factory=time.time)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def validated(self) -> Event:
        """The event with trimmed texts, or ``EventError``."""
        if self.kind not in KINDS:
            raise EventError(f"unknown event kind {self.kind!r}")
        if not self.user_id:
            raise EventError("user_id must not be empty")
        if self.kind == "rating" and not 1 <= self.rating <= 5:
            raise EventError("a rating must be between 1 and 5")
        if len(self.event_id) != 32:
            raise EventError("event_id must be 32 hex characters")
        return replace(self, query=self.query[:300], reason=self.reason[:300])

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Rebuild an event from :meth:`to_json`'s fields (unknown keys are ignored)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})
