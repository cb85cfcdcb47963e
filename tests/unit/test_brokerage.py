"""What intermediaries' moves do: vetting listings, brokering unanswered threads, recommending, human handoff."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from matchmaker.brokerage import Brokerage
from matchmaker.desk import DeskError, DeskItem
from matchmaker.listings import Listing, ListingFilter
from matchmaker.matching import SearchRequest
from matchmaker.negotiation import NegotiationError, NoSuchThread, Terms, Thread
from matchmaker.notices import render_delivery
from matchmaker.runtime import Services
from tests.unit.fakes import make_listing, make_services

BROKER = "org:hubei-tech-transfer"
OTHER_BROKER = "org:wuhan-tech-exchange"
HEAT_LAB = "org:heat-lab"
SUN_LAB = "org:sun-lab"
REQUESTER = "user-1"
STRANGER = "user-3"
HOURS_48 = 48 * 3600
LICENCE = Terms("licence", 300_000, 180, ("pilot kiln",))
PEROVSKITE = "Perovskite tandem coating for solar glass"


@pytest.fixture()
def services(tmp_path: Path) -> Services:
    built = make_services(tmp_path)
    accounts = built.threads.accounts
    for name, identity in (("Hubei Tech Transfer", "broker-rest"), ("Wuhan Tech Exchange", "other-broker-rest")):
        invite = accounts.create_invite(name, None, role="intermediary")
        accounts.redeem(invite.code, identity)
    accounts.redeem(accounts.invite(None, HEAT_LAB), "heat-rest")
    return built


def _ids(services: Services) -> dict[str, int]:
    return {listing.source: listing.id for listing in services.listings.iter_all()}


def _pending(services: Services) -> Listing:
    listing = services.listings.add(replace(make_listing(
        "p1", "achievement", PEROVSKITE, "A perovskite tandem coating raises solar glass efficiency.",
        owner=SUN_LAB), status="pending"))
    services.threads.accounts.redeem(services.threads.accounts.invite(None, SUN_LAB), "sun-rest")
    return listing


def _found(services: Services, query: str = "perovskite tandem coating solar glass") -> list[int]:
    request = SearchRequest(query, target_kind="achievement", language="en", requester_id=REQUESTER)
    return [match.listing.id for match in services.matcher.search(request)]


def _open(services: Services, source: str = "a3", requester: str = REQUESTER) -> Thread:
    listing = services.listings.get_many([_ids(services)[source]])[_ids(services)[source]]
    thread, created = services.threads.open(listing.id, requester, listing.owner_id, "kiln heat recovery")
    assert created
    return thread


def _flag(services: Services, thread: Thread) -> DeskItem:
    items = services.brokerage.flag_unanswered(thread.created_at + HOURS_48 + 1)
    assert [item.subject for item in items] == [str(thread.id)]
    return items[0]


def _brokered(services: Services) -> Thread:
    """A request nobody answered, taken by BROKER; both parties' inboxes emptied."""
    thread = _open(services)
    outcome = services.brokerage.take(_flag(services, thread).id, BROKER)
    assert outcome.thread is not None
    for identity in ("heat-rest", REQUESTER, "broker-rest"):
        services.threads.take_inbox(identity)
    return outcome.thread


def _disclosed(services: Services, thread: Thread) -> None:
    services.threads.accept(thread.id, HEAT_LAB)
    services.threads.confirm_nda(thread.id, HEAT_LAB, services.nda.version)
    assert services.threads.confirm_nda(thread.id, REQUESTER, services.nda.version).state == "open"


def _code(error: pytest.ExceptionInfo[NegotiationError]) -> str:
    return error.value.code


def _thread_inbox(services: Services, identity: str, thread_id: int) -> list[tuple[str, str, str]]:
    return [(d.kind, d.body, d.from_role) for d in services.threads.take_inbox(identity) if d.thread_id == thread_id]


