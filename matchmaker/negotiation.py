"""Negotiation threads: records, states, who may make which move, staged disclosure, the NDA.

A thread links the requester (who said "contact 2") and the owner of the matched listing::

    requested -> accepted | declined
    accepted -> nda_pending (one party confirmed the NDA) -> open (both did: disclosure)
    open -> agreed (a proposal was accepted)
    requested | accepted | nda_pending | open -> closed (withdrawn, or expired)

The functions here are pure: they take a thread and an acting participant id and either
return the thread's next state or raise :class:`NegotiationError` with a ``code`` that the
actions turn into a polite reply. The store (``matchmaker.negotiation_store``) loads, checks
with these functions and writes in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from matchmaker.delivery import Outbox

STATES = ("requested", "accepted", "declined", "nda_pending", "open", "agreed", "closed")
ACTIVE_STATES = ("requested", "accepted", "nda_pending", "open")
MESSAGE_STATES = ACTIVE_STATES
RATING_STATES = ("agreed", "closed")
MESSAGE_KINDS = ("text", "proposal", "system")
PROPOSAL_KINDS = ("licence", "transfer", "joint_development", "commissioned_rnd")
PROPOSAL_STATES = ("open", "superseded", "accepted", "rejected")
MAX_BODY_CHARS = 2000
MAX_CLIENT_KEY_CHARS = 100
MAX_CONTEXT_CHARS = 500
MAX_MILESTONES = 10
MAX_MILESTONE_CHARS = 200
MAX_DURATION_DAYS = 3650
MAX_COMMENT_CHARS = 500
CODES = ("no_such_thread", "not_allowed", "bad_state", "bad_proposal", "bad_message", "bad_rating",
         "already_done", "self_contact", "nda_mismatch")


class NegotiationError(ValueError):
    """A move or read was refused; ``code`` says why (one of :data:`CODES`)."""

    def __init__(self, code: str, message: str) -> None:
        """Record the code next to the human-readable message."""
        super().__init__(message)
        self.code = code


class NoSuchThread(NegotiationError):  # noqa: N818 - the name the actions and tests use
    """No thread with that id that the actor may see (missing and foreign look the same)."""

    def __init__(self) -> None:
        """One message whatever the cause, so the error says nothing about other threads."""
        super().__init__("no_such_thread", "no such thread")


@dataclass(frozen=True)
class Thread:
    """A negotiation between the requester and the owner of the matched listing.

    ``requester_id`` and ``owner_id`` are participant ids, for routing and access checks;
    what a party may be shown about the other is :class:`CounterpartView`.
    """

    id: int
    listing_id: int
    requester_id: str
    owner_id: str
    state: str
    context: str
    created_at: float
    updated_at: float
    owner_nda_at: float | None = None
    requester_nda_at: float | None = None
    answered_at: float | None = None
    nda_version: str = ""
    close_reason: str = ""
    broker_id: str = ""

    def other_party(self, participant_id: str) -> str:
        """The participant on the other side from ``participant_id``."""
        return self.owner_id if participant_id == self.requester_id else self.requester_id

    def others(self, participant_id: str) -> list[str]:
        """Everyone in the thread but ``participant_id`` (the parties and the broker, if any)."""
        return [p for p in (self.owner_id, self.requester_id, self.broker_id) if p and p != participant_id]

    def role_of(self, participant_id: str) -> str:
        """``owner``, ``requester`` or ``broker`` (``""`` for someone who is none of them)."""
        if participant_id == self.owner_id:
            return "owner"
        if participant_id == self.requester_id:
            return "requester"
        return "broker" if participant_id and participant_id == self.broker_id else ""

    @property
    def disclosed(self) -> bool:
        """Whether names and contact details are shown (both confirmed the NDA)."""
        return self.state in ("open", "agreed") or (self.owner_nda_at is not None
                                                    and self.requester_nda_at is not None)


@dataclass(frozen=True)
class Message:
    """One entry of a thread, numbered ``seq`` 1, 2, ... within it."""

    thread_id: int
    seq: int
    sender_id: str
    kind: str
    body: str
    created_at: float
    data: Mapping[str, Any]
    client_key: str | None = None


@dataclass(frozen=True)
class Terms:
    """What a proposal offers."""

    kind: str
    price_yuan: int
    duration_days: int
    milestones: tuple[str, ...] = ()


@dataclass(frozen=True)
class Proposal:
    """Terms proposed in a thread; a counter-proposal supersedes the one it answers."""

    id: int
    thread_id: int
    proposer_id: str
    terms: Terms
    state: str
    created_at: float
    supersedes: int | None = None
    decided_at: float | None = None


@dataclass(frozen=True)
class Rating:
    """One party's rating of the other after a thread ended."""

    thread_id: int
    rater_id: str
    rated_id: str
    stars: int
    comment: str
    created_at: float


