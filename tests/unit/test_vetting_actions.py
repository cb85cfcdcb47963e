"""Vetting, brokers and the desk in chat: the action code, grammar and real stores, with review of new listings on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from actions.conversation import ActionFallback
from actions.matching import ActionHandleDescription
from actions.negotiation import ActionCommand
from actions.services import set_services
from matchmaker.listings import ListingFilter
from matchmaker.matching import SearchRequest
from matchmaker.runtime import Services
from tests.unit.fakes import make_services
from tests.unit.test_actions import run, tracker

POST = "post an achievement: a sodium-ion battery electrolyte additive that stops capacity fade in winter"


@pytest.fixture()
def reviewed(tmp_path: Path) -> Iterator[Services]:
    built = make_services(tmp_path, {"MATCHMAKER_REVIEW_NEW_LISTINGS": "1"})
    set_services(built)
    yield built
    set_services(None)


def _texts(messages: list[dict[str, object]]) -> str:
    return "\n".join(str(m.get("text") or "") for m in messages)


def _broker(services: Services, sender: str, name: str) -> None:
    code = services.threads.accounts.invite(name, None, role="intermediary")
    services.threads.accounts.redeem(code, sender)


def _found(services: Services, owner: str) -> list[int]:
    request = SearchRequest(query="sodium-ion battery electrolyte additive capacity fade", target_kind="achievement",
                            language="en", requester_id="someone-else")
    return [m.listing.id for m in services.matcher.search(request, limit=10) if m.listing.owner_id == owner]


def test_a_held_listing_is_searchable_only_after_approval_and_its_owner_is_told(reviewed: Services) -> None:
    _broker(reviewed, "broker-1", "Hubei Technology Transfer Centre")
    _, posted = run(ActionCommand(), tracker(POST, "command", sender="lab-1"))
    assert "reviews new listings first" in _texts(posted)
    assert _found(reviewed, "lab-1") == []
    _, queue = run(ActionCommand(), tracker("queue", "command", sender="broker-1"))
    item = int(_texts(queue).split("#")[1].split(" ")[0])
    assert "[review]" in _texts(queue)
    _, approved = run(ActionCommand(), tracker(f"approve {item}", "command", sender="broker-1"))
    assert "is published and searchable now" in _texts(approved)
    assert len(_found(reviewed, "lab-1")) == 1
    told = [d.body for d in reviewed.threads.take_inbox("lab-1")]
    assert told == ["review_approved"]
    _, again = run(ActionCommand(), tracker(f"approve {item}", "command", sender="broker-1"))
    assert f"Item #{item} is already done" in _texts(again)


def test_a_rejected_listing_stays_hidden_and_the_reason_reaches_its_owner(reviewed: Services) -> None:
    _broker(reviewed, "broker-2", "Jiangsu Innovation Brokers")
    run(ActionCommand(), tracker(POST, "command", sender="lab-2"))
    item = reviewed.brokerage.desk.queue(reviewed.threads.accounts.acting_id("broker-2"))[0].id
    _, no_reason = run(ActionCommand(), tracker(f"reject {item}", "command", sender="broker-2"))
    assert "a rejection needs a reason" in _texts(no_reason)
    _, rejected = run(ActionCommand(), tracker(f"reject {item}: the description names no test results",
                                               "command", sender="broker-2"))
    assert "was rejected" in _texts(rejected)
    assert _found(reviewed, "lab-2") == []
    notice = reviewed.threads.take_inbox("lab-2")
    assert [(d.body, d.data["reason"]) for d in notice] == [("review_rejected", "the description names no test results")]


def test_members_cannot_approve_and_nobody_approves_an_unknown_item(reviewed: Services) -> None:
    run(ActionCommand(), tracker(POST, "command", sender="lab-3"))
    _, member = run(ActionCommand(), tracker("approve 1", "command", sender="lab-3"))
    assert "Only the platform's technology brokers" in _texts(member)
    _broker(reviewed, "broker-3", "Anhui Tech Market")
    _, unknown = run(ActionCommand(), tracker("通过 424242", "command", sender="broker-3"))
    assert "没有事项#424242" in _texts(unknown)
    assert _found(reviewed, "lab-3") == []


def test_a_broker_joins_an_unanswered_thread_sees_both_credits_writes_and_recommends(reviewed: Services) -> None:
    listing = reviewed.listings.get_many(reviewed.listings.matching_ids(ListingFilter(kind="achievement")))
    first, other = sorted(listing.values(), key=lambda item: item.id)[:2]
    thread, _ = reviewed.threads.open(first.id, "enterprise-9", first.owner_id, "battery cathode")
    _broker(reviewed, "broker-9", "Zhejiang Tech Brokers")
    _broker(reviewed, "broker-10", "Shanghai Tech Brokers")
    [item] = reviewed.brokerage.flag_unanswered(time.time() + 49 * 3600)
    _, taken = run(ActionCommand(), tracker(f"take {item.id}", "command", sender="broker-9"))
    assert f"You are now the broker of thread #{thread.id}" in _texts(taken)
    _, entered = run(ActionCommand(), tracker(f"open thread {thread.id}", "command", sender="broker-9"))
    assert "as its broker" in _texts(entered) and "no credit score yet" in _texts(entered)
    assert "enterprise-9" in _texts(entered)
    events, _ = run(ActionFallback(), tracker("Both of you, shall we talk on Friday?", "nlu_fallback",
                                              slots={"active_thread": str(thread.id)}, sender="broker-9"))
    rows = reviewed.threads.take_inbox("enterprise-9")
    assert [(d.body, d.from_role) for d in rows][-1] == ("Both of you, shall we talk on Friday?", "broker")
    _, recommended = run(ActionCommand(), tracker(f"recommend {other.id} to thread {thread.id}", "command",
                                                  sender="broker-9"))
    assert f"Listing #{other.id} was recommended in thread #{thread.id}" in _texts(recommended)
    assert [d.kind for d in reviewed.threads.take_inbox("enterprise-9")] == ["recommendation"]
    _, stranger = run(ActionCommand(), tracker(f"open thread {thread.id}", "command", sender="broker-10"))
    assert f"There is no thread #{thread.id} for you" in _texts(stranger)
    _, party = run(ActionCommand(), tracker(f"recommend {other.id} to thread {thread.id}", "command",
                                            sender="enterprise-9"))
    assert f"Only the other party can do that in thread #{thread.id}" in _texts(party)


def test_only_a_search_nothing_is_about_goes_on_the_desk(reviewed: Services) -> None:
    run(ActionHandleDescription(), tracker("We need a low-temperature lithium battery cathode", "describe_demand",
                                           sender="good-1"))
    assert reviewed.brokerage.desk.open_subjects("low_match") == set()
    run(ActionHandleDescription(), tracker("We need a choir singer for our spring gala", "describe_demand",
                                           sender="odd-1"))
    [subject] = reviewed.brokerage.desk.open_subjects("low_match")
    assert subject.startswith("odd-1:")