def _notices(services: Services, participant_id: str) -> list[tuple[str, dict[str, object]]]:
    return [(m.body, dict(m.data)) for m in services.threads.notices_for(participant_id)]


# -- vetting --------------------------------------------------------------------------------


def test_a_pending_listing_is_not_matched_and_becomes_a_review_item(services: Services) -> None:
    listing = _pending(services)
    assert listing.status == "pending"
    assert listing.id not in services.listings.matching_ids(ListingFilter(kind="achievement"))
    assert listing.id not in _found(services)
    item = services.brokerage.listing_posted(listing)
    assert (item.kind, item.subject, item.summary, item.requester_id) == ("review", str(listing.id), PEROVSKITE,
                                                                          SUN_LAB)
    assert (item.field, item.region, item.language, item.state) == ("new_energy", "jiangsu", "en", "open")


def test_a_published_listing_becomes_a_new_listing_item(services: Services) -> None:
    listing = services.listings.get_many([_ids(services)["a1"]])[_ids(services)["a1"]]
    item = services.brokerage.listing_posted(listing)
    assert (item.kind, item.subject) == ("new_listing", str(listing.id))


def test_approving_publishes_the_listing_and_tells_its_owner(services: Services) -> None:
    published: list[str] = []
    brokerage = Brokerage(services.brokerage.desk, services.threads, services.listings, services.matcher,
                          on_publish=lambda: published.append("published"))
    listing = _pending(services)
    item = brokerage.listing_posted(listing)
    outcome = brokerage.approve(item.id, BROKER)
    assert (outcome.item.state, outcome.item.taken_by) == ("done", BROKER)
    assert outcome.listing is not None and outcome.listing.status == "published"
    assert services.listings.get_many([listing.id])[listing.id].status == "published"
    assert listing.id in services.listings.matching_ids(ListingFilter(kind="achievement"))
    assert _found(services)[0] == listing.id
    assert published == ["published"]
    assert _notices(services, SUN_LAB) == [("review_approved", {"listing_id": listing.id, "title": PEROVSKITE})]
    assert [(d.kind, d.body) for d in services.threads.take_inbox("sun-rest")] == [("notice", "review_approved")]


def test_rejecting_needs_a_reason_and_tells_the_owner_why(services: Services) -> None:
    listing = _pending(services)
    item = services.brokerage.listing_posted(listing)
    with pytest.raises(DeskError) as no_reason:
        services.brokerage.reject(item.id, BROKER, "   ")
    assert no_reason.value.code == "bad_item"
    assert services.brokerage.desk.item(item.id) == item
    outcome = services.brokerage.reject(item.id, BROKER, "  No test data given.  ")
    assert outcome.item.state == "done"
    stored = services.listings.get_many([listing.id])[listing.id]
    assert (stored.status, stored.review_note) == ("rejected", "No test data given.")
    assert listing.id not in services.listings.matching_ids(ListingFilter())
    assert listing.id not in _found(services)
    assert _notices(services, SUN_LAB) == [
        ("review_rejected", {"listing_id": listing.id, "title": PEROVSKITE, "reason": "No test data given."})]


def test_approving_or_rejecting_a_non_review_item_is_a_bad_item(services: Services) -> None:
    listing = services.listings.get_many([_ids(services)["a1"]])[_ids(services)["a1"]]
    item = services.brokerage.listing_posted(listing)
    with pytest.raises(DeskError) as approve:
        services.brokerage.approve(item.id, BROKER)
    assert approve.value.code == "bad_item"
    with pytest.raises(DeskError) as reject:
        services.brokerage.reject(item.id, BROKER, "duplicate")
    assert reject.value.code == "bad_item"
    assert services.listings.get_many([listing.id])[listing.id].status == "published"