@dataclass(frozen=True)
class ListingFacts:
    """The public part of a listing (no owner name)."""

    id: int
    kind: str
    title: str
    field: str
    region: str
    maturity: int


@dataclass(frozen=True)
class CounterpartView:
    """What a party may know about the other side of a thread.

    Before disclosure: role, organisation type, region, field and the listing's public part
    ("an enterprise in Jiangsu, new energy"). Once the thread is open: also the
    organisation's name and contact details (``None`` before).
    """

    role: str
    org_type: str
    region: str
    field: str
    listing: ListingFacts | None
    disclosed: bool
    name: str | None = None
    contact: str | None = None


@dataclass(frozen=True)
class History:
    """A thread as one party sees it."""

    thread: Thread
    counterpart: CounterpartView
    messages: tuple[Message, ...]
    proposals: tuple[Proposal, ...]


@dataclass(frozen=True)
class Nda:
    """The standard platform NDA, in each language, with its version."""

    version: str
    texts: Mapping[str, str]

    def text(self, language: str) -> str:
        """The NDA in ``language`` (English when that language is missing)."""
        return self.texts.get(language) or self.texts["en"]


class NegotiationStore(Outbox, Protocol):
    """Threads, their messages, proposals and ratings, and the outbox of their deliveries.

    Every read and move takes the acting participant id; a thread the actor is not a party
    of raises :class:`NoSuchThread`, exactly as a missing one does.
    """

    def open(self, listing_id: int, requester_id: str, owner_id: str, context: str) -> tuple[Thread, bool]:
        """Open (or find) the requester's thread on a listing; ``True`` when created now."""
        ...

    def thread(self, thread_id: int, viewer: str) -> Thread:
        """One thread."""
        ...

    def for_participant(self, participant_id: str) -> list[Thread]:
        """The participant's threads, most recent first."""
        ...

    def accept(self, thread_id: int, actor: str) -> Thread:
        """The owner accepts the request."""
        ...

    def decline(self, thread_id: int, actor: str) -> Thread:
        """The owner declines the request."""
        ...

    def confirm_nda(self, thread_id: int, actor: str, nda_version: str) -> Thread:
        """A party confirms the NDA; the second confirmation discloses."""
        ...

    def withdraw(self, thread_id: int, actor: str) -> Thread:
        """A party closes an active thread."""
        ...

    def expire_stale(self, now: float, days: float) -> list[Thread]:
        """Close active threads without activity for ``days`` days."""
        ...

    def post_message(self, thread_id: int, sender_pid: str, body: str, client_key: str) -> tuple[Message, bool]:
        """Store a text message once per client key; ``True`` when stored now."""
        ...

    def messages(self, thread_id: int, viewer: str, after_seq: int = 0) -> list[Message]:
        """Messages after ``after_seq``, in order."""
        ...

    def propose(self, thread_id: int, actor: str, terms: Terms) -> Proposal:
        """Propose terms in an open thread."""
        ...

    def counter(self, proposal_id: int, actor: str, terms: Terms) -> Proposal:
        """Answer the other party's proposal with new terms."""
        ...

    def accept_proposal(self, proposal_id: int, actor: str) -> Thread:
        """Accept the other party's proposal: a deal."""
        ...

    def reject_proposal(self, proposal_id: int, actor: str) -> Proposal:
        """Reject the other party's proposal."""
        ...

    def proposals(self, thread_id: int, viewer: str) -> list[Proposal]:
        """The thread's proposals, oldest first."""
        ...

    def rate(self, thread_id: int, rater: str, stars: int, comment: str = "") -> Rating:
        """Rate the other party once, after the thread ended."""
        ...

    def counterpart_view(self, thread: Thread, viewer: str) -> CounterpartView:
        """What the viewer may know about the other party now."""
        ...

    def history(self, thread_id: int, viewer: str) -> History:
        """Thread, counterpart view, messages and proposals."""
        ...


