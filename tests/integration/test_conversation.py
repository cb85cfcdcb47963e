"""Conversations over Rasa's REST channel against the real servers."""

from __future__ import annotations

import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.stack import Stack, post_json
from tests.conftest import Chat, make_chat

pytestmark = pytest.mark.integration


def texts(reply: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in reply)


def cards(reply: list[dict]) -> list[dict]:
    return [m for m in reply if m.get("buttons") and "/contact" in m["buttons"][0]["payload"]]


def test_english_problem_gets_understanding_and_five_cards(chat: Chat) -> None:
    reply = chat("We need a technology to diagnose sepsis early in ICU patients, located in Shanghai")
    assert "I understood" in texts(reply) and "Shanghai" in texts(reply)
    assert len(cards(reply)) == 5
    assert all("Why:" in c["text"] and "score" in c["text"] for c in cards(reply))


def test_chinese_problem_gets_chinese_cards_then_refines_and_pages(chat: Chat) -> None:
    reply = chat("我们公司需要提高水稻产量的种植技术，最好是成熟技术")
    assert "我理解的是" in texts(reply) and len(cards(reply)) == 5
    refined = chat("只要江苏的")
    assert cards(refined) and all("江苏" in c["text"] for c in cards(refined))
    more = chat("更多")
    assert "第6-" in texts(more) or "已经全部展示" in texts(more)


def test_contact_opens_a_thread_both_parties_see(stack: Stack) -> None:
    enterprise = make_chat(stack, "enterprise-e2e")
    researcher = make_chat(stack, "researcher-e2e")
    posted = enterprise("post a demand: we need a graphene anticorrosion coating for offshore steel pipes")
    assert "Published your demand" in texts(posted)
    started = time.perf_counter()
    found = researcher("Our lab developed a graphene anticorrosion coating that protects offshore steel pipes")
    assert time.perf_counter() - started < 10
    ranks = [i + 1 for i, c in enumerate(cards(found)) if "anticorrosion" in c["text"]]
    assert ranks, texts(found)
    opened = researcher(f"contact number {ranks[0]}")
    assert "Negotiation thread #" in texts(opened)
    assert "anticorrosion" in texts(enterprise("my threads"))
    assert "anticorrosion" in texts(researcher("my threads"))


@pytest.mark.parametrize(("message", "expected"), [
    ("", "empty"), ("   ", "empty"), ("x" * 5000, "too long"), ("今天天气怎么样", "服务范围"),
    ("tell me a joke please", "outside what I can help with"),
])
def test_odd_input_gets_a_polite_reply(chat: Chat, message: str, expected: str) -> None:
    assert expected in texts(chat(message))


def test_malformed_requests_do_not_break_the_server(stack: Stack, chat: Chat) -> None:
    url = f"{stack.config.rasa_url}/webhooks/rest/webhook"
    for body in (b"not json", b"[1, 2]", b'{"sender": 5, "message": 7}'):
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=30).read()
        except urllib.error.HTTPError as error:
            assert error.code < 500
    assert "I understood" in texts(chat("We need a lithium battery cathode that works in winter"))


def test_action_server_down_is_announced(stack: Stack) -> None:
    stack.stop_process("actions")
    try:
        reply = post_json(f"{stack.config.rasa_url}/webhooks/rest/webhook",
                          {"sender": "outage-user", "message": "我们需要锂电池正极材料技术"})
        assert "暂时不可用" in texts(reply)
    finally:
        stack.start_actions()


def test_a_flooding_sender_is_asked_to_slow_down_and_others_are_not(stack: Stack) -> None:
    flooder = make_chat(stack, f"flood-{time.time_ns()}")
    with ThreadPoolExecutor(40) as pool:
        replies = list(pool.map(lambda i: " ".join(str(m.get("text") or "") for m in flooder(f"你好 {i}")), range(80)))
    slowed = [reply for reply in replies if "您发送消息的速度过快" in reply]
    assert 10 <= len(slowed) <= 50, replies
    assert "faster than I can answer" not in " ".join(replies)
    bystander = make_chat(stack, f"calm-{time.time_ns()}")
    assert "faster than I can answer" not in " ".join(str(m.get("text") or "") for m in bystander("hello"))