def test_a_refused_approve_leaves_the_item_as_it_was(services: Services) -> None:
    item = services.brokerage.request_person("user-9", "new_energy", "jiangsu", "en", "I need a person")
    with pytest.raises(DeskError) as refused:
        services.brokerage.approve(item.id, BROKER)
    assert refused.value.code == "bad_item"
    assert services.brokerage.desk.item(item.id) == item
    assert services.brokerage.handoff_of("user-9") is None


def test_a_review_item_is_approved_once(services: Services) -> None:
    item = services.brokerage.listing_posted(_pending(services))
    services.brokerage.approve(item.id, BROKER)
    with pytest.raises(DeskError) as again:
        services.brokerage.approve(item.id, OTHER_BROKER)
    assert again.value.code == "done"


def test_a_member_cannot_approve(services: Services) -> None:
    item = services.brokerage.listing_posted(_pending(services))
    with pytest.raises(DeskError) as refused:
        services.brokerage.approve(item.id, HEAT_LAB)
    assert refused.value.code == "not_intermediary"
    assert services.listings.pending_count() == 1


# -- unanswered requests and brokers ---------------------------------------------------------


def test_requests_unanswered_for_48_hours_get_one_item_each(services: Services) -> None:
    first = _open(services, "a3")
    second = _open(services, "a5", requester="user-2")
    answered = _open(services, "a1", requester="user-4")
    services.threads.accept(answered.id, "org:battery-lab")
    written = _open(services, "a2", requester="user-5")
    services.threads.post_message(written.id, "org:cathode-lab", "Which temperature?", "o-1")
    latest = max(t.created_at for t in (first, second, answered, written))
    assert services.brokerage.flag_unanswered(first.created_at + HOURS_48 - 3600) == []
    items = services.brokerage.flag_unanswered(latest + HOURS_48 + 1)
    assert [(i.kind, i.subject, i.requester_id, i.summary, i.field, i.region) for i in items] == [
        ("unanswered", str(first.id), REQUESTER, "Kiln waste heat recovery", "energy_environment", "jiangsu"),
        ("unanswered", str(second.id), "user-2", "陶瓷窑炉余热回收", "energy_environment", "jiangsu")]
    assert [i.language for i in items] == ["en", "zh"]
    assert services.brokerage.flag_unanswered(latest + HOURS_48 + 2) == []
    assert services.brokerage.desk.open_subjects("unanswered") == {str(first.id), str(second.id)}


def test_taking_an_unanswered_item_makes_the_taker_the_broker(services: Services) -> None:
    thread = _open(services)
    item = _flag(services, thread)
    outcome = services.brokerage.take(item.id, BROKER)
    assert outcome.item.taken_by == BROKER
    assert outcome.thread is not None and outcome.thread.broker_id == BROKER
    assert services.threads.thread(thread.id, BROKER).broker_id == BROKER
    joined = services.threads.messages(thread.id, REQUESTER)[-1]
    assert (joined.sender_id, joined.kind, joined.body) == (BROKER, "system", "broker_joined")
    assert _thread_inbox(services, REQUESTER, thread.id) == [("system", "broker_joined", "system")]
    assert _thread_inbox(services, "heat-rest", thread.id) == [("system", "request", "system"),
                                                               ("system", "broker_joined", "system")]
    assert _thread_inbox(services, "broker-rest", thread.id) == []
    assert thread.id in [t.id for t in services.threads.for_participant(BROKER)]


def test_the_broker_reads_and_writes_and_the_parties_see_the_broker(services: Services) -> None:
    thread = _brokered(services)
    services.threads.post_message(thread.id, BROKER, "I can help both of you with the licence.", "b-1")
    for identity in (REQUESTER, "heat-rest"):
        assert _thread_inbox(services, identity, thread.id) == [
            ("text", "I can help both of you with the licence.", "broker")]
    services.threads.post_message(thread.id, REQUESTER, "Thank you.", "r-1")
    assert _thread_inbox(services, "broker-rest", thread.id) == [("text", "Thank you.", "requester")]
    history = services.threads.history(thread.id, BROKER)
    assert [(m.sender_id, m.body) for m in history.messages] == [
        (REQUESTER, "request"), (BROKER, "broker_joined"), (BROKER, "I can help both of you with the licence."),
        (REQUESTER, "Thank you.")]