def load_nda(path: Path) -> Nda:
    """Read the NDA file (``data/nda.yml``: ``version`` and ``text: {zh, en}``).

    Raises:
        NegotiationError: ``bad_state`` when the file lacks a version or the English text.
    """
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    texts = {str(k): str(v).strip() for k, v in (raw.get("text") or {}).items()}
    version = str(raw.get("version") or "")
    if not version or not texts.get("en"):
        raise NegotiationError("bad_state", f"{path.name} needs a version and an English text")
    return Nda(version, texts)


def parties(thread: Thread) -> frozenset[str]:
    """The participants who may read and act in ``thread`` (the one place deciding access).

    The two parties, and the intermediary assigned to the thread as its broker.
    """
    return frozenset(p for p in (thread.requester_id, thread.owner_id, thread.broker_id) if p)


def check_party(thread: Thread, actor: str, move: str) -> None:
    """Moves only the two parties make (NDA, withdrawing, rating) refuse the broker.

    Raises:
        NegotiationError: ``not_allowed`` for the broker.
    """
    if actor not in (thread.owner_id, thread.requester_id):
        raise NegotiationError("not_allowed", f"only the parties {move}")


def can_access(thread: Thread, participant_id: str) -> bool:
    """Whether ``participant_id`` may see ``thread`` at all."""
    return participant_id in parties(thread)


def check_access(thread: Thread | None, participant_id: str) -> Thread:
    """``thread`` when the actor may see it.

    Raises:
        NoSuchThread: when there is no thread or the actor is not a party of it.
    """
    if thread is None or not can_access(thread, participant_id):
        raise NoSuchThread()
    return thread


def _require_state(thread: Thread, allowed: tuple[str, ...], move: str) -> None:
    if thread.state not in allowed:
        raise NegotiationError("bad_state", f"cannot {move} a thread that is {thread.state}")


def answer_state(thread: Thread, actor: str, accept: bool) -> str:
    """The state after the owner accepts (``accept``) or declines the request.

    Raises:
        NegotiationError: ``not_allowed`` (not the owner) or ``bad_state`` (not requested).
    """
    if actor != thread.owner_id:
        raise NegotiationError("not_allowed", "only the listing's owner answers a request")
    _require_state(thread, ("requested",), "answer")
    return "accepted" if accept else "declined"


def nda_state(thread: Thread, actor: str, version: str) -> str:
    """The state after ``actor`` confirms NDA ``version``: ``nda_pending`` or ``open``.

    Raises:
        NegotiationError: ``bad_state`` (not accepted yet, or past the NDA),
            ``already_done`` (this party confirmed before), ``nda_mismatch`` (the other party
            confirmed another version).
    """
    _require_state(thread, ("accepted", "nda_pending"), "confirm the NDA of")
    if not version:
        raise NegotiationError("nda_mismatch", "the NDA version confirmed is needed")
    mine = thread.owner_nda_at if actor == thread.owner_id else thread.requester_nda_at
    theirs = thread.requester_nda_at if actor == thread.owner_id else thread.owner_nda_at
    if mine is not None:
        raise NegotiationError("already_done", "you already confirmed the NDA")
    if theirs is not None and thread.nda_version != version:
        raise NegotiationError("nda_mismatch", f"the other party confirmed NDA {thread.nda_version}")
    return "open" if theirs is not None else "nda_pending"


def withdraw_state(thread: Thread) -> str:
    """``closed``, when the thread is still active.

    Raises:
        NegotiationError: ``bad_state`` once the thread was declined, agreed or closed.
    """
    _require_state(thread, ACTIVE_STATES, "withdraw from")
    return "closed"


