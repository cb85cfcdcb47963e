"""Actions, driven with tracker fixtures and a fresh dispatcher, against tiny real stores."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Iterator

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionFallback, ActionReplySmalltalk
from actions.feedback import ActionMoreLikeThis, ActionNotRelevant
from actions.listings import ActionPostListing
from actions.matching import ActionContactMatch, ActionHandleDescription, ActionRefineSearch, ActionShowMore
from actions.negotiation import ActionCommand
from actions.services import set_services
from actions.threads import ActionListThreads
from matchmaker.runtime import Services
from nlu.lexicon import Lexicon
from tests.unit.fakes import ROOT, make_services

LEXICON = Lexicon.load(ROOT / "data" / "lexicon.yml")


@pytest.fixture()
def services(tmp_path: Path) -> Iterator[Services]:
    built = make_services(tmp_path)
    set_services(built)
    yield built
    set_services(None)


def tracker(text: str, intent: str, slots: dict[str, Any] | None = None, sender: str = "user-1",
            channel: str = "rest") -> Tracker:
    entities = [m.as_rasa(text) for m in LEXICON.extract(text)]
    message = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": entities}
    events = [{"event": "user", "text": text, "parse_data": message, "input_channel": channel}]
    return Tracker(sender, slots or {}, message, events, False, None, {}, "action_listen")


def run(action: Any, track: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, {}))
    return events, dispatcher.messages


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_description_states_understanding_and_shows_five_cards(services: Services) -> None:
    events, messages = run(ActionHandleDescription(), tracker(
        "We need to recover waste heat from our ceramic kilns in Jiangsu", "describe_demand"))
    assert messages[0]["text"].startswith("I understood:") and "Jiangsu" in messages[0]["text"]
    cards = [m for m in messages if m.get("buttons") and "Why:" in (m.get("text") or "")]
    assert cards and "Kiln waste heat recovery" in cards[0]["text"]
    assert cards[0]["buttons"][0]["payload"] == '/contact{"match_rank": "1"}'
    slots = slots_of(events)
    assert slots["language"] == "en" and slots["search"]["target_kind"] == "achievement"
    assert slots["shown_ids"]


def test_web_channel_gets_a_carousel(services: Services) -> None:
    _, messages = run(ActionHandleDescription(), tracker("lithium battery cathode", "describe_demand",
                                                         channel="socketio"))
    carousel = [m for m in messages if m.get("attachment")]
    assert carousel[0]["attachment"]["payload"]["template_type"] == "generic"
    assert carousel[0]["attachment"]["payload"]["elements"][0]["buttons"][0]["title"].startswith("Contact")


def test_chinese_description_gets_chinese_reply(services: Services) -> None:
    events, messages = run(ActionHandleDescription(), tracker("我们需要锂电池正极材料，要求低温性能好", "describe_demand"))
    assert messages[0]["text"].startswith("我理解的是")
    assert any("锂电池正极材料" in (m.get("text") or "") for m in messages)
    assert slots_of(events)["language"] == "zh"


def test_researcher_gets_demands(services: Services) -> None:
    _, messages = run(ActionHandleDescription(), tracker(
        "Our lab developed a lithium battery that is safe in winter", "describe_achievement", sender="org:x"))
    assert any("Battery safety at low temperature" in (m.get("text") or "") for m in messages)


def first_search(services: Services, text: str = "lithium battery") -> dict[str, Any]:
    events, _ = run(ActionHandleDescription(), tracker(text, "describe_demand"))
    return slots_of(events)


def test_refine_keeps_the_search_and_filters(services: Services) -> None:
    slots = first_search(services)
    events, messages = run(ActionRefineSearch(), tracker("only in Zhejiang", "refine", slots))
    cards = [m["text"] for m in messages if "Why:" in (m.get("text") or "")]
    assert cards and all("Zhejiang" in card for card in cards)
    assert slots_of(events)["search"]["regions"] == ["zhejiang"]


def test_refine_without_search_or_condition_answers_politely(services: Services) -> None:
    _, messages = run(ActionRefineSearch(), tracker("only in Zhejiang", "refine"))
    assert "no search yet" in messages[0]["text"]
    slots = first_search(services)
    events, messages = run(ActionRefineSearch(), tracker("hmm something", "refine", slots))
    assert "could not find a condition" in messages[0]["text"] and slots_of(events) == {"language": "en"}


def test_more_pages_then_says_it_is_all(services: Services) -> None:
    slots = first_search(services, "lithium battery kiln heat")
    shown = len(slots["shown_ids"])
    events, messages = run(ActionShowMore(), tracker("more", "more", slots))
    more_slots = slots_of(events)
    assert len(more_slots["shown_ids"]) >= shown
    events, messages = run(ActionShowMore(), tracker("more", "more", {**slots, **more_slots}))
    assert "That is all" in messages[-1]["text"]


def test_contact_opens_one_thread_seen_by_both(services: Services) -> None:
    slots = first_search(services, "waste heat kilns")
    _, messages = run(ActionContactMatch(), tracker("contact the first one", "contact", slots))
    assert "opened" in messages[0]["text"]
    _, messages = run(ActionContactMatch(), tracker("contact the first one", "contact", slots))
    assert "already have thread" in messages[0]["text"]
    _, messages = run(ActionListThreads(), tracker("my threads", "my_threads"))
    assert "Kiln waste heat recovery" in messages[0]["text"]
    _, impostor = run(ActionListThreads(), tracker("my threads", "my_threads", sender="org:heat-lab"))
    assert "no negotiation threads" in impostor[0]["text"]
    code = services.threads.accounts.invite(None, "org:heat-lab")
    _, signed_in = run(ActionCommand(), tracker(f"login {code}", "command", sender="owner-1"))
    assert "Signed in" in signed_in[0]["text"] and "1 thread" in signed_in[0]["text"]
    _, owner_view = run(ActionListThreads(), tracker("my threads", "my_threads", sender="owner-1"))
    texts = [m["text"] for m in owner_view]
    assert texts[0] == "You have 1 new thread message:" and "New contact request" in texts[1]
    assert "Kiln waste heat recovery" in texts[2] and "an enterprise" in texts[2]
    assert not any("user-1" in text for text in texts)
    _, again = run(ActionListThreads(), tracker("my threads", "my_threads", sender="owner-1"))
    assert "Kiln waste heat recovery" in again[0]["text"]


def test_contact_needs_a_valid_rank(services: Services) -> None:
    slots = first_search(services)
    _, messages = run(ActionContactMatch(), tracker("contact number 9", "contact", slots))
    assert "Which match?" in messages[0]["text"]
    assert services.threads.for_participant("user-1") == []


def test_post_in_one_message_is_searchable_right_away(services: Services) -> None:
    events, messages = run(ActionPostListing(), tracker(
        "post a demand: we need an anticorrosion coating for steel pipes in seawater, Zhejiang", "post_listing",
        sender="factory-9"))
    assert "Published your demand" in messages[0]["text"] and slots_of(events)["post_pending"] is None
    _, found = run(ActionHandleDescription(), tracker(
        "Our lab has a graphene anticorrosion coating for steel in seawater", "describe_achievement"))
    assert any("anticorrosion coating" in (m.get("text") or "") for m in found)


def test_post_in_two_steps(services: Services) -> None:
    events, messages = run(ActionPostListing(), tracker("我要发布一项成果", "post_listing"))
    assert slots_of(events)["post_pending"] == "achievement" and "请用一条消息描述" in messages[0]["text"]
    events, messages = run(ActionHandleDescription(), tracker(
        "我们研发了一种石墨烯防腐涂层，已完成中试", "describe_achievement", {"post_pending": "achievement"}))
    assert "已发布您的成果" in messages[0]["text"]
    assert services.listings.by_owner("user-1")[0].maturity == 6


def test_smalltalk_and_fallback_follow_the_language(services: Services) -> None:
    _, messages = run(ActionReplySmalltalk(), tracker("你好", "greet"))
    assert messages[0]["text"].startswith("您好") and messages[0]["buttons"]
    _, messages = run(ActionReplySmalltalk(), tracker("tell me a joke", "out_of_scope"))
    assert "outside what I can help with" in messages[0]["text"]
    _, messages = run(ActionFallback(), tracker("asdfgh qwerty", "nlu_fallback"))
    assert messages[0]["text"].startswith("Sorry")


def test_a_failing_action_apologises_and_changes_nothing(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("index is gone")

    monkeypatch.setattr(services.matcher, "search", broken)
    events, messages = run(ActionHandleDescription(), tracker("我们需要锂电池", "describe_demand"))
    assert "抱歉" in messages[-1]["text"] and slots_of(events) == {"language": "zh"}


def test_more_like_this_searches_from_the_chosen_match_and_records_it(services: Services) -> None:
    slots = first_search(services, "waste heat kilns")
    first_id = slots["shown_ids"][0]
    events, messages = run(ActionMoreLikeThis(), tracker("more like number 1", "more_like_this", slots))
    assert messages[0]["text"].startswith("Listings like")
    assert slots_of(events)["search"]["query"].startswith("Kiln waste heat recovery")
    kinds = [(e.kind, e.listing_id) for e in services.events.for_user("user-1")]
    assert ("more_like_this", first_id) in kinds and kinds.count(("shown", first_id)) >= 1


def test_not_relevant_keeps_the_reason_and_asks_when_the_rank_is_unclear(services: Services) -> None:
    slots = first_search(services, "waste heat kilns")
    _, messages = run(ActionNotRelevant(), tracker("not relevant 1 because wrong region", "not_relevant", slots))
    assert "not relevant" in messages[0]["text"]
    recorded = [e for e in services.events.for_user("user-1") if e.kind == "not_relevant"]
    assert len(recorded) == 1 and recorded[0].reason == "wrong region"
    _, messages = run(ActionNotRelevant(), tracker("that one is not relevant", "not_relevant", slots))
    assert "Which match?" in messages[0]["text"]
    assert len([e for e in services.events.for_user("user-1") if e.kind == "not_relevant"]) == 1
