"""Negotiation threads on both backends: the full path, every refused move, privacy, messages, outbox, delivery."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from behaviour.events import Event
from behaviour.store import SQLiteEventStore
from matchmaker.accounts import SQLiteAccountStore
from matchmaker.delivery import (
    Delivery,
    Dispatcher,
    DispatchReport,
    PermanentChannelError,
    RetryPolicy,
    TransientChannelError,
    channel_of,
)
from matchmaker.listings import Listing, SQLiteListingStore
from matchmaker.negotiation import NegotiationError, NoSuchThread, Terms, Thread
from matchmaker.negotiation_store import SQLiteNegotiationStore
from tests.contract.conftest import Backend
from tests.unit.fakes import Clock

OWNER = "org:heat-lab--demo-"
REQUESTER = "user-1"
OWNER_IDENTITIES = ["owner-rest", "tg:100", "wx:openid-7", "web:s-1"]
NDA = "platform-nda-2025.1"
LICENCE = Terms("licence", 500_000, 365, ("pilot line", "mass production"))
COUNTER = Terms("licence", 650_000, 365, ("pilot line",))



@dataclass
class World:
    """One database with a listing, its owner (four identities) and an event store."""

    backend: Backend
    store: SQLiteNegotiationStore
    accounts: SQLiteAccountStore
    events: SQLiteEventStore
    clock: Clock
    listing_ids: list[int]

    def open(self, which: int = 0, requester: str = REQUESTER) -> Thread:
        thread, created = self.store.open(self.listing_ids[which], requester, OWNER, "kiln heat recovery")
        assert created
        return thread

    def to_open_state(self, which: int = 0) -> Thread:
        thread = self.open(which)
        self.store.accept(thread.id, OWNER)
        self.store.confirm_nda(thread.id, OWNER, NDA)
        return self.store.confirm_nda(thread.id, REQUESTER, NDA)


def _listing(source: str, title: str) -> Listing:
    return Listing(id=0, kind="achievement", title=title, text="Waste heat recovery for ceramic kilns.",
                   owner_id=OWNER, owner_name="Heat Lab (demo)", owner_type="institute", listing_type="paper",
                   region="jiangsu", field="new_energy", maturity=6, language="en", source=source)


@pytest.fixture()
def world(backend: Backend, tmp_path: Path) -> World:
    connection = backend.connect()
    listings = SQLiteListingStore(connection)
    ids = [listings.add(_listing("t:1", "Kiln heat exchanger")).id, listings.add(_listing("t:2", "Heat pump")).id]
    clock = Clock()
    accounts = SQLiteAccountStore(connection, clock)
    for identity in OWNER_IDENTITIES:
        accounts.redeem(accounts.invite(None, OWNER), identity)
    accounts.set_contact(OWNER, "tto@heatlab.example")
    events = SQLiteEventStore(tmp_path / "events.db")
    store = SQLiteNegotiationStore(connection, accounts=accounts, events=events, listings=listings, clock=clock)
    return World(backend, store, accounts, events, clock, ids)


def _events(world: World) -> list[Event]:
    return sorted(world.events.scan(), key=lambda e: (e.ts, e.kind))


def test_a_thread_goes_from_request_to_deal_and_ratings(world: World) -> None:
    store, clock = world.store, world.clock
    thread = world.open()
    assert (thread.state, thread.requester_id, thread.owner_id) == ("requested", REQUESTER, OWNER)
    note, _ = store.post_message(thread.id, REQUESTER, "We fire 40 kilns a day.", "turn-1")
    clock.now += 3600
    assert store.accept(thread.id, OWNER).state == "accepted"
    clock.now += 10
    assert store.confirm_nda(thread.id, OWNER, NDA).state == "nda_pending"
    before = store.counterpart_view(thread, REQUESTER)
    assert (before.disclosed, before.name, before.contact) == (False, None, None)
    assert (before.org_type, before.region, before.field) == ("institute", "jiangsu", "new_energy")
    assert before.listing is not None and before.listing.title == "Kiln heat exchanger"
    clock.now += 10
    assert store.confirm_nda(thread.id, REQUESTER, NDA).state == "open"
    after = store.counterpart_view(thread, REQUESTER)
    assert (after.disclosed, after.name, after.contact) == (True, "Heat Lab (demo)", "tto@heatlab.example")
    store.post_message(thread.id, OWNER, "Can you share kiln temperatures?", "o-1")
    store.post_message(thread.id, REQUESTER, "Up to 1250 C.", "turn-2")
    first = store.propose(thread.id, REQUESTER, LICENCE)
    counter = store.counter(first.id, OWNER, COUNTER)
    clock.now += 10
    assert store.accept_proposal(counter.id, REQUESTER).state == "agreed"
    clock.now += 10
    assert store.rate(thread.id, OWNER, 4).rated_id == REQUESTER
    clock.now += 10
    assert store.rate(thread.id, REQUESTER, 5, "fast and clear").rated_id == OWNER

    history = store.history(thread.id, OWNER)
    assert history.thread.state == "agreed"
    assert [m.seq for m in history.messages] == list(range(1, len(history.messages) + 1))
    assert [(m.kind, m.body) for m in history.messages] == [
        ("system", "request"), ("text", "We fire 40 kilns a day."), ("system", "accepted"),
        ("system", "nda_confirmed"), ("system", "disclosed"), ("text", "Can you share kiln temperatures?"),
        ("text", "Up to 1250 C."), ("proposal", "proposal"), ("proposal", "counter"), ("system", "deal")]
    assert note.seq == 2
    assert [(p.state, p.terms.price_yuan, p.supersedes) for p in history.proposals] == [
        ("superseded", 500_000, None), ("accepted", 650_000, first.id)]
    assert history.proposals[0].terms.milestones == ("pilot line", "mass production")

    recorded = [(e.kind, e.user_id, e.subject_id, e.thread_id, e.listing_id) for e in _events(world)]
    listing = world.listing_ids[0]
    assert recorded == [("accepted", OWNER, REQUESTER, thread.id, listing),
                        ("response", OWNER, REQUESTER, thread.id, listing),
                        ("disclosed", REQUESTER, OWNER, thread.id, listing),
                        ("deal", REQUESTER, OWNER, thread.id, listing),
                        ("rating", OWNER, REQUESTER, thread.id, listing),
                        ("rating", REQUESTER, OWNER, thread.id, listing)]
    by_kind = {e.kind + e.user_id: e for e in _events(world)}
    assert by_kind["response" + OWNER].response_seconds == pytest.approx(3600)
    assert (by_kind["rating" + REQUESTER].rating, by_kind["rating" + OWNER].rating) == (5, 4)


def test_the_owner_sees_the_requester_only_as_an_enterprise_until_disclosure(world: World) -> None:
    thread = world.open()
    world.store.accept(thread.id, OWNER)
    view = world.store.counterpart_view(thread, OWNER)
    assert (view.role, view.org_type, view.disclosed, view.name, view.contact) == (
        "requester", "enterprise", False, None, None)
    opened = world.to_open_state(1)
    assert world.store.counterpart_view(opened, OWNER).disclosed


def test_a_stale_thread_object_reveals_nothing_early(world: World) -> None:
    thread = world.open()
    forged = Thread(thread.id, thread.listing_id, thread.requester_id, thread.owner_id, "open", "", 0.0, 0.0)
    assert world.store.counterpart_view(forged, REQUESTER).name is None


def _refused(code: str, move: Callable[[], Any]) -> None:
    with pytest.raises(NegotiationError) as refused:
        move()
    assert refused.value.code == code, str(refused.value)


def test_answers_and_the_nda_are_refused_out_of_turn(world: World) -> None:
    store = world.store
    thread = world.open()
    _refused("not_allowed", lambda: store.accept(thread.id, REQUESTER))
    _refused("not_allowed", lambda: store.decline(thread.id, REQUESTER))
    _refused("bad_state", lambda: store.confirm_nda(thread.id, REQUESTER, NDA))
    _refused("bad_state", lambda: store.confirm_nda(thread.id, OWNER, NDA))
    _refused("bad_state", lambda: store.propose(thread.id, REQUESTER, LICENCE))
    _refused("bad_state", lambda: store.rate(thread.id, REQUESTER, 5))
    store.accept(thread.id, OWNER)
    _refused("bad_state", lambda: store.accept(thread.id, OWNER))
    _refused("bad_state", lambda: store.decline(thread.id, OWNER))
    store.confirm_nda(thread.id, REQUESTER, NDA)
    _refused("already_done", lambda: store.confirm_nda(thread.id, REQUESTER, NDA))
    _refused("nda_mismatch", lambda: store.confirm_nda(thread.id, OWNER, "platform-nda-1999"))
    _refused("bad_state", lambda: store.propose(thread.id, OWNER, LICENCE))
    assert store.thread(thread.id, OWNER).state == "nda_pending"


def test_proposals_are_refused_when_malformed_pending_or_ones_own(world: World) -> None:
    store = world.store
    thread = world.to_open_state()
    for bad in [Terms("gift", 1, 30), Terms("licence", -1, 30), Terms("licence", 1, 0),
                Terms("transfer", 1, 30, tuple(f"m{i}" for i in range(11))), Terms("transfer", 1, 30, ("x" * 201,))]:
        _refused("bad_proposal", functools.partial(store.propose, thread.id, OWNER, bad))
    proposal = store.propose(thread.id, OWNER, LICENCE)
    _refused("bad_proposal", lambda: store.propose(thread.id, REQUESTER, COUNTER))
    _refused("not_allowed", lambda: store.accept_proposal(proposal.id, OWNER))
    _refused("not_allowed", lambda: store.reject_proposal(proposal.id, OWNER))
    _refused("not_allowed", lambda: store.counter(proposal.id, OWNER, COUNTER))
    counter = store.counter(proposal.id, REQUESTER, COUNTER)
    _refused("bad_proposal", lambda: store.accept_proposal(proposal.id, REQUESTER))
    assert store.reject_proposal(counter.id, OWNER).state == "rejected"
    _refused("bad_proposal", lambda: store.accept_proposal(counter.id, OWNER))
    assert store.thread(thread.id, OWNER).state == "open"
    again = store.propose(thread.id, REQUESTER, COUNTER)
    store.accept_proposal(again.id, OWNER)
    _refused("bad_state", lambda: store.propose(thread.id, OWNER, LICENCE))
    _refused("bad_state", lambda: store.withdraw(thread.id, OWNER))
    _refused("bad_state", lambda: store.post_message(thread.id, OWNER, "one more thing", "late"))


def test_messages_and_ratings_are_refused_when_malformed_or_late(world: World) -> None:
    store = world.store
    thread = world.open()
    _refused("bad_message", lambda: store.post_message(thread.id, REQUESTER, "   ", "k"))
    _refused("bad_message", lambda: store.post_message(thread.id, REQUESTER, "x" * 2001, "k"))
    _refused("bad_message", lambda: store.post_message(thread.id, REQUESTER, "hello", ""))
    assert store.post_message(thread.id, REQUESTER, "x" * 2000, "k")[1]
    assert store.decline(thread.id, OWNER).state == "declined"
    _refused("bad_state", lambda: store.post_message(thread.id, REQUESTER, "why?", "k2"))
    _refused("bad_state", lambda: store.withdraw(thread.id, REQUESTER))
    _refused("bad_state", lambda: store.rate(thread.id, REQUESTER, 1))
    other = world.open(1)
    assert store.withdraw(other.id, REQUESTER).state == "closed"
    _refused("bad_rating", lambda: store.rate(other.id, OWNER, 6))
    _refused("bad_rating", lambda: store.rate(other.id, OWNER, 0))
    _refused("bad_rating", lambda: store.rate(other.id, OWNER, 3, "x" * 501))
    store.rate(other.id, OWNER, 2)
    _refused("already_done", lambda: store.rate(other.id, OWNER, 3))
    _refused("self_contact", lambda: store.open(world.listing_ids[0], OWNER, OWNER, ""))
    closed = [e for e in _events(world) if e.kind == "closed"]
    assert [(e.user_id, e.subject_id, e.reason) for e in closed] == [(REQUESTER, OWNER, "withdrawn")]


def test_a_third_participant_cannot_tell_a_foreign_thread_from_a_missing_one(world: World) -> None:
    store = world.store
    thread = world.to_open_state()
    proposal = store.propose(thread.id, OWNER, LICENCE)
    done = world.to_open_state(1)
    store.accept_proposal(store.propose(done.id, OWNER, LICENCE).id, REQUESTER)
    before = store.history(thread.id, OWNER)
    intruder = "mallory"
    moves: dict[str, Callable[[int, int], Any]] = {
        "thread": lambda t, p: store.thread(t, intruder),
        "messages": lambda t, p: store.messages(t, intruder),
        "proposals": lambda t, p: store.proposals(t, intruder),
        "history": lambda t, p: store.history(t, intruder),
        "counterpart_view": lambda t, p: store.counterpart_view(
            Thread(t, 0, REQUESTER, intruder, "open", "", 0.0, 0.0), intruder),
        "post_message": lambda t, p: store.post_message(t, intruder, "hi", "k"),
        "accept": lambda t, p: store.accept(t, intruder),
        "decline": lambda t, p: store.decline(t, intruder),
        "confirm_nda": lambda t, p: store.confirm_nda(t, intruder, NDA),
        "withdraw": lambda t, p: store.withdraw(t, intruder),
        "propose": lambda t, p: store.propose(t, intruder, LICENCE),
        "counter": lambda t, p: store.counter(p, intruder, COUNTER),
        "accept_proposal": lambda t, p: store.accept_proposal(p, intruder),
        "reject_proposal": lambda t, p: store.reject_proposal(p, intruder),
        "rate": lambda t, p: store.rate(done.id if t == thread.id else t, intruder, 5),
    }
    for name, move in moves.items():
        with pytest.raises(NoSuchThread) as foreign:
            move(thread.id, proposal.id)
        with pytest.raises(NoSuchThread) as missing:
            move(9999, 9999)
        assert (foreign.value.code, str(foreign.value)) == (missing.value.code, str(missing.value)), name
    assert store.for_participant(intruder) == []
    after = store.history(thread.id, OWNER)
    assert (after.thread.state, len(after.messages), after.proposals) == (
        before.thread.state, len(before.messages), before.proposals)


def test_a_retried_turn_stores_its_message_once(world: World) -> None:
    store = world.store
    thread = world.open()
    world.store.take_inbox("owner-rest")
    first, created = store.post_message(thread.id, REQUESTER, "Budget is 2 million yuan.", "turn-7")
    again, created_again = store.post_message(thread.id, REQUESTER, "Budget is 2 million yuan.", "turn-7")
    assert created and not created_again and again == first
    other, created_other = store.post_message(thread.id, OWNER, "Noted.", "turn-7")
    assert created_other and other.seq == first.seq + 1
    assert [m.seq for m in store.messages(thread.id, REQUESTER)] == [1, 2, 3]
    assert [d.seq for d in store.take_inbox("owner-rest")] == [first.seq]


def test_every_message_has_one_outbox_row_per_recipient_identity(world: World) -> None:
    store = world.store
    thread = world.open()
    store.post_message(thread.id, REQUESTER, "hello", "k1")
    now = world.clock.now
    pushed: dict[str, list[tuple[str, int]]] = {}
    for name in ("telegram", "wechat", "web"):
        while rows := store.due(name, now, 10):
            assert len(rows) == 1
            pushed.setdefault(name, []).append((rows[0].identity, rows[0].seq))
            assert store.mark_delivered(rows[0].id)
    assert pushed == {"telegram": [("tg:100", 1), ("tg:100", 2)], "wechat": [("wx:openid-7", 1), ("wx:openid-7", 2)],
                      "web": [("web:s-1", 1), ("web:s-1", 2)]}
    inbox = store.take_inbox("owner-rest")
    assert [(d.seq, d.kind, d.body, d.from_role, d.channel) for d in inbox] == [
        (1, "system", "request", "system", "rest"), (2, "text", "hello", "requester", "rest")]
    assert store.take_inbox(REQUESTER) == []
    store.post_message(thread.id, OWNER, "hi back", "o1")
    assert [(d.body, d.from_role) for d in store.take_inbox(REQUESTER)] == [("hi back", "owner")]
    assert store.take_inbox("owner-rest") == []
    assert [channel_of(i) for i in ("tg:1", "wx:a", "web:b", "abc", "")] == [
        "telegram", "wechat", "web", "rest", "rest"]


def test_the_inbox_is_handed_out_once_in_thread_and_seq_order(world: World) -> None:
    store = world.store
    first, second = world.open(0), world.open(1)
    for i in range(3):
        store.post_message(second.id, REQUESTER, f"b{i}", f"b{i}")
        store.post_message(first.id, REQUESTER, f"a{i}", f"a{i}")
    taken = store.take_inbox("owner-rest")
    assert [(d.thread_id, d.seq) for d in taken] == sorted((d.thread_id, d.seq) for d in taken)
    assert [d.body for d in taken] == ["request", "a0", "a1", "a2", "request", "b0", "b1", "b2"]
    assert store.take_inbox("owner-rest") == []
    with pytest.raises(ValueError):
        store.due("rest", world.clock.now, 10)


def test_concurrent_inbox_reads_never_hand_out_a_row_twice(world: World) -> None:
    thread = world.open()
    for i in range(40):
        world.store.post_message(thread.id, REQUESTER, f"m{i}", f"k{i}")
    readers = [SQLiteNegotiationStore(world.backend.connect()) for _ in range(4)]
    taken: list[list[Delivery]] = [[] for _ in readers]
    barrier = threading.Barrier(len(readers))

    def read(index: int) -> None:
        barrier.wait()
        for _ in range(5):
            taken[index].extend(readers[index].take_inbox("owner-rest"))

    workers = [threading.Thread(target=read, args=(i,)) for i in range(len(readers))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seqs = sorted(d.seq for part in taken for d in part)
    assert seqs == list(range(1, 42))


class FlakyChannel:
    """A push channel that fails ``failures`` times (transiently or for good), then delivers."""

    def __init__(self, name: str, failures: int, permanent: bool = False) -> None:
        self.name = name
        self.failures = failures
        self.permanent = permanent
        self.pushed: list[tuple[int, str]] = []
        self.delivered: list[str] = []

    def push(self, identity: str, delivery: Delivery) -> None:
        self.pushed.append((delivery.id, delivery.key))
        if len(self.pushed) <= self.failures:
            if self.permanent:
                raise PermanentChannelError("bot was blocked")
            raise TransientChannelError("429 too many requests")
        self.delivered.append(delivery.key)


def test_the_dispatcher_retries_with_backoff_and_never_doubles(world: World) -> None:
    world.open()
    telegram = FlakyChannel("telegram", failures=2)
    dispatcher = Dispatcher(world.store, [telegram])
    now = world.clock.now
    first = dispatcher.deliver_once(now)
    assert (first.delivered, first.retried, first.failed) == (0, 1, 0)
    row = telegram.pushed[0][0]
    state = world.store.delivery_state(row)
    assert (state.state, state.attempts, state.next_attempt_at, state.last_error) == (
        "pending", 1, now + 5, "429 too many requests")
    assert dispatcher.deliver_once(now + 4.9).retried == 0
    assert dispatcher.deliver_once(now + 5).retried == 1
    assert world.store.delivery_state(row).next_attempt_at == now + 5 + 10
    assert dispatcher.deliver_once(now + 14).delivered == 0
    assert dispatcher.deliver_once(now + 15).delivered == 1
    assert dispatcher.deliver_once(now + 10_000).delivered == 0
    assert telegram.pushed == [(row, "1:1:tg:100")] * 3 and telegram.delivered == ["1:1:tg:100"]
    assert world.store.delivery_state(row).state == "delivered"
    assert not world.store.mark_delivered(row)


def test_a_recipient_gets_its_messages_in_order_even_when_one_push_fails(world: World) -> None:
    thread = world.open()
    for n in range(3):
        world.store.post_message(thread.id, REQUESTER, f"m{n}", f"k{n}")
    telegram = FlakyChannel("telegram", failures=1)
    dispatcher = Dispatcher(world.store, [telegram])
    now = world.clock.now
    assert dispatcher.deliver_once(now) == DispatchReport(delivered=0, retried=1, failed=0)
    assert dispatcher.deliver_once(now + 5) == DispatchReport(delivered=4, retried=0, failed=0)
    assert telegram.delivered == [f"{thread.id}:{seq}:tg:100" for seq in (1, 2, 3, 4)]


def test_a_permanent_failure_is_not_retried(world: World) -> None:
    world.open()
    wechat = FlakyChannel("wechat", failures=1, permanent=True)
    report = Dispatcher(world.store, [wechat]).deliver_once(world.clock.now)
    assert (report.delivered, report.failed) == (0, 1)
    assert Dispatcher(world.store, [wechat]).deliver_once(world.clock.now + 86400).failed == 0
    assert len(wechat.pushed) == 1


def test_backoff_is_capped_and_attempts_are_bounded(world: World) -> None:
    policy = RetryPolicy(base_seconds=5, cap_seconds=20, max_attempts=3)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 10)] == [5, 10, 20, 20, 20]
    store = SQLiteNegotiationStore(world.backend.connect(), accounts=world.accounts, clock=world.clock,
                                   retry=policy)
    world.open()
    row = store.due("telegram", world.clock.now, 1)[0].id
    states = [store.mark_retry(row, "timeout", world.clock.now).state for _ in range(3)]
    assert states == ["pending", "pending", "failed"]
    assert store.due("telegram", world.clock.now + 10_000, 10) == []


def test_a_leased_row_is_not_handed_to_a_second_dispatcher(world: World) -> None:
    world.open()
    now = world.clock.now
    assert len(world.store.due("web", now, 10)) == 1
    assert world.store.due("web", now + 1, 10) == []
    assert len(world.store.due("web", now + 61, 10)) == 1
    with pytest.raises(ValueError):
        Dispatcher(world.store, [FlakyChannel("rest", 0)])


def test_stale_threads_expire_and_both_parties_are_told(world: World) -> None:
    store, clock = world.store, world.clock
    stale = world.open(0)
    store.take_inbox("owner-rest")
    clock.now += 6 * 86400
    fresh = world.open(1)
    closed = store.expire_stale(clock.now + 1.5 * 86400, days=7)
    assert [t.id for t in closed] == [stale.id]
    assert (store.thread(stale.id, OWNER).state, store.thread(fresh.id, OWNER).state) == ("closed", "requested")
    assert store.thread(stale.id, OWNER).close_reason == "expired"
    assert [(d.thread_id, d.body) for d in store.take_inbox(REQUESTER)] == [(stale.id, "closed")]
    assert [(d.thread_id, d.body) for d in store.take_inbox("owner-rest")] == [
        (stale.id, "closed"), (fresh.id, "request")]
    assert [(e.kind, e.reason) for e in _events(world)] == [("closed", "expired")]
    assert store.rate(stale.id, REQUESTER, 1).stars == 1


def test_the_owners_first_message_is_their_response(world: World) -> None:
    thread = world.open()
    world.clock.now += 120
    world.store.post_message(thread.id, OWNER, "Which kiln type?", "o1")
    world.store.post_message(thread.id, OWNER, "And which fuel?", "o2")
    world.store.accept(thread.id, OWNER)
    responses = [e for e in _events(world) if e.kind == "response"]
    assert [e.response_seconds for e in responses] == [pytest.approx(120)]