def check_message(thread: Thread, body: str, client_key: str) -> str:
    """The trimmed body of a message that may be posted now.

    While the thread is ``requested`` both parties may write: the requester a note, the
    owner a question (which counts as the owner's answer for response times).

    Raises:
        NegotiationError: ``bad_message`` (empty, over 2,000 characters, bad client key) or
            ``bad_state`` (the thread was declined, agreed or closed).
    """
    text = body.strip()
    if not text or len(text) > MAX_BODY_CHARS:
        raise NegotiationError("bad_message", f"a message must be 1-{MAX_BODY_CHARS} characters")
    if not client_key or len(client_key) > MAX_CLIENT_KEY_CHARS:
        raise NegotiationError("bad_message", f"client_key must be 1-{MAX_CLIENT_KEY_CHARS} characters")
    _require_state(thread, MESSAGE_STATES, "write in")
    return text


def check_terms(terms: Terms) -> Terms:
    """``terms`` with trimmed milestones, when they make sense.

    Raises:
        NegotiationError: ``bad_proposal`` naming the part that is wrong.
    """
    milestones = tuple(m.strip() for m in terms.milestones if m.strip())
    if terms.kind not in PROPOSAL_KINDS:
        raise NegotiationError("bad_proposal", f"kind must be one of {PROPOSAL_KINDS}")
    if isinstance(terms.price_yuan, bool) or not isinstance(terms.price_yuan, int) or terms.price_yuan < 0:
        raise NegotiationError("bad_proposal", "price_yuan must be a whole number of yuan, not negative")
    if not isinstance(terms.duration_days, int) or not 1 <= terms.duration_days <= MAX_DURATION_DAYS:
        raise NegotiationError("bad_proposal", f"duration_days must be 1-{MAX_DURATION_DAYS}")
    if len(milestones) > MAX_MILESTONES or any(len(m) > MAX_MILESTONE_CHARS for m in milestones):
        raise NegotiationError("bad_proposal", f"at most {MAX_MILESTONES} milestones of {MAX_MILESTONE_CHARS} "
                                               "characters")
    return Terms(terms.kind, terms.price_yuan, terms.duration_days, milestones)


def check_can_propose(thread: Thread, open_proposal: Proposal | None) -> None:
    """Whether a new proposal may be made in ``thread``.

    Raises:
        NegotiationError: ``bad_state`` (not open) or ``bad_proposal`` (one is pending:
            counter, accept or reject it).
    """
    _require_state(thread, ("open",), "propose in")
    if open_proposal is not None:
        raise NegotiationError("bad_proposal", "a proposal is pending: counter, accept or reject it")


def check_answer_proposal(thread: Thread, proposal: Proposal, actor: str) -> None:
    """Whether ``actor`` may counter, accept or reject ``proposal``.

    Raises:
        NegotiationError: ``bad_state`` (thread not open), ``bad_proposal`` (the proposal
            was already answered) or ``not_allowed`` (it is the actor's own proposal).
    """
    _require_state(thread, ("open",), "answer a proposal in")
    if proposal.state != "open":
        raise NegotiationError("bad_proposal", f"this proposal is {proposal.state}")
    if proposal.proposer_id == actor:
        raise NegotiationError("not_allowed", "you cannot answer your own proposal")


def check_rating(thread: Thread, stars: int, comment: str) -> str:
    """The trimmed comment of a rating that may be given now.

    Raises:
        NegotiationError: ``bad_state`` (thread not agreed or closed) or ``bad_rating``.
    """
    _require_state(thread, RATING_STATES, "rate")
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise NegotiationError("bad_rating", "a rating is 1-5 stars")
    text = comment.strip()
    if len(text) > MAX_COMMENT_CHARS:
        raise NegotiationError("bad_rating", f"a comment is at most {MAX_COMMENT_CHARS} characters")
    return text


def check_open(requester_id: str, owner_id: str) -> None:
    """Whether a thread may be opened between these two.

    Raises:
        NegotiationError: ``self_contact`` (the same participant, or an empty id).
    """
    if not requester_id or not owner_id or requester_id == owner_id:
        raise NegotiationError("self_contact", "cannot open a thread with yourself")


def counterpart_facts(thread: Thread, viewer: str, org_type: str, region: str, field: str,
                      name: str, contact: str, listing: ListingFacts | None) -> CounterpartView:
    """What ``viewer`` may be shown about the other party, by the thread's stage."""
    role = thread.role_of(thread.other_party(viewer))
    if not thread.disclosed:
        return CounterpartView(role, org_type, region, field, listing, False)
    return CounterpartView(role, org_type, region, field, listing, True, name, contact)