def test_the_broker_posting_is_no_answer_of_the_owner(services: Services) -> None:
    thread = _brokered(services)
    services.threads.post_message(thread.id, BROKER, "Hello", "b-1")
    assert services.threads.thread(thread.id, REQUESTER).answered_at is None


@pytest.mark.parametrize("outsider", [STRANGER, OTHER_BROKER])
def test_a_third_participant_still_sees_no_thread(services: Services, outsider: str) -> None:
    thread = _brokered(services)
    reads = (lambda: services.threads.thread(thread.id, outsider),
             lambda: services.threads.messages(thread.id, outsider),
             lambda: services.threads.history(thread.id, outsider),
             lambda: services.threads.post_message(thread.id, outsider, "hi", "x-1"))
    for read in reads:
        with pytest.raises(NoSuchThread):
            read()


def test_the_broker_may_not_answer_the_request(services: Services) -> None:
    thread = _brokered(services)
    for move in (services.threads.accept, services.threads.decline):
        with pytest.raises(NegotiationError) as refused:
            move(thread.id, BROKER)
        assert _code(refused) == "not_allowed"
    assert services.threads.thread(thread.id, REQUESTER).state == "requested"


def test_the_broker_may_not_confirm_the_nda_withdraw_or_rate(services: Services) -> None:
    thread = _brokered(services)
    services.threads.accept(thread.id, HEAT_LAB)
    with pytest.raises(NegotiationError) as nda:
        services.threads.confirm_nda(thread.id, BROKER, services.nda.version)
    assert _code(nda) == "not_allowed"
    with pytest.raises(NegotiationError) as withdraw:
        services.threads.withdraw(thread.id, BROKER)
    assert _code(withdraw) == "not_allowed"
    assert services.threads.thread(thread.id, REQUESTER).state == "accepted"
    services.threads.withdraw(thread.id, REQUESTER)
    with pytest.raises(NegotiationError) as rate:
        services.threads.rate(thread.id, BROKER, 5)
    assert _code(rate) == "not_allowed"
    assert services.threads.rate(thread.id, HEAT_LAB, 3).rated_id == REQUESTER


def test_the_broker_may_not_answer_a_partys_proposal(services: Services) -> None:
    thread = _brokered(services)
    _disclosed(services, thread)
    proposal = services.threads.propose(thread.id, REQUESTER, LICENCE)
    moves = (lambda: services.threads.accept_proposal(proposal.id, BROKER),
             lambda: services.threads.reject_proposal(proposal.id, BROKER),
             lambda: services.threads.counter(proposal.id, BROKER, LICENCE))
    for move in moves:
        with pytest.raises(NegotiationError) as refused:
            move()
        assert _code(refused) == "not_allowed"
    assert [p.state for p in services.threads.proposals(thread.id, REQUESTER)] == ["open"]


def test_a_broker_proposal_accepted_by_one_party_becomes_that_partys_proposal(services: Services) -> None:
    thread = _brokered(services)
    _disclosed(services, thread)
    suggested = services.threads.propose(thread.id, BROKER, LICENCE)
    assert suggested.proposer_id == BROKER
    assert services.threads.accept_proposal(suggested.id, REQUESTER).state == "open"
    proposals = services.threads.proposals(thread.id, HEAT_LAB)
    assert [(p.proposer_id, p.state, p.supersedes, p.terms) for p in proposals] == [
        (BROKER, "superseded", None, LICENCE), (REQUESTER, "open", suggested.id, LICENCE)]
    with pytest.raises(NegotiationError) as own:
        services.threads.accept_proposal(proposals[1].id, REQUESTER)
    assert _code(own) == "not_allowed"
    assert services.threads.accept_proposal(proposals[1].id, HEAT_LAB).state == "agreed"


