"""The desk's chat commands in both languages, and how its notices are rendered on every channel."""

from __future__ import annotations

import json
from typing import Any

import pytest

from matchmaker.delivery import Delivery
from matchmaker.desk import ITEM_KINDS
from matchmaker.notices import Rendered, render_delivery, render_notice
from nlu.commands import Command, parse_command

# -- grammar --------------------------------------------------------------------------------

DESK_COMMANDS = [
    ("queue", Command("queue")),
    ("/queue", Command("queue")),
    ("my queue", Command("queue")),
    ("待办", Command("queue")),
    ("我的待办", Command("queue")),
    ("工作台", Command("queue")),
    ("take 4", Command("take", args={"item": "4"})),
    ("take #4", Command("take", args={"item": "4"})),
    ("claim item 17", Command("take", args={"item": "17"})),
    ("认领4", Command("take", args={"item": "4"})),
    ("认领事项 4", Command("take", args={"item": "4"})),
    ("assign 4 to Hubei Tech Transfer", Command("assign", args={"item": "4", "to": "Hubei Tech Transfer"})),
    ("assign item #4 to wuhan", Command("assign", args={"item": "4", "to": "wuhan"})),
    ("把4分配给湖北技术转移中心", Command("assign", args={"item": "4", "to": "湖北技术转移中心"})),
    ("把事项4转交给 张三", Command("assign", args={"item": "4", "to": "张三"})),
    ("done 4", Command("done", args={"item": "4"})),
    ("finish item 4", Command("done", args={"item": "4"})),
    ("完成4", Command("done", args={"item": "4"})),
    ("办结事项4", Command("done", args={"item": "4"})),
    ("approve 4", Command("approve", args={"item": "4"})),
    ("approve item 4", Command("approve", args={"item": "4"})),
    ("通过4", Command("approve", args={"item": "4"})),
    ("批准事项4", Command("approve", args={"item": "4"})),
    ("reject 4: too vague", Command("reject_listing", args={"item": "4", "reason": "too vague"})),
    ("reject 4 because no test data", Command("reject_listing", args={"item": "4", "reason": "no test data"})),
    ("reject item 4, duplicate", Command("reject_listing", args={"item": "4", "reason": "duplicate"})),
    ("reject 4", Command("reject_listing", args={"item": "4", "reason": ""})),
    ("驳回4 原因", Command("reject_listing", args={"item": "4", "reason": "原因"})),
    ("驳回事项4：重复发布", Command("reject_listing", args={"item": "4", "reason": "重复发布"})),
    ("recommend 12 to thread 3", Command("recommend", 3, {"listing": "12"})),
    ("recommend listing 12 to thread #3", Command("recommend", 3, {"listing": "12"})),
    ("推荐12给洽谈3", Command("recommend", 3, {"listing": "12"})),
    ("推荐 12 给 洽谈 3", Command("recommend", 3, {"listing": "12"})),
    ("talk to a person", Command("handoff")),
    ("Talk to a human.", Command("handoff")),
    ("转人工", Command("handoff")),
    ("人工客服！", Command("handoff")),
    ("notify me of new matches", Command("save_need")),
    ("please notify me about new achievements like this", Command("save_need")),
    ("save this search", Command("save_need")),
    ("有新成果通知我", Command("save_need")),
    ("有新的需求时请通知我", Command("save_need")),
    ("订阅", Command("save_need")),
    ("stop alerts", Command("stop_alerts")),
    ("stop alerts 3", Command("stop_alerts", args={"need": "3"})),
    ("unsubscribe #3", Command("stop_alerts", args={"need": "3"})),
    ("取消通知", Command("stop_alerts")),
    ("取消通知3", Command("stop_alerts", args={"need": "3"})),
    ("my alerts", Command("my_alerts")),
    ("我的订阅", Command("my_alerts")),
    ("find funding", Command("find_funding", args={"text": ""})),
    ("find funding for a battery pilot line", Command("find_funding", args={"text": "a battery pilot line"})),
    ("look for investors", Command("find_funding", args={"text": ""})),
    ("找资金", Command("find_funding", args={"text": ""})),
    ("找资金：锂电池中试线", Command("find_funding", args={"text": "锂电池中试线"})),
    ("find achievements at pilot stage", Command("stage_search", args={"stage": "pilot", "text": ""})),
    ("find achievements at the prototype stage in solid electrolytes",
     Command("stage_search", args={"stage": "prototype", "text": "solid electrolytes"})),
    ("Show achievements in industrial stage about kilns",
     Command("stage_search", args={"stage": "industrial", "text": "kilns"})),
    ("中试阶段的成果", Command("stage_search", args={"stage": "pilot", "text": ""})),
    ("找产业化阶段的项目：储能", Command("stage_search", args={"stage": "industrial", "text": "储能"})),
    ("查找实验室阶段的成果", Command("stage_search", args={"stage": "lab", "text": ""})),
]

