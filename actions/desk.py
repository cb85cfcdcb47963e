"""Intermediaries' commands (queue, take, assign, done, approve, reject, recommend) and asking for a person."""

from __future__ import annotations

from typing import Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.numbers import MAX_ID, decimal_number
from actions.relay import ACTIVE_THREAD_SLOT, acting_id, client_key, refusal
from actions.services import get_services
from matchmaker.brokerage import Outcome
from matchmaker.desk import DeskError, DeskItem
from matchmaker.messages import localised
from matchmaker.negotiation import NegotiationError, NoSuchThread
from matchmaker.notices import button, command_payload
from nlu.commands import Command

DESK_ITEM_SLOT = "desk_item"
MAX_QUEUE_SHOWN = 15

_SAY: Dict[str, Dict[str, str]] = {
    "queue_empty": {"en": "Your queue is empty.", "zh": "您的待办为空。"},
    "queue_header": {"en": "Your queue ({count}):", "zh": "您的待办（{count}项）："},
    "state_taken": {"en": "taken by you", "zh": "已认领"},
    "state_open": {"en": "open", "zh": "待处理"},
    "taken_handoff": {"en": "You have item #{item}: a person asked for help (“{summary}”). What you type now goes "
                            "to them; say 'done {item}' to hand them back to the assistant.",
                      "zh": "您已认领事项#{item}：有用户请求人工服务（“{summary}”）。现在输入的内容将发送给对方；"
                            "输入“完成{item}”交还给智能助手。"},
    "taken_thread": {"en": "You are now the broker of thread #{thread}; both parties were told. "
                           "Say 'open thread {thread}' to read and write in it.",
                     "zh": "您已成为洽谈#{thread}的经纪人，已通知双方。输入“进入洽谈{thread}”查看并参与。"},
    "taken_review": {"en": "Item #{item}: review listing #{listing} “{summary}”. Say 'approve {item}' or "
                           "'reject {item}: reason'.",
                     "zh": "事项#{item}：审核信息#{listing}“{summary}”。输入“通过{item}”或“驳回{item} 原因”。"},
    "taken_other": {"en": "You have item #{item} ({kind}): “{summary}”. Say 'done {item}' when it is dealt with.",
                    "zh": "您已认领事项#{item}（{kind}）：“{summary}”。处理完毕后输入“完成{item}”。"},
    "assigned": {"en": "Item #{item} is now with {name}; they were told.", "zh": "事项#{item}已转交给{name}，已通知对方。"},
    "done": {"en": "Item #{item} is done.", "zh": "事项#{item}已办结。"},
    "done_handoff": {"en": "Item #{item} is done: the person is back with the assistant and was told.",
                     "zh": "事项#{item}已办结：用户已交还给智能助手，并已通知对方。"},
    "approved": {"en": "Listing #{listing} is published and searchable now; its owner was told.",
                 "zh": "信息#{listing}已通过审核并可检索，已通知发布方。"},
    "rejected": {"en": "Listing #{listing} was rejected; its owner was told the reason.",
                 "zh": "信息#{listing}已驳回，已将原因告知发布方。"},
    "recommended": {"en": "Listing #{listing} was recommended in thread #{thread}.",
                    "zh": "已在洽谈#{thread}中推荐信息#{listing}。"},
    "handoff_asked": {"en": "I have asked a person from the platform to help you (request #{item}). You will be told "
                            "when they join; until then I am still here.",
                      "zh": "已为您转接平台人工服务（请求#{item}）。人工客服接入时会通知您，在此之前我仍可为您服务。"},
    "to_person_sent": {"en": "✓ Sent to the person of item #{item}.", "zh": "✓ 已发送给事项#{item}的用户。"},
    "not_intermediary": {"en": "Only the platform's technology brokers can use the desk commands.",
                         "zh": "只有平台的技术经纪人可以使用待办命令。"},
    "unknown_item": {"en": "There is no item #{item}. Say 'queue' to see yours.",
                     "zh": "没有事项#{item}。输入“待办”查看您的事项。"},
    "taken": {"en": "Item #{item} is already taken by {name}.", "zh": "事项#{item}已被{name}认领。"},
    "not_yours": {"en": "Item #{item} is not one you have taken. Take it first with 'take {item}'.",
                  "zh": "事项#{item}不是您认领的，请先输入“认领{item}”。"},
    "item_done": {"en": "Item #{item} is already done.", "zh": "事项#{item}已办结。"},
    "unknown_intermediary": {"en": "There is no technology broker called “{name}”.",
                             "zh": "没有名为“{name}”的技术经纪人。"},
    "bad_item": {"en": "That is not possible for item #{item}: {detail}", "zh": "事项#{item}无法这样处理：{detail}"},
    "no_listing": {"en": "There is no published listing #{listing}.", "zh": "没有已发布的信息#{listing}。"},
}
_KINDS: Dict[str, Dict[str, str]] = {
    "review": {"en": "review", "zh": "待审核"}, "new_listing": {"en": "new listing", "zh": "新发布"},
    "unanswered": {"en": "unanswered thread", "zh": "未回复洽谈"}, "low_match": {"en": "weak match", "zh": "匹配度低"},
    "handoff": {"en": "asks for a person", "zh": "请求人工"},
}