def test_a_former_brokers_proposal_is_no_deal_when_one_party_accepts_it(services: Services) -> None:
    thread = _open(services)
    item = _flag(services, thread)
    services.brokerage.take(item.id, BROKER)
    _disclosed(services, thread)
    suggested = services.threads.propose(thread.id, BROKER, LICENCE)
    reassigned = services.brokerage.assign(item.id, BROKER, "Wuhan Tech Exchange")
    assert reassigned.thread is not None and reassigned.thread.broker_id == OTHER_BROKER
    assert services.threads.accept_proposal(suggested.id, REQUESTER).state == "open"


def test_the_broker_recommends_a_published_listing_to_both_parties(services: Services) -> None:
    thread = _brokered(services)
    a1 = _ids(services)["a1"]
    message = services.brokerage.recommend(thread.id, BROKER, a1)
    title = "Sulfide solid electrolyte for lithium batteries"
    assert (message.kind, message.body, message.sender_id) == ("recommendation", title, BROKER)
    assert dict(message.data) == {"listing_id": a1, "title": title, "kind": "achievement", "note": ""}
    for identity in (REQUESTER, "heat-rest"):
        deliveries = [d for d in services.threads.take_inbox(identity) if d.thread_id == thread.id]
        assert [(d.kind, d.from_role, d.data["listing_id"]) for d in deliveries] == [("recommendation", "broker", a1)]
        rendered = render_delivery(deliveries[0], "en")
        assert rendered[0]["text"] == f"📌 Thread #{thread.id} · the broker recommends #{a1} “{title}”"
    events = [e for e in services.events.for_user(BROKER) if e.kind == "recommended"]
    assert sorted((e.listing_id, e.subject_id, e.thread_id) for e in events) == [
        (a1, HEAT_LAB, thread.id), (a1, REQUESTER, thread.id)]


def test_only_the_broker_recommends(services: Services) -> None:
    thread = _brokered(services)
    a1 = _ids(services)["a1"]
    with pytest.raises(NegotiationError) as party:
        services.brokerage.recommend(thread.id, REQUESTER, a1)
    assert _code(party) == "not_allowed"
    with pytest.raises(NoSuchThread):
        services.brokerage.recommend(thread.id, OTHER_BROKER, a1)
    assert [e for e in services.events.for_user(REQUESTER) if e.kind == "recommended"] == []


def test_only_published_listings_are_recommended(services: Services) -> None:
    thread = _brokered(services)
    pending = _pending(services)
    for listing_id in (pending.id, 999_999):
        with pytest.raises(NegotiationError) as refused:
            services.brokerage.recommend(thread.id, BROKER, listing_id)
        assert _code(refused) == "no_listing"
    assert [m.kind for m in services.threads.messages(thread.id, BROKER)] == ["system", "system"]


# -- other desk items -------------------------------------------------------------------------


def test_a_weak_search_is_one_item_per_person_and_query(services: Services) -> None:
    first = services.brokerage.low_match(REQUESTER, "Graphene heat sink", "new_energy", "jiangsu", "en")
    again = services.brokerage.low_match(REQUESTER, "  graphene HEAT sink ", "new_energy", "jiangsu", "en")
    other = services.brokerage.low_match("user-2", "Graphene heat sink", "new_energy", "jiangsu", "en")
    assert first == again
    assert (first.kind, first.summary, first.requester_id) == ("low_match", "Graphene heat sink", REQUESTER)
    assert first.subject.startswith(f"{REQUESTER}:") and other.id != first.id


# -- handoff -----------------------------------------------------------------------------------


def _handoff(services: Services) -> DeskItem:
    item = services.brokerage.request_person("user-9", "new_energy", "jiangsu", "en", "I need help with a licence")
    assert (item.kind, item.subject, item.requester_id, item.state) == ("handoff", "user-9", "user-9", "open")
    return item