EXISTING_COMMANDS = [
    ("accept 3", Command("accept", 3)),
    ("decline 3", Command("decline", 3)),
    ("reject the proposal", Command("reject_proposal")),
    ("reject proposal", Command("reject_proposal")),
    ("拒绝洽谈3", Command("decline", 3)),
    ("接受3", Command("accept", 3)),
    ("accept the proposal", Command("accept_proposal")),
    ("拒绝方案", Command("reject_proposal")),
    ("close thread 3", Command("close", 3)),
    ("open thread 3", Command("open", 3)),
    ("login K7QX-29PM", Command("login", args={"code": "K7QX29PM"})),
    ("评分5 合作愉快", Command("rate", args={"rating": "5", "comment": "合作愉快"})),
    ("propose licence 500000 yuan 12 months",
     Command("propose", args={"kind": "licence", "price": "500000", "days": "360"})),
]

NOT_COMMANDS = ["人工智能", "We need human resources software", "reject", "take", "done", "通过", "assign 4",
                "recommend 12", "take 4 and 5", "queue please", "find achievements at moon stage"]


@pytest.mark.parametrize(("text", "expected"), DESK_COMMANDS)
def test_desk_commands_parse_with_their_arguments(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(("text", "expected"), EXISTING_COMMANDS)
def test_thread_commands_parse_as_before(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", NOT_COMMANDS)
def test_near_misses_are_not_commands(text: str) -> None:
    assert parse_command(text) is None


# -- notices ----------------------------------------------------------------------------------

ITEM = {"item": 4, "kind": "review", "summary": "Perovskite coating for solar glass", "field": "new_energy",
        "region": "jiangsu", "subject": "12"}
KIND_WORDS = {"review": ("review", "待审核"), "new_listing": ("new listing", "新发布"),
              "unanswered": ("unanswered thread", "未回复洽谈"), "low_match": ("weak match", "匹配度低"),
              "handoff": ("asks for a person", "请求人工")}


def _command(payload: str) -> dict[str, Any]:
    """The entities of a ``/command{...}`` button payload."""
    assert payload.startswith("/command{")
    entities: dict[str, Any] = json.loads(payload[len("/command"):])
    return entities


def _as_command(payload: str) -> Command:
    """The command a button sends, read back the way the action server reads entities."""
    entities = _command(payload)
    thread = entities.pop("thread_id", None)
    name = entities.pop("command")
    return Command(name, int(thread) if thread else None,
                   {key[4:]: value for key, value in entities.items() if key.startswith("cmd_")})


def _one(rendered: list[Rendered]) -> Rendered:
    assert len(rendered) == 1
    return rendered[0]


def _delivery(kind: str, body: str, data: dict[str, Any], thread: int = 0, role: str = "system") -> Delivery:
    return Delivery(7, thread, 2, "user-1", "rest", kind, body, data, role, 0, 1_700_000_000.0)


@pytest.mark.parametrize(("language", "words", "take"), [
    ("en", ("New in the queue", "#4", "[review]", "“Perovskite coating for solar glass”"), "Take #4"),
    ("zh", ("新待办", "#4", "［待审核］", "“Perovskite coating for solar glass”"), "认领 #4"),
])
def test_a_queue_item_notice_has_a_take_button(language: str, words: tuple[str, ...], take: str) -> None:
    shown = _one(render_notice("queue_item", ITEM, language))
    for word in words:
        assert word in shown["text"]
    assert shown["buttons"] == [{"title": take, "payload": '/command{"command": "take", "cmd_item": "4"}'}]
    assert _as_command(shown["buttons"][0]["payload"]) == parse_command("take 4")
    assert _as_command(shown["buttons"][0]["payload"]) == parse_command("认领4")


@pytest.mark.parametrize("kind", ITEM_KINDS)
def test_every_item_kind_is_named_in_both_languages(kind: str) -> None:
    english, chinese = KIND_WORDS[kind]
    assert f"[{english}]" in _one(render_notice("queue_item", {**ITEM, "kind": kind}, "en"))["text"]
    assert f"［{chinese}］" in _one(render_notice("queue_item", {**ITEM, "kind": kind}, "zh"))["text"]


def test_a_long_summary_is_cut_in_the_notice() -> None:
    shown = _one(render_notice("queue_item", {**ITEM, "summary": "a" * 119 + "bc" + "d" * 50}, "en"))
    assert "“" + "a" * 119 + "b”" in shown["text"]
    assert "c" not in shown["text"].split("“")[1]


@pytest.mark.parametrize(("language", "words"), [
    ("en", ("#4", "[unanswered thread]", "assigned to you", "“Kiln heat exchanger”")),
    ("zh", ("事项#4", "［未回复洽谈］", "已分配给您", "“Kiln heat exchanger”")),
])
def test_an_assigned_notice_names_the_item_and_has_no_buttons(language: str, words: tuple[str, ...]) -> None:
    shown = _one(render_notice("assigned", {**ITEM, "kind": "unanswered", "summary": "Kiln heat exchanger"},
                               language))
    for word in words:
        assert word in shown["text"]
    assert shown["buttons"] == []


@pytest.mark.parametrize(("body", "data", "language", "words"), [
    ("handoff_taken", {"item": 4, "name": "Hubei Tech Transfer"}, "en", ("Hubei Tech Transfer", "with you now")),
    ("handoff_taken", {"item": 4, "name": "湖北技术转移中心"}, "zh", ("湖北技术转移中心", "已接入")),
    ("handoff_released", {"item": 4}, "en", ("back with the assistant",)),
    ("handoff_released", {"item": 4}, "zh", ("人工服务已结束", "智能助手")),
    ("handoff_message", {"item": 4, "text": "Can you call me?"}, "en", ("#4", "the person", "Can you call me?")),
    ("handoff_message", {"item": 4, "text": "请给我回电话"}, "zh", ("#4", "用户", "请给我回电话")),
    ("broker_message", {"item": 4, "text": "Hello, I am Li."}, "en", ("Platform broker", "Hello, I am Li.")),
    ("broker_message", {"item": 4, "text": "您好，我是李老师"}, "zh", ("平台经纪人", "您好，我是李老师")),
])
def test_handoff_notices_carry_their_facts(body: str, data: dict[str, Any], language: str,
                                           words: tuple[str, ...]) -> None:
    shown = _one(render_notice(body, data, language))
    assert shown["text"] != body
    for word in words:
        assert word in shown["text"]
    assert shown["buttons"] == []


REVIEW_OUTCOMES = [
    ("review_approved", {"listing_id": 12, "title": "Perovskite coating"}, "en", ("#12", "Perovskite coating",
                                                                                   "approved")),
    ("review_approved", {"listing_id": 12, "title": "钙钛矿涂层"}, "zh", ("#12", "钙钛矿涂层", "已通过审核")),
    ("review_rejected", {"listing_id": 12, "title": "Perovskite coating", "reason": "No test data"}, "en",
     ("#12", "Perovskite coating", "not approved", "No test data")),
    ("review_rejected", {"listing_id": 12, "title": "钙钛矿涂层", "reason": "缺少测试数据"}, "zh",
     ("#12", "钙钛矿涂层", "未通过审核", "缺少测试数据")),
]


@pytest.mark.parametrize(("body", "data", "language", "words"), REVIEW_OUTCOMES)
def test_review_outcomes_as_brokerage_sends_them_name_the_listing(body: str, data: dict[str, Any], language: str,
                                                                  words: tuple[str, ...]) -> None:
    shown = _one(render_notice(body, data, language))
    for word in words:
        assert word in shown["text"]
    assert shown["buttons"] == []


@pytest.mark.parametrize(("body", "data", "language", "words"), REVIEW_OUTCOMES)
def test_review_outcome_texts_carry_their_facts_when_given_the_template_keys(
        body: str, data: dict[str, Any], language: str, words: tuple[str, ...]) -> None:
    shown = _one(render_notice(body, {**data, "listing": data["listing_id"]}, language))
    for word in words:
        assert word in shown["text"]


@pytest.mark.parametrize("body", ["queue_item", "assigned", "handoff_taken", "handoff_message"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_notice_delivery_renders_as_the_notice(body: str, language: str) -> None:
    data = {**ITEM, "name": "Hubei Tech Transfer", "text": "Can you call me?"}
    assert render_delivery(_delivery("notice", body, data), language) == render_notice(body, data, language)


@pytest.mark.parametrize(("language", "text", "title"), [
    ("en", "📌 Thread #3 · the broker recommends #12 “Kiln heat exchanger”", "Open thread #3"),
    ("zh", "📌 洽谈#3 · 经纪人推荐 #12“Kiln heat exchanger”", "进入洽谈 #3"),
])
def test_a_recommendation_shows_the_listing_and_opens_the_thread(language: str, text: str, title: str) -> None:
    data = {"listing_id": 12, "title": "Kiln heat exchanger", "kind": "achievement", "note": ""}
    shown = _one(render_delivery(_delivery("recommendation", "Kiln heat exchanger", data, 3, "broker"), language))
    assert shown["text"] == text
    assert shown["buttons"] == [{"title": title, "payload": '/command{"command": "open", "thread_id": "3"}'}]
    assert _as_command(shown["buttons"][0]["payload"]) == parse_command("open thread 3")


def test_a_recommendation_note_follows_the_title() -> None:
    data = {"listing_id": 12, "title": "Kiln heat exchanger", "kind": "achievement", "note": "fits your kilns"}
    shown = _one(render_delivery(_delivery("recommendation", "Kiln heat exchanger", data, 3, "broker"), "en"))
    assert shown["text"].endswith("“Kiln heat exchanger” — fits your kilns")


@pytest.mark.parametrize(("language", "words"), [
    ("en", ("technology broker", "#3")),
    ("zh", ("技术经纪人", "洽谈#3")),
])
def test_broker_joined_says_who_joined_which_thread(language: str, words: tuple[str, ...]) -> None:
    shown = _one(render_delivery(_delivery("system", "broker_joined", {}, 3), language))
    for word in words:
        assert word in shown["text"]
    assert _command(shown["buttons"][0]["payload"]) == {"command": "open", "thread_id": "3"}
    assert len(shown["buttons"]) == 1


@pytest.mark.parametrize(("language", "text"), [
    ("en", "💬 Thread #3 · broker: I can help."),
    ("zh", "💬 洽谈#3 · 经纪人：I can help."),
])
def test_a_broker_message_in_a_thread_is_signed_broker(language: str, text: str) -> None:
    shown = _one(render_delivery(_delivery("text", "I can help.", {}, 3, "broker"), language))
    assert shown["text"] == text