def say(key: str, language: str, **values: object) -> str:
    """A desk reply in ``language``."""
    return localised(_SAY[key], language).format(**values)


def kind_word(kind: str, language: str) -> str:
    """The name of an item kind."""
    return localised(_KINDS[kind], language) if kind in _KINDS else kind


def _item_number(command: Command) -> int:
    """The item a command names; 0 (no item has it) when it names none the desk could hold."""
    number = decimal_number(command.args.get("item", ""))
    return number if number is not None and number <= MAX_ID else 0


def show_queue(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
               language: str) -> List[EventType]:
    """List the intermediary's open and taken items, each with its next step as a button."""
    services = get_services()
    items = services.brokerage.desk.queue(acting_id(tracker))
    if not items:
        dispatcher.utter_message(text=say("queue_empty", language))
        return []
    dispatcher.utter_message(text=say("queue_header", language, count=len(items)))
    for item in items[:MAX_QUEUE_SHOWN]:
        dispatcher.utter_message(text=queue_line(item, language), buttons=[_next_button(item, language)])
    return []


def queue_line(item: DeskItem, language: str) -> str:
    """One item of a queue."""
    services = get_services()
    field = services.lexicon.field_name(item.field, language) if item.field else "-"
    region = services.lexicon.region_name(item.region, language) if item.region else "-"
    state = say("state_taken" if item.state == "taken" else "state_open", language)
    return f"#{item.id} [{kind_word(item.kind, language)}] {item.summary[:80]} · {field} · {region} · {state}"


def _next_button(item: DeskItem, language: str) -> Dict[str, str]:
    taken = item.state == "taken"
    title = ("完成" if taken else "认领") if language == "zh" else ("Done" if taken else "Take")
    return {"title": f"{title} #{item.id}", "payload": command_payload("done" if taken else "take", item=str(item.id))}


def take(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command, language: str) -> List[EventType]:
    """Take an item and say what to do with it."""
    outcome = get_services().brokerage.take(_item_number(command), acting_id(tracker))
    return started(dispatcher, outcome, language)


def started(dispatcher: CollectingDispatcher, outcome: Outcome, language: str) -> List[EventType]:
    """The reply to taking an item, by its kind; a handoff makes the intermediary's text go to the person."""
    item = outcome.item
    if item.kind == "handoff":
        dispatcher.utter_message(text=say("taken_handoff", language, item=item.id, summary=item.summary[:120]))
        return [SlotSet(DESK_ITEM_SLOT, str(item.id)), SlotSet(ACTIVE_THREAD_SLOT, None)]
    if item.kind == "unanswered" and outcome.thread is not None:
        thread = outcome.thread.id
        dispatcher.utter_message(text=say("taken_thread", language, thread=thread),
                                 buttons=[button("open_thread", language, "open", thread)])
        return []
    if item.kind == "review":
        dispatcher.utter_message(text=say("taken_review", language, item=item.id, listing=item.subject,
                                          summary=item.summary[:120]))
        return []
    dispatcher.utter_message(text=say("taken_other", language, item=item.id, kind=kind_word(item.kind, language),
                                      summary=item.summary[:120]))
    return []


def assign(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command, language: str) -> List[EventType]:
    """Give an item to another intermediary."""
    outcome = get_services().brokerage.assign(_item_number(command), acting_id(tracker), command.args.get("to", ""))
    name = get_services().brokerage.desk.display_name(outcome.item.taken_by)
    dispatcher.utter_message(text=say("assigned", language, item=outcome.item.id, name=name))
    return []