def test_a_person_asking_again_has_the_same_handoff(services: Services) -> None:
    item = _handoff(services)
    assert services.brokerage.request_person("user-9", "", "", "en", "hello?") == item


def test_a_handoff_starts_when_an_intermediary_takes_it(services: Services) -> None:
    item = _handoff(services)
    assert services.brokerage.handoff_of("user-9") is None
    assert services.threads.notices_for("user-9") == []
    outcome = services.brokerage.take(item.id, BROKER)
    assert (outcome.thread, outcome.listing) == (None, None)
    assert services.brokerage.handoff_of("user-9") == outcome.item
    assert _notices(services, "user-9") == [("handoff_taken", {"item": item.id, "name": "Hubei Tech Transfer"})]
    services.brokerage.take(item.id, BROKER)
    assert len(services.threads.notices_for("user-9")) == 1


def test_what_the_person_types_goes_to_the_intermediary_once_per_key(services: Services) -> None:
    item = services.brokerage.take(_handoff(services).id, BROKER).item
    assert services.brokerage.to_intermediary(item, "  Can you call me?  ", "turn-1") is True
    assert services.brokerage.to_intermediary(item, "Can you call me?", "turn-1") is False
    assert services.brokerage.to_intermediary(item, "   ", "turn-2") is False
    assert services.brokerage.to_intermediary(item, "Can you call me?", "turn-3") is True
    messages = [data for body, data in _notices(services, BROKER) if body == "handoff_message"]
    assert messages == [{"item": item.id, "text": "Can you call me?"}] * 2
    assert [body for body, _ in _notices(services, OTHER_BROKER) if body == "handoff_message"] == []


def test_only_the_intermediary_who_has_the_person_answers_them(services: Services) -> None:
    item = services.brokerage.take(_handoff(services).id, BROKER).item
    with pytest.raises(DeskError) as other:
        services.brokerage.to_person(item.id, OTHER_BROKER, "Hello", "b-1")
    assert other.value.code == "not_yours"
    with pytest.raises(DeskError) as unknown:
        services.brokerage.to_person(999, BROKER, "Hello", "b-1")
    assert unknown.value.code == "unknown_item"
    assert services.brokerage.to_person(item.id, BROKER, " Hello, I am Li. ", "b-1") == item
    assert _notices(services, "user-9")[-1] == ("broker_message", {"item": item.id, "text": "Hello, I am Li."})


def test_finishing_a_handoff_gives_the_person_back_to_the_assistant(services: Services) -> None:
    item = services.brokerage.take(_handoff(services).id, BROKER).item
    outcome = services.brokerage.done(item.id, BROKER)
    assert outcome.item.state == "done"
    assert services.brokerage.handoff_of("user-9") is None
    assert [body for body, _ in _notices(services, "user-9")] == ["handoff_taken", "handoff_released"]
    assert _notices(services, "user-9")[-1] == ("handoff_released", {"item": item.id})
    assert [(d.kind, d.body) for d in services.threads.take_inbox("user-9")] == [
        ("notice", "handoff_taken"), ("notice", "handoff_released")]
    with pytest.raises(DeskError) as after:
        services.brokerage.to_person(item.id, BROKER, "one more thing", "b-2")
    assert after.value.code == "not_yours"


def test_an_assigned_handoff_is_announced_with_the_new_intermediarys_name(services: Services) -> None:
    item = _handoff(services)
    outcome = services.brokerage.assign(item.id, BROKER, "wuhan tech exchange")
    assert outcome.item.taken_by == OTHER_BROKER
    assert _notices(services, "user-9") == [("handoff_taken", {"item": item.id, "name": "Wuhan Tech Exchange"})]
    assert services.brokerage.handoff_of("user-9") == outcome.item