def done(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command, language: str) -> List[EventType]:
    """Finish an item; the intermediary leaves a handoff conversation they were in."""
    outcome = get_services().brokerage.done(_item_number(command), acting_id(tracker))
    key = "done_handoff" if outcome.item.kind == "handoff" else "done"
    dispatcher.utter_message(text=say(key, language, item=outcome.item.id))
    if str(tracker.get_slot(DESK_ITEM_SLOT) or "") == str(outcome.item.id):
        return [SlotSet(DESK_ITEM_SLOT, None)]
    return []


def approve(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command, language: str) -> List[EventType]:
    """Publish a reviewed listing."""
    outcome = get_services().brokerage.approve(_item_number(command), acting_id(tracker))
    dispatcher.utter_message(text=say("approved", language, listing=outcome.listing.id if outcome.listing else "?"))
    return []


def reject(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command, language: str) -> List[EventType]:
    """Reject a reviewed listing with a reason."""
    outcome = get_services().brokerage.reject(_item_number(command), acting_id(tracker), command.args.get("reason", ""))
    dispatcher.utter_message(text=say("rejected", language, listing=outcome.listing.id if outcome.listing else "?"))
    return []


def recommend(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
              language: str) -> List[EventType]:
    """The broker of a thread recommends a listing to its parties."""
    listing = decimal_number(command.args.get("listing", "")) or 0
    thread = command.thread or 0
    try:
        if listing > MAX_ID:
            raise NegotiationError("no_listing", f"no published listing {listing}")
        if thread > MAX_ID:
            raise NoSuchThread()
        get_services().brokerage.recommend(thread, acting_id(tracker), listing)
    except NegotiationError as error:
        text = say("no_listing", language, listing=listing) if error.code == "no_listing" else \
            refusal(error, language, thread)
        dispatcher.utter_message(text=text)
        return []
    dispatcher.utter_message(text=say("recommended", language, listing=listing, thread=thread))
    return []


def ask_for_person(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
                   language: str) -> List[EventType]:
    """Put the user on the desk for a person; the user keeps the assistant until someone takes it."""
    services = get_services()
    pid = acting_id(tracker)
    participant = services.threads.accounts.participant(pid)
    search = tracker.get_slot("search")
    query = str(search.get("query", "")) if isinstance(search, dict) else ""
    field = participant.field if participant else (str(search.get("field") or "") if isinstance(search, dict) else "")
    region = participant.region if participant else ""
    item = services.brokerage.request_person(pid, field, region, language, query or command.args.get("text", "")
                                             or ("请求人工服务" if language == "zh" else "asks for a person"))
    dispatcher.utter_message(text=say("handoff_asked", language, item=item.id))
    return []


def desk_refusal(error: DeskError, language: str, item_id: int, name: str = "") -> str:
    """A polite reply for a refused desk command."""
    if error.code == "taken" and error.item is not None:
        name = get_services().brokerage.desk.display_name(error.item.taken_by)
    key = {"done": "item_done"}.get(error.code, error.code)
    if key not in _SAY:
        key = "bad_item"
    return say(key, language, item=item_id, name=name, detail=str(error))


def handed_over(tracker: Tracker) -> Optional[DeskItem]:
    """The handoff an intermediary has taken for this user, while it lasts."""
    return get_services().brokerage.handoff_of(acting_id(tracker))


def pass_to_intermediary(tracker: Tracker, item: DeskItem, text: str) -> None:
    """What a handed-over user typed goes to the intermediary; the assistant says nothing."""
    get_services().brokerage.to_intermediary(item, text, client_key(tracker))


def pass_to_person(dispatcher: CollectingDispatcher, tracker: Tracker, item_id: int, text: str,
                   language: str) -> List[EventType]:
    """The intermediary's text in a handoff they have goes to the person."""
    try:
        get_services().brokerage.to_person(item_id, acting_id(tracker), text, client_key(tracker))
    except DeskError as error:
        dispatcher.utter_message(text=desk_refusal(error, language, item_id))
        return [SlotSet(DESK_ITEM_SLOT, None)]
    dispatcher.utter_message(text=say("to_person_sent", language, item=item_id))
    return []


DESK_HANDLERS = {"queue": show_queue, "take": take, "assign": assign, "done": done, "approve": approve,
                 "reject_listing": reject, "recommend": recommend, "handoff": ask_for_person}
